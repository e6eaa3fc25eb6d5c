"""What clients see: both keywords by default, a stable code in every
refusal's body that agrees with ``WWW-Authenticate``, RFC 6749 section 5.2
errors from the login, translatable messages, device names cut not refused."""

import pytest
from django.contrib.auth import get_user_model
from django.utils import translation
from rest_framework.test import APIClient

from redistoken import store, tokens

from .test_standards import CHALLENGE

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice", password="correct horse")


def login(**data):
    return APIClient().post("/auth/login/", {"username": "alice", "password": "correct horse", **data}, format="json")


def refused(header, path="/api/me/"):
    response = APIClient(HTTP_AUTHORIZATION=header).get(path)
    assert response.status_code == 401
    body = response.json()
    match = CHALLENGE.match(response["WWW-Authenticate"])
    assert match and match["scheme"] == "Token", response["WWW-Authenticate"]
    return body, match


def test_token_and_bearer_are_both_accepted_by_default(user):
    body = login().json()
    assert body["token_type"] == "Token"
    for keyword in ("Token", "Bearer", "bearer"):
        response = APIClient(HTTP_AUTHORIZATION=f"{keyword} {body['access_token']}").get("/api/me/")
        assert response.status_code == 200, keyword
    challenge = APIClient().get("/api/me/")["WWW-Authenticate"]
    assert challenge == 'Token realm="api"'  # the first keyword is the one named


@pytest.mark.parametrize(
    "header,code",
    [
        ("Bearer", "header_malformed"),
        ("Token a b", "header_malformed"),
        ("Token " + "A" * 2000, "header_malformed"),
        ("Bearer rtk_1nope", "token_malformed"),
        ("Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b", "token_unrecognized"),  # foreign, and we are last
    ],
)
def test_each_refusal_has_its_code_and_header_agrees_with_body(header, code):
    body, match = refused(header)
    assert body["code"] == code
    assert match["error"] == f', error="invalid_token", error_description="{body["detail"]}"'


def test_a_mistyped_token_is_malformed_and_a_revoked_one_not_found(user):
    token = login().json()["access_token"]
    mistyped = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert refused(f"Token {mistyped}")[0] == {"detail": "Malformed token.", "code": "token_malformed"}
    assert APIClient().post("/auth/revoke/", {"token": token}, format="json").status_code == 200
    body, match = refused(f"Bearer {token}")
    assert body == {"detail": "Invalid or expired token.", "code": "token_not_found"}
    assert 'error_description="Invalid or expired token."' in match["error"]


@pytest.mark.parametrize("loading", ["lazy", "eager"])
def test_an_inactive_user_is_user_inactive(user, settings, loading):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "USER_LOADING": loading}
    token = login().json()["access_token"]
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)  # no signal: the session stays
    body, match = refused(f"Token {token}")
    assert body == {"detail": "User inactive or deleted.", "code": "user_inactive"}
    assert 'error_description="User inactive or deleted."' in match["error"]


def test_no_credentials_get_drfs_body_and_the_bare_challenge():
    response = APIClient().get("/api/me/")
    assert response.status_code == 401
    assert response.json() == {"detail": "Authentication credentials were not provided."}
    assert response["WWW-Authenticate"] == 'Token realm="api"'


def test_a_foreign_token_left_to_a_later_class_gets_that_class_answer(settings):
    """/transition/whoami/ has DRF's TokenAuthentication after ours: the
    foreign key is DRF's to refuse, and our header names no error of ours."""
    settings.ROOT_URLCONF = "tests.urls"
    response = APIClient(HTTP_AUTHORIZATION="Token 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b").get(
        "/transition/whoami/"
    )
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid token."}  # DRF's own refusal
    assert response["WWW-Authenticate"] == 'Token realm="api"'


def test_a_refused_login_is_an_rfc6749_error(user):
    wrong = login(password="wrong")
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_grant"
    assert wrong.json()["non_field_errors"] == [wrong.json()["error_description"]]
    for data, field in (({"password": ""}, "password"), ({"username": ""}, "username")):
        response = login(**data)
        assert response.status_code == 400
        body = response.json()
        assert body["error"] == "invalid_request" and field in body
        assert body["error_description"].startswith(f"{field}: ")
    unparsable = APIClient().generic("POST", "/auth/login/", b"{nope", "application/json")
    assert unparsable.status_code == 400 and unparsable.json()["error"] == "invalid_request"
    revoke = APIClient().post("/auth/revoke/", {}, format="json")
    assert revoke.status_code == 400 and revoke.json()["error"] == "invalid_request"


def test_throttled_and_unavailable_carry_their_codes(user, settings, monkeypatch):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "LOGIN_FAILURES_PER_USER_AND_ADDRESS": "1/min"}
    assert login(password="wrong").status_code == 400  # one failure: the limit
    throttled = login()
    assert throttled.status_code == 429 and throttled.json()["code"] == "throttled"
    assert int(throttled["Retry-After"]) > 0
    settings.REDISTOKEN = {**settings.REDISTOKEN, "LOGIN_FAILURES_PER_USER_AND_ADDRESS": None}

    def down(*args, **kwargs):
        raise store.StoreUnavailable("test")

    monkeypatch.setattr(store, "issue_token", down)
    unavailable = login()
    assert unavailable.status_code == 503 and unavailable.json()["code"] == "service_unavailable"
    assert unavailable["Retry-After"] == "5"


def test_messages_are_translated(user):
    with translation.override("fr"):
        body, _ = refused("Token")
        assert body["code"] == "header_malformed"
        english = "Invalid token header. No credentials provided."
        assert body["detail"] == translation.gettext(english) != english  # DRF's own French catalogue
        assert refused("Token rtk_1nope")[0]["code"] == "token_malformed"  # codes never change


def test_device_names_follow_the_setting(user, settings):
    """Longer than DEVICE_NAME_MAX_LENGTH is an RFC 6749 invalid_request; the bound moves with the setting."""
    response = login(device="d" * 33)
    assert response.status_code == 400 and response.json()["error"] == "invalid_request"
    assert response.json()["error_description"].startswith("device: ")
    settings.REDISTOKEN = {**settings.REDISTOKEN, "DEVICE_NAME_MAX_LENGTH": 16}
    assert login(device="e" * 17).status_code == 400
    response = login(device="e" * 16)
    assert response.status_code == 200 and response.json()["session"]["device"] == "e" * 16
    session_id = response.json()["session"]["id"]
    assert [s.device for s in store.list_sessions(user) if s.id == session_id] == ["e" * 16]
    assert tokens.SESSION_ID_RE.fullmatch(session_id)
