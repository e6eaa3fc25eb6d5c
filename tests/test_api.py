"""The HTTP API and the authentication class, through Django's test client."""

import threading

import pytest
from django.contrib.auth import get_user_model
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from redistoken import connection, store, tokens
from redistoken.settings import token_settings

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice", password="correct horse")


@pytest.fixture
def client():
    return APIClient(HTTP_USER_AGENT="TestApp/1.0")


def login(client, username="alice", password="correct horse", **extra):
    return client.post("/auth/login/", {"username": username, "password": password, **extra}, format="json")


def authed(token):
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}")


def test_login_returns_a_token_response(client, user):
    response = login(client, device="Pixel 8")
    assert response.status_code == 200
    body = response.json()
    assert body["token"].startswith("rtk_2")
    assert body["token_type"] == "Token"
    assert body["expires_in"] == int(token_settings.IDLE_TIMEOUT)
    assert body["session"]["device"] == "Pixel 8"
    assert body["session"]["device_label"] == "TestApp 1.0"
    assert body["session"]["user_agent"] == ""  # kept only with STORE_USER_AGENT
    assert body["session"]["current"] is True
    assert "no-store" in response["Cache-Control"]
    assert response["Pragma"] == "no-cache"


@pytest.mark.parametrize(
    "username,password,active",
    [("alice", "wrong", True), ("nobody", "correct horse", True), ("alice", "correct horse", False)],
)
def test_login_errors_are_identical(client, user, username, password, active):
    user.is_active = active
    user.save()
    response = login(client, username, password)
    assert response.status_code == 400
    message = "Unable to log in with the provided credentials."
    assert response.json() == {"non_field_errors": [message], "error": "invalid_grant", "error_description": message}
    assert "no-store" in response["Cache-Control"]


def test_me_with_token_and_without(client, user):
    token = login(client).json()["token"]
    response = authed(token).get("/api/me/")
    assert response.status_code == 200
    assert response.json() == {"id": user.pk, "username": "alice"}
    anonymous = APIClient().get("/api/me/")
    assert anonymous.status_code == 401
    assert anonymous["WWW-Authenticate"] == 'Token realm="api"'


def test_pk_only_request_costs_no_database_query(client, user, settings):
    token = login(client).json()["token"]
    api = authed(token)
    settings.ROOT_URLCONF = "tests.urls"
    with CaptureQueriesContext(db_connection) as queries:
        response = api.get("/whoami/")
    assert response.status_code == 200
    assert response.json() == {"pk": user.pk}
    assert len(queries) == 0


def test_other_attributes_load_the_user_once(client, user):
    token = login(client).json()["token"]
    with CaptureQueriesContext(db_connection) as queries:
        response = authed(token).get("/api/me/")
    assert response.status_code == 200
    assert len(queries) == 1
    assert queries[0]["sql"].lstrip().upper().startswith("SELECT")


def test_eager_loading_checks_the_user(client, user, settings):
    token = login(client).json()["token"]
    settings.REDISTOKEN = {**settings.REDISTOKEN, "USER_LOADING": "eager"}
    assert authed(token).get("/api/me/").status_code == 200
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)  # bypasses signals
    response = authed(token).get("/api/me/")
    assert response.status_code == 401


def test_lazy_loading_refuses_an_inactive_user_once_loaded(client, user):
    token = login(client).json()["token"]
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)  # bypasses signals
    response = authed(token).get("/api/me/")
    assert response.status_code == 401
    assert "Traceback" not in response.content.decode()


def test_malformed_token_is_401_without_touching_redis(client, user, counting_client):
    raw = login(client).json()["token"]
    counting_client.calls.clear()
    for bad in (raw[:-1], raw[:-1] + ("A" if raw[-1] != "A" else "B"), "rtk_", "rtk_1" + "x" * 53):
        response = authed(bad).get("/api/me/")
        assert response.status_code == 401
        assert 'error="invalid_token"' in response["WWW-Authenticate"]
        assert bad not in response.content.decode()
    assert counting_client.calls == []


def test_foreign_token_format_returns_none(rf):
    from rest_framework.request import Request

    from redistoken.authentication import RedisTokenAuthentication

    request = Request(rf.get("/", HTTP_AUTHORIZATION="Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b"))
    assert RedisTokenAuthentication().authenticate(request) is None
    request = Request(rf.get("/", HTTP_AUTHORIZATION="Basic dXNlcjpwYXNz"))
    assert RedisTokenAuthentication().authenticate(request) is None


def test_bearer_keyword_is_case_insensitive(client, user, settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "AUTH_HEADER_KEYWORDS": ["Bearer", "Token"]}
    token = login(client).json()["token"]
    for keyword in ("Bearer", "bearer", "TOKEN"):
        assert APIClient(HTTP_AUTHORIZATION=f"{keyword} {token}").get("/api/me/").status_code == 200
    response = APIClient(HTTP_AUTHORIZATION="Bearer rtk_1nope").get("/api/me/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def test_logout(client, user):
    token = login(client).json()["token"]
    api = authed(token)
    assert api.post("/auth/logout/").status_code == 204
    assert api.get("/api/me/").status_code == 401


def test_logout_all_and_others(client, user):
    tokens_ = [login(client, device=f"d{i}").json()["token"] for i in range(3)]
    response = authed(tokens_[0]).post("/auth/logout-others/")
    assert response.status_code == 200 and response.json() == {"revoked": 2}
    assert [authed(t).get("/api/me/").status_code for t in tokens_] == [200, 401, 401]
    assert authed(tokens_[0]).post("/auth/logout-all/").status_code == 204
    assert authed(tokens_[0]).get("/api/me/").status_code == 401


def test_sessions_list_and_delete(client, user):
    first = login(client, device="phone").json()
    second = login(client, device="tablet").json()
    api = authed(first["token"])
    listed = api.get("/auth/sessions/").json()
    assert {s["device"] for s in listed} == {"phone", "tablet"}
    assert [s["current"] for s in listed if s["id"] == first["session"]["id"]] == [True]
    for session in listed:
        assert set(session) == {
            "id",
            "created",
            "last_used",
            "expires_in",
            "user_agent",
            "ip",
            "device",
            "device_label",
            "current",
        }
        assert first["token"] not in str(session) and second["token"] not in str(session)
    assert api.delete(f"/auth/sessions/{second['session']['id']}/").status_code == 204
    assert authed(second["token"]).get("/api/me/").status_code == 401
    assert api.delete(f"/auth/sessions/{second['session']['id']}/").status_code == 404


def test_another_users_session_id_is_404(client, user):
    mine = login(client).json()
    get_user_model().objects.create_user("bob", password="pw-of-bob")
    bob = login(client, "bob", "pw-of-bob").json()
    response = authed(mine["token"]).delete(f"/auth/sessions/{bob['session']['id']}/")
    assert response.status_code == 404
    assert authed(bob["token"]).get("/api/me/").status_code == 200


def test_revocation_endpoint_answers_200_either_way(client, user):
    token = login(client).json()["token"]
    for _ in range(2):
        response = APIClient().post("/auth/revoke/", {"token": token}, format="json")
        assert response.status_code == 200
    assert authed(token).get("/api/me/").status_code == 401
    assert APIClient().post("/auth/revoke/", {"token": "garbage"}, format="json").status_code == 200


def test_login_is_throttled(client, user, settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "LOGIN_FAILURES_PER_USER_AND_ADDRESS": "3/min"}
    codes = [login(client, password="wrong").status_code for _ in range(4)]
    assert codes == [400, 400, 400, 429]
    assert "Retry-After" in login(client).headers


def test_revoke_racing_concurrent_requests(client, user):
    token = login(client).json()["token"]
    stop = threading.Event()
    statuses: list[int] = []

    def hammer() -> None:
        api = authed(token)
        while not stop.is_set():
            statuses.append(api.get("/whoami/").status_code)

    from django.test import override_settings

    with override_settings(ROOT_URLCONF="tests.urls"):
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for thread in threads:
            thread.start()
        parsed = tokens.parse(token_settings.TOKEN_PREFIX, token)
        assert store.revoke_session(user.pk, parsed.session_id)
        after = [authed(token).get("/whoami/").status_code for _ in range(30)]
        stop.set()
        for thread in threads:
            thread.join()
    assert after == [401] * 30
    assert set(statuses) <= {200, 401}
    assert not connection.get_client().hexists(store.user_key(parsed.tag), parsed.session_id)
