"""``manage.py redistoken reconcile``: the remedy for account changes that
send no signal (``QuerySet.update()``, raw SQL), on fakeredis, a real Redis
and a Redis Cluster.

Requests go to ``/whoami/``, which reads only ``request.user.pk``: before
reconcile such a request passes (it never loads the user), after it the
session itself is gone.
"""

import io
import json
import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from redistoken import store
from redistoken.settings import token_settings
from redistoken.store import bulk
from redistoken.store.records import glob_escape, user_key_glob

from . import layouts

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]

User = get_user_model()


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "tests.urls"


def login(username, password="pw"):
    """A session as the login endpoint issues it (with a credential fingerprint)."""
    response = APIClient().post("/auth/login/", {"username": username, "password": password})
    assert response.status_code == 200, response.content
    return response.json()


def status(token):
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/whoami/").status_code


def reconcile(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("redistoken", "reconcile", "--json", *args, stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def change(kind, user):
    users = User.objects.filter(pk=user.pk)
    if kind == "update_inactive":
        users.update(is_active=False)
    elif kind == "update_password":
        users.update(password=make_password("bulk"))
    else:
        with db.cursor() as cursor:
            cursor.execute(f"DELETE FROM {User._meta.db_table} WHERE id = %s", [user.pk])


REASON = {"update_inactive": "deactivated", "update_password": "credential-changed", "raw_delete": "deleted"}


@pytest.mark.parametrize("kind", sorted(REASON))
def test_reconcile_ends_the_sessions_of_accounts_changed_without_a_signal(kind, revocations):
    alice, bob = User.objects.create_user("alice", password="pw"), User.objects.create_user("bob", password="pw")
    alices, bobs = [login("alice"), login("alice")], login("bob")
    change(kind, alice)
    assert status(alices[0]["token"]) == 200  # a pk-only request loads no user and sees nothing

    data, _ = reconcile()

    assert data["revoked"] == 2 and data["by_reason"][REASON[kind]] == 2
    assert sum(data["by_reason"].values()) == 2 and data["sessions"] == 3 and data["users"] == 2
    assert [status(s["token"]) for s in alices] == [401, 401]
    assert status(bobs["token"]) == 200 and len(store.list_sessions(bob)) == 1
    assert sorted(revocations) == sorted((str(alice.pk), s["session"]["id"], REASON[kind]) for s in alices)
    again, _ = reconcile()
    assert again["revoked"] == 0 and again["sessions"] == 1  # nothing left to end


def test_dry_run_counts_and_revokes_nothing(revocations):
    users = [User.objects.create_user(name, password="pw") for name in ("alice", "bob", "carol")]
    tokens = [login(user.username)["token"] for user in users]
    change("update_inactive", users[0])
    change("update_password", users[1])

    data, _ = reconcile("--dry-run")

    assert data == {
        "dry_run": True,
        "keys_scanned": data["keys_scanned"],
        "sessions": 3,
        "users": 3,
        "revoked": 2,
        "by_reason": {"deleted": 0, "deactivated": 1, "credential-changed": 1},
    }
    assert data["keys_scanned"] >= 3
    assert [status(token) for token in tokens] == [200, 200, 200] and revocations == []
    done, _ = reconcile()
    assert done["dry_run"] is False and done["by_reason"] == data["by_reason"]
    assert [status(token) for token in tokens] == [401, 401, 200]


def test_human_output_and_the_progress_bar():
    User.objects.create_user("alice", password="pw")
    login("alice")
    out, err = io.StringIO(), io.StringIO()
    call_command("redistoken", "reconcile", stdout=out, stderr=err)
    assert out.getvalue().strip() == (
        "Revoked 0 of 1 live session(s) of 1 user(s): deleted 0, deactivated 0, credential-changed 0."
    )
    assert "reconciling [" in err.getvalue()
    _, quiet = reconcile("--no-progress", "--dry-run")
    assert quiet == ""


def test_sessions_without_a_fingerprint_end_only_with_their_account():
    """A session of the earlier layout (or issued by ``store.issue_token``
    without a credential) cannot go stale on a password, only on its account."""
    alice, bob = User.objects.create_user("alice", password="pw"), User.objects.create_user("bob", password="pw")
    old_alice, old_bob = layouts.issue_legacy(alice.pk), store.issue_token(bob).token
    change("update_password", bob)
    change("update_inactive", alice)

    data, _ = reconcile()

    assert data["by_reason"] == {"deleted": 0, "deactivated": 1, "credential-changed": 0}
    assert status(old_alice) == 401 and status(old_bob) == 200


def test_users_are_loaded_in_batched_queries():
    users = [User.objects.create_user(f"user{n}", password="pw") for n in range(12)]
    for user in users:
        store.issue_token(user)
    User.objects.filter(pk__in=[user.pk for user in users[:4]]).update(is_active=False)
    with CaptureQueriesContext(db) as queries:
        data, _ = reconcile("--batch-size", "5")
    assert data["by_reason"]["deactivated"] == 4 and data["sessions"] == 12
    lists = [re.search(r" IN \(([^)]*)\)", q["sql"]) for q in queries.captured_queries]
    looked_up = [match.group(1).split(", ") for match in lists if match]
    assert all(1 <= len(ids) <= 5 for ids in looked_up)  # never more than --batch-size ids a query
    assert sorted(int(i) for ids in looked_up for i in ids) == sorted(user.pk for user in users)  # each user once


def test_revoke_listed_ends_exactly_the_scanned_sessions():
    alice = User.objects.create_user("alice", password="pw")
    scanned, renewed = login("alice"), login("alice")
    listed = [session for batch in store.scan_sessions(batch_size=50) for session in batch]
    assert {session.session_id for session in listed} == {scanned["session"]["id"], renewed["session"]["id"]}
    later = store.issue_token(alice)  # issued after the scan
    assert store.set_credential(alice, renewed["session"]["id"], "newcred")  # its credential renewed since

    ended = store.revoke_listed(listed, reason=store.Reason.DEACTIVATED)

    assert ended == [scanned["session"]["id"]]
    assert status(scanned["token"]) == 401
    assert status(renewed["token"]) == 200 and status(later.token) == 200
    assert store.revoke_listed(listed, reason=store.Reason.DEACTIVATED) == []  # gone already: a no-op


def test_the_scan_reads_user_hashes_only():
    """The login throttle's ``P{throttle}:...`` counters match ``P{*}``: the
    roster must never be run on them (nor on DRF aliases)."""
    User.objects.create_user("alice", password="pw")
    login("alice")
    refused = APIClient().post("/auth/login/", {"username": "alice", "password": "wrong"})
    assert refused.status_code == 400
    everything = [key for _client, keys in bulk._scan(glob_escape(token_settings.KEY_PREFIX) + "*", 100)
                  for key in keys]  # fmt: skip
    hashes = [key for _client, keys in bulk._scan(user_key_glob(), 100) for key in keys]
    assert any("{throttle}" in key for key in everything)
    assert len(hashes) == 1 and "{throttle}" not in hashes[0]
    data, _ = reconcile()
    assert data["sessions"] == 1 and data["revoked"] == 0
