"""Switching from ``rest_framework.authtoken``: imported keys keep working."""

import io
import json
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from redistoken import connection, store, tokens
from redistoken.settings import token_settings

pytestmark = [pytest.mark.django_db]

User = get_user_model()
COUNT = 3000


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "tests.urls"


@pytest.fixture
def accept_drf(settings, backend):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "ACCEPT_DRF_TOKENS": True}
    return backend


def make_drf_tokens(count):
    """``count`` users, each with a DRF token, as a project being migrated has them."""
    User.objects.bulk_create([User(username=f"user{n}", password="!") for n in range(count)])
    users = list(User.objects.order_by("pk"))
    Token.objects.bulk_create([Token(key=Token.generate_key(), user=user) for user in users])
    return {token.user_id: token.key for token in Token.objects.all()}


@pytest.fixture
def drf_tokens():
    return make_drf_tokens(5)


def import_tokens(*extra):
    out, err = io.StringIO(), io.StringIO()
    call_command("redistoken", "import-drf-tokens", "--json", *extra, stdout=out, stderr=err)
    return json.loads(out.getvalue()), err.getvalue()


def whoami(key, path="/whoami/"):
    return APIClient(HTTP_AUTHORIZATION=f"Token {key}").get(path)


def test_thousands_of_drf_tokens_import_and_keep_working(accept_drf):
    drf_tokens = make_drf_tokens(COUNT)
    result, progress = import_tokens("--batch-size", "700")
    assert result == {"tokens": COUNT, "imported": COUNT, "already_imported": 0}
    assert progress.splitlines()[-1] == f"importing [{'#' * 30}] {COUNT}/{COUNT}"
    user_ids = sorted(drf_tokens)
    for user_id in (user_ids[0], user_ids[COUNT // 2], user_ids[-1]):
        response = whoami(drf_tokens[user_id])
        assert response.status_code == 200 and response.json() == {"pk": user_id}
        [session] = store.list_sessions(user_id)
        assert session.expires_in > token_settings.IDLE_TIMEOUT - 60  # sliding, like any session
    stats = store.stats()
    assert (stats.sessions, stats.users, stats.drf_aliases) == (COUNT, COUNT, COUNT)
    again, _ = import_tokens()
    assert again == {"tokens": COUNT, "imported": 0, "already_imported": COUNT}
    assert store.stats().sessions == COUNT


def test_the_key_itself_never_reaches_redis(accept_drf, drf_tokens):
    import_tokens()
    client = connection.get_client()
    stored = b""
    for name in client.scan_iter(match=f"{token_settings.KEY_PREFIX}*"):
        if client.type(name) == b"string":
            stored += name + client.get(name)
        else:
            stored += name + b"".join(part for item in client.hgetall(name).items() for part in item)
    assert stored.count(b"drf:") >= len(drf_tokens)  # the aliases were read
    assert not any(key.encode() in stored for key in drf_tokens.values())


def test_an_imported_key_can_be_revoked_and_a_reimport_does_not_bring_it_back(accept_drf, drf_tokens):
    first, second, third = list(drf_tokens.values())[:3]
    import_tokens()
    assert APIClient(HTTP_AUTHORIZATION=f"Token {first}").post("/auth/logout/").status_code == 204
    assert APIClient().post("/auth/revoke/", {"token": second}, format="json").status_code == 200
    assert [whoami(first).status_code, whoami(second).status_code, whoami(third).status_code] == [401, 401, 200]
    import_tokens()
    assert [whoami(first).status_code, whoami(second).status_code] == [401, 401]


def test_account_events_end_imported_sessions_too(accept_drf, drf_tokens):
    user_id, key = next(iter(drf_tokens.items()))
    import_tokens()
    user = User.objects.get(pk=user_id)
    user.set_password("new")
    user.save()
    assert whoami(key).status_code == 401


def test_transition_order_redistoken_first_then_drf(accept_drf, drf_tokens):
    """Keys created by DRF after the import still pass through DRF's class;
    imported ones are ours, so a revocation holds even though DRF knows the key."""
    imported_user, imported_key = next(iter(drf_tokens.items()))
    import_tokens()
    late_user = User.objects.create_user("late", password="pw")
    late_key = Token.objects.create(user=late_user).key
    assert whoami(late_key, "/transition/whoami/").json() == {"pk": late_user.pk}
    assert whoami(imported_key, "/transition/whoami/").json() == {"pk": imported_user}
    store.revoke_all(imported_user, reason=store.Reason.ADMIN)
    assert whoami(imported_key, "/transition/whoami/").status_code == 401


def test_imported_key_costs_two_round_trips(accept_drf, drf_tokens, counting_client):
    key = next(iter(drf_tokens.values()))
    import_tokens()
    assert whoami(key).status_code == 200
    counting_client.calls.clear()
    assert whoami(key).status_code == 200
    assert counting_client.calls == ["pipeline", "evalsha"]  # the alias under each key, one round trip


def test_drf_keys_are_foreign_unless_accepted(backend, drf_tokens, counting_client):
    key = next(iter(drf_tokens.values()))
    import_tokens()
    counting_client.calls.clear()
    assert whoami(key).status_code == 401  # ACCEPT_DRF_TOKENS is off: our class returns None
    assert whoami(key.upper()).status_code == 401
    assert counting_client.calls == []


def test_never_imported_and_lookalike_keys_are_left_to_other_classes(accept_drf, rf):
    from rest_framework.request import Request

    from redistoken.authentication import RedisTokenAuthentication

    for raw in ("a" * 40, "9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "G" * 40, "a" * 39):
        request = Request(rf.get("/", HTTP_AUTHORIZATION=f"Token {raw}"))
        assert RedisTokenAuthentication().authenticate(request) is None
    assert tokens.derived_session_id("a" * 40) == tokens.derived_session_id("a" * 40)
    assert tokens.SESSION_ID_RE.fullmatch(tokens.derived_session_id("b" * 40))


def test_a_check_warns_when_drfs_class_comes_first(settings):
    from redistoken.checks import check_authentication_order

    ours = "redistoken.authentication.RedisTokenAuthentication"
    drf = "rest_framework.authentication.TokenAuthentication"
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [drf, ours]}
    assert [message.id for message in check_authentication_order()] == ["redistoken.W002"]
    settings.REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": [ours, drf]}
    assert check_authentication_order() == []


@pytest.fixture
def short_lived(settings, accept_drf):
    """Sessions (and so the DRF aliases) that expire within a second."""
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 1, "ABSOLUTE_LIFETIME": 1, "RENEW_INTERVAL": 0}
    return accept_drf


def alias_exists(key):
    return bool(connection.get_client().exists(store.drf_alias_key(tokens.legacy_verifier(key))))


@pytest.mark.parametrize("logout", ["/auth/logout/", "/auth/logout-all/"])
def test_a_logged_out_imported_key_stays_dead_after_its_alias_expires(short_lived, drf_tokens, logout):
    """DRF's class after ours (the documented transition) never gets the key back."""
    user_id, key = next(iter(drf_tokens.items()))
    other_user, other_key = list(drf_tokens.items())[1]
    import_tokens()
    assert whoami(key, "/transition/whoami/").json() == {"pk": user_id}
    assert APIClient(HTTP_AUTHORIZATION=f"Token {key}").post(logout).status_code == 204
    assert whoami(key, "/transition/whoami/").status_code == 401
    assert not Token.objects.filter(key=key).exists()
    time.sleep(1.2)
    assert not alias_exists(key) and not alias_exists(other_key)  # both aliases expired
    assert whoami(key, "/transition/whoami/").status_code == 401
    assert whoami(other_key, "/transition/whoami/").json() == {"pk": other_user}  # DRF's own row, untouched


def test_revoking_a_users_own_sessions_leaves_their_drf_row_alone(accept_drf, drf_tokens):
    """Only the row the revoked session was imported from is deleted."""
    user_id, key = next(iter(drf_tokens.items()))
    import_tokens()
    fresh = store.issue_token(user_id).token
    assert APIClient(HTTP_AUTHORIZATION=f"Token {fresh}").post("/auth/logout/").status_code == 204
    assert Token.objects.filter(key=key).exists()
    assert whoami(key, "/transition/whoami/").json() == {"pk": user_id}
    store.revoke_all(user_id, reason=store.Reason.ADMIN)
    assert not Token.objects.filter(key=key).exists()


def test_every_revocation_path_deletes_the_imported_row(accept_drf, drf_tokens):
    """RFC 7009 revoke, staff revoke-all, a password change: the row goes each time."""
    (first, first_key), (second, second_key), (third, third_key) = list(drf_tokens.items())[:3]
    import_tokens()
    assert APIClient().post("/auth/revoke/", {"token": first_key}, format="json").status_code == 200
    store.revoke_all_for_users([second], reason=store.Reason.ADMIN)
    user = User.objects.get(pk=third)
    user.set_password("new")
    user.save()
    assert not Token.objects.filter(key__in=[first_key, second_key, third_key]).exists()
    assert Token.objects.count() == len(drf_tokens) - 3
    for key in (first_key, second_key, third_key):
        assert whoami(key, "/transition/whoami/").status_code == 401
