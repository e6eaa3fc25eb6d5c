"""Account events end sessions at once: the next request is a 401.

Requests go to ``/whoami/``, which reads only ``request.user.pk``: a pass
there proves the session itself was revoked (not that the lazy user check
happened to refuse an inactive user).
"""

import logging

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.hashers import make_password
from django.core.management import call_command
from django.db import transaction
from rest_framework.test import APIClient

from redistoken import store

from .servers import free_port

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "tests.urls"


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice", password="correct horse")


def login(username="alice", password="correct horse", device=""):
    response = APIClient().post("/auth/login/", {"username": username, "password": password, "device": device})
    assert response.status_code == 200, response.content
    return response.json()


def status(token):
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/whoami/").status_code


def fresh(user):
    return get_user_model().objects.get(pk=user.pk)


def test_set_password_and_save_ends_every_session(user, revocations):
    first, second = login(device="phone"), login(device="laptop")
    bob = get_user_model().objects.create_user("bob", password="pw")
    bobs = login("bob", "pw")
    user.set_password("new password")
    user.save()
    assert [status(first["token"]), status(second["token"])] == [401, 401]
    assert status(bobs["token"]) == 200 and bob.pk != user.pk
    reasons = {(sid, reason) for _uid, sid, reason in revocations}
    assert reasons == {(first["session"]["id"], "password-change"), (second["session"]["id"], "password-change")}
    assert status(login(password="new password")["token"]) == 200


def test_password_reset_form_ends_every_session(user):
    token = login()["token"]
    form = SetPasswordForm(fresh(user), {"new_password1": "reset-pw-41x", "new_password2": "reset-pw-41x"})
    assert form.is_valid(), form.errors
    form.save()
    assert status(token) == 401


def test_changepassword_command_ends_every_session(user, monkeypatch):
    token = login()["token"]
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "command-pw-93z")
    call_command("changepassword", "alice", stdout=open("/dev/null", "w"))
    assert status(token) == 401


def test_assigning_a_new_hash_counts_and_an_unusable_password_too(user):
    token = login()["token"]
    other = fresh(user)
    other.password = make_password("assigned directly")
    other.save()
    assert status(token) == 401
    token = login(password="assigned directly")["token"]
    other = fresh(user)
    other.set_unusable_password()
    other.save()
    assert status(token) == 401


@pytest.mark.parametrize("loading", ["lazy", "eager"])
def test_password_change_through_the_api_keeps_the_calling_session(user, settings, loading):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "USER_LOADING": loading}
    caller, other = login(device="phone"), login(device="tablet")
    api = APIClient(HTTP_AUTHORIZATION=f"Token {caller['token']}")
    assert api.post("/change-password/", {"password": "via the api"}).status_code == 204
    assert status(caller["token"]) == 200
    assert status(other["token"]) == 401
    assert [s.id for s in store.list_sessions(user)] == [caller["session"]["id"]]


def test_saves_that_change_neither_password_nor_activity_end_nothing(user):
    token = login()["token"]
    loaded = fresh(user)
    loaded.first_name = "Alice"
    loaded.save()
    loaded.save(update_fields=["last_login"])
    loaded.is_active = True
    loaded.save()
    assert status(token) == 200


def test_a_password_hash_upgrade_on_login_ends_nothing(user, settings):
    token = login()["token"]  # the hash is MD5 (tests.settings)
    settings.PASSWORD_HASHERS = [
        "tests.hashers.FastPBKDF2PasswordHasher",
        "django.contrib.auth.hashers.MD5PasswordHasher",
    ]
    second = login()["token"]  # check_password() rehashes with PBKDF2 and saves
    assert fresh(user).password.startswith("pbkdf2_sha256$1000$")
    assert [status(token), status(second)] == [200, 200]


def test_deactivation_ends_every_session(user, revocations, caplog):
    tokens_ = [login(device=name)["token"] for name in ("a", "b")]
    caplog.set_level(logging.INFO, logger="redistoken")
    loaded = fresh(user)
    loaded.is_active = False
    loaded.save(update_fields=["is_active"])
    assert [status(t) for t in tokens_] == [401, 401]
    assert {reason for *_, reason in revocations} == {"deactivated"}
    assert caplog.text.count("reason=deactivated") == 2
    assert all(t not in caplog.text for t in tokens_)


def test_deletion_ends_every_session_also_through_a_queryset(user, revocations):
    token = login()["token"]
    user.delete()
    assert status(token) == 401
    bob = get_user_model().objects.create_user("bob", password="pw")
    bobs = login("bob", "pw")["token"]
    get_user_model().objects.filter(pk=bob.pk).delete()
    assert status(bobs) == 401
    assert {reason for *_, reason in revocations} == {"deleted"}


def test_queryset_update_bypasses_signals_and_the_helper_covers_it(user):
    token = login()["token"]
    users = get_user_model().objects.filter(username="alice")
    users.update(is_active=False)
    assert status(token) == 200  # documented: update() sends no signal
    assert store.revoke_all_for_users(users.values_list("pk", flat=True), reason=store.Reason.DEACTIVATED) == 1
    assert status(token) == 401


def test_an_unreachable_redis_fails_the_change_instead_of_leaving_sessions(user, settings):
    settings.REDISTOKEN = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "SOCKET_TIMEOUT": 0.2}
    loaded = fresh(user)
    loaded.set_password("never saved")
    with pytest.raises(store.StoreUnavailable):
        with transaction.atomic():
            loaded.save()
    assert fresh(user).check_password("correct horse")


def test_a_login_racing_an_uncommitted_password_change_loses_at_commit(user, django_capture_on_commit_callbacks):
    early = login()["token"]
    with django_capture_on_commit_callbacks(execute=True):
        with transaction.atomic():
            loaded = fresh(user)
            loaded.set_password("changed in a transaction")
            loaded.save()
            assert status(early) == 401  # at once, before the commit
            racing = store.issue_token(user)  # a login that checked the old password meanwhile
    assert racing.session.id and store.list_sessions(user) == []


def _deactivate(loaded, **save):
    loaded.is_active = False
    loaded.save(**save)


@pytest.mark.parametrize(
    "change",
    [
        "only",
        "defer_password",
        "refresh_after_reactivation",
        "is_active_zero",
        "is_active_none",
        "update_fields_outdated_hash",
    ],
)
def test_every_save_path_is_detected(user, settings, change):
    token = login()["token"]
    model = get_user_model()
    if change == "only":
        _deactivate(model.objects.only("id", "username").get(pk=user.pk))
    elif change == "defer_password":
        loaded = model.objects.defer("password").get(pk=user.pk)
        loaded.password = make_password("deferred change")
        loaded.save()
    elif change == "refresh_after_reactivation":
        loaded = fresh(user)
        model.objects.filter(pk=user.pk).update(is_active=False)
        stale = fresh(user)  # loaded inactive
        model.objects.filter(pk=user.pk).update(is_active=True)  # reactivated elsewhere
        token = login()["token"]
        stale.refresh_from_db()
        _deactivate(stale)
        assert loaded.pk == stale.pk
    elif change in ("is_active_zero", "is_active_none"):
        loaded = fresh(user)
        loaded.is_active = 0 if change == "is_active_zero" else None
        if change == "is_active_none":
            loaded.save(update_fields=["last_login"])  # not written: nothing happens
            assert status(token) == 200
            loaded.is_active = 0
        loaded.save(update_fields=["is_active"])
    else:  # the old hash uses outdated parameters; the new one is a different password
        settings.PASSWORD_HASHERS = [
            "tests.hashers.FastPBKDF2PasswordHasher",
            "django.contrib.auth.hashers.MD5PasswordHasher",
        ]
        loaded = fresh(user)
        assert loaded.password.startswith("md5$")
        loaded.password = make_password("a new password")
        loaded.save(update_fields=["password"])
    assert status(token) == 401


def test_an_unchanged_password_resaved_with_update_fields_ends_nothing(user):
    token = login()["token"]
    loaded = fresh(user)
    loaded.save(update_fields=["password", "is_active"])
    assert status(token) == 200


def test_a_rehash_of_another_password_under_check_password_is_a_change(user, settings):
    """The raw password noted during check_password() must verify both hashes."""
    token = login()["token"]
    loaded = fresh(user)

    def setter(raw):
        loaded.set_password("something else")
        loaded._password = None
        loaded.save(update_fields=["password"])

    from django.contrib.auth.hashers import check_password

    loaded.__dict__["_redistoken_verifying"] = "correct horse"
    assert check_password("correct horse", loaded.password, setter)  # MD5 is current: no setter call
    setter("correct horse")
    assert status(token) == 401


@pytest.mark.django_db(transaction=True)  # real autocommit: no test transaction around it
@pytest.mark.parametrize("atomic", [False, True])
@pytest.mark.parametrize("event", ["password", "deactivation"])
def test_an_unreachable_redis_aborts_the_save_in_autocommit_and_atomic(user, settings, atomic, event):
    good = settings.REDISTOKEN
    token = login()["token"]
    settings.REDISTOKEN = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "SOCKET_TIMEOUT": 0.2}
    loaded = fresh(user)
    if event == "password":
        loaded.set_password("never saved")
    else:
        loaded.is_active = False
    with pytest.raises(store.StoreUnavailable):
        if atomic:
            with transaction.atomic():
                loaded.save()
        else:
            loaded.save()
    row = fresh(user)
    assert row.check_password("correct horse") and row.is_active
    settings.REDISTOKEN = good
    if good.get("REDIS_URL"):  # the embedded fakeredis does not outlive a settings change
        assert status(token) == 200  # nothing changed, nothing ended


@pytest.mark.django_db(transaction=True)  # real autocommit: no test transaction around it
def test_a_login_racing_a_change_in_autocommit_loses_after_the_write(user, monkeypatch):
    racing = []
    original = store.revoke_all

    def revoke_then_race(*args, **kwargs):
        ended = original(*args, **kwargs)
        if not racing:  # between the pre-write revocation and the write
            racing.append(store.issue_token(user).token)
        return ended

    monkeypatch.setattr(store, "revoke_all", revoke_then_race)
    loaded = fresh(user)
    loaded.is_active = False
    loaded.save()
    assert racing and status(racing[0]) == 401



@pytest.mark.parametrize("loading", ["lazy", "eager"])
@pytest.mark.parametrize("change", ["update_password", "update_inactive", "raw_sql"])
def test_the_credential_fingerprint_catches_changes_that_send_no_signal(user, settings, loading, change):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "USER_LOADING": loading}
    token = login()["token"]
    users = get_user_model().objects.filter(pk=user.pk)
    if change == "update_password":
        users.update(password=make_password("bulk"))
    elif change == "update_inactive":
        users.update(is_active=False)
    else:
        from django.db import connection

        table = get_user_model()._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET password = %s WHERE id = %s", [make_password("raw"), user.pk])
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    if loading == "lazy":
        assert status(token) == 200  # a pk-only request costs no query and sees nothing
        assert api.post("/change-password/", {"password": "x"}).status_code == 401  # loads the user
    else:
        assert status(token) == 401
    assert store.list_sessions(user) == []  # the session itself was revoked
    assert status(token) == 401


def test_a_session_without_credential_is_not_revoked_for_it(user, settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "USER_LOADING": "eager"}
    old = store.issue_token(user).token  # issued before fingerprints existed
    get_user_model().objects.filter(pk=user.pk).update(password=make_password("bulk"))
    assert status(old) == 200


def test_the_fingerprint_honours_secret_key_fallbacks(user, settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "USER_LOADING": "eager"}
    token = login()["token"]
    assert len(store.list_sessions(user)[0].credential) == 8
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-rotated-secret-key-" + "x" * 40
    assert status(token) == 200
    settings.SECRET_KEY_FALLBACKS = []
    assert status(token) == 401
