"""RFC 6750 challenges, RFC 6749 token responses, RFC 7009 revocation, and
authenticated responses kept out of shared caches."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from rest_framework.test import APIClient

from redistoken.middleware import mark_private

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]

# RFC 6750 section 3: the challenge, with error_description limited to
# %x20-21 / %x23-5B / %x5D-7E (no quote, no backslash, printable ASCII).
QTEXT = r'"[\x20\x21\x23-\x5b\x5d-\x7e]*"'
CHALLENGE = re.compile(
    rf'^(?P<scheme>\w+) realm=(?P<realm>{QTEXT})(?P<error>, error="invalid_token", error_description={QTEXT})?$'
)


@pytest.fixture
def bearer(settings):
    settings.REDISTOKEN = {
        **settings.REDISTOKEN,
        "AUTH_HEADER_KEYWORDS": ["Bearer"],
        "WWW_AUTHENTICATE_REALM": "example",
    }


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice", password="correct horse")


def login(**extra):
    data = {"username": "alice", "password": "correct horse", **extra}
    return APIClient().post("/auth/login/", data, format="json")


def challenge(response):
    assert response.status_code == 401
    match = CHALLENGE.match(response["WWW-Authenticate"])
    assert match, response["WWW-Authenticate"]
    return match


def test_no_credentials_get_a_bare_bearer_challenge(bearer):
    match = challenge(APIClient().get("/api/me/"))
    assert match["scheme"] == "Bearer" and match["realm"] == '"example"'
    assert match["error"] is None


@pytest.mark.parametrize(
    "header",
    [
        "Bearer rtk_1nope",  # ours, malformed: refused without Redis
        "Bearer rtk_",
        "Bearer",  # the keyword and nothing else
        "Bearer a b",
        "Bearer 9944b09199c62bcf9418ad846dd0e4bbdfc6ee4b",  # a foreign token nobody accepts
    ],
)
def test_refused_credentials_are_invalid_token(bearer, header):
    match = challenge(APIClient(HTTP_AUTHORIZATION=header).get("/api/me/"))
    assert match["scheme"] == "Bearer" and match["error"]


def test_revoked_and_inactive_are_invalid_token(bearer, user, settings):
    token = login().json()["access_token"]
    api = APIClient(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api.get("/api/me/").status_code == 200
    settings.REDISTOKEN = {**settings.REDISTOKEN, "USER_LOADING": "eager"}
    get_user_model().objects.filter(pk=user.pk).update(is_active=False)
    assert challenge(api.get("/api/me/"))["error"]  # refused by the user loading, not the store
    assert api.post("/auth/logout/").status_code == 401
    get_user_model().objects.filter(pk=user.pk).update(is_active=True)
    # the refusal revoked the session: a reactivation does not revive it
    assert api.post("/auth/logout/").status_code == 401
    match = challenge(api.get("/api/me/"))
    assert "error_description" in match["error"]


def test_realm_and_description_are_always_valid_quoted_strings(settings, user):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "WWW_AUTHENTICATE_REALM": 'my "api" \\ é'}
    match = challenge(APIClient().get("/api/me/"))
    assert match["scheme"] == "Token" and match["realm"] == '"my api  "'
    assert challenge(APIClient(HTTP_AUTHORIZATION="Token rtk_1x").get("/api/me/"))["error"]


def test_login_is_an_rfc6749_token_response(bearer, user, settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 600}
    response = login()
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["access_token"] == body["token"]
    assert body["expires_in"] == 600
    assert "no-store" in response["Cache-Control"] and response["Pragma"] == "no-cache"
    me = APIClient(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}").get("/api/me/")
    assert me.status_code == 200 and me.json()["username"] == "alice"


def test_rfc7009_revocation_takes_a_form_body(user):
    token = login().json()["access_token"]
    for _ in range(2):  # live, then already revoked: the same answer
        response = APIClient().post("/auth/revoke/", {"token": token, "token_type_hint": "access_token"})
        assert response.status_code == 200
        assert response.content == b""
        assert "no-store" in response["Cache-Control"]
    assert APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/me/").status_code == 401
    missing = APIClient().post("/auth/revoke/", {})
    assert missing.status_code == 400 and "token" in missing.json()


def test_authenticated_responses_are_private(user):
    token = login().json()["access_token"]
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    for path in ("/api/me/", "/auth/sessions/"):  # a project view (middleware) and one of ours
        response = api.get(path)
        assert response.status_code == 200
        assert "Authorization" in response["Vary"]
        assert "private" in response["Cache-Control"]
    refused = APIClient(HTTP_AUTHORIZATION="Token rtk_1x").get("/api/me/")
    assert "Authorization" in refused["Vary"] and "private" in refused["Cache-Control"]
    anonymous = APIClient().get("/api/schema/")
    assert anonymous.status_code == 200
    assert "private" not in anonymous.get("Cache-Control", "")


def test_our_views_are_private_without_the_middleware(user, settings):
    token = login().json()["access_token"]
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != "redistoken.middleware.PrivateCacheMiddleware"]
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    ours = api.get("/auth/sessions/")
    assert "private" in ours["Cache-Control"] and "Authorization" in ours["Vary"]
    theirs = api.get("/api/me/")
    assert theirs.status_code == 200 and "private" not in theirs.get("Cache-Control", "")


def test_mark_private_keeps_no_store_and_drops_public():
    response = HttpResponse()
    response["Cache-Control"] = "no-store"
    assert mark_private(response)["Cache-Control"] == "no-store"
    response = HttpResponse()
    response["Cache-Control"] = "public, max-age=60"
    mark_private(response)
    assert "public" not in response["Cache-Control"] and "private" in response["Cache-Control"]
    assert response["Vary"] == "Authorization"


def test_a_page_cache_stores_no_authenticated_response(settings):
    """Django's page cache honours ``private`` as a shared cache must: with
    the middleware, an authenticated answer is not stored at all."""
    from django.core.cache import cache

    for name in ("alice", "bob"):
        get_user_model().objects.create_user(name, password="pw-" + name)
    tokens = {
        name: APIClient().post("/auth/login/", {"username": name, "password": "pw-" + name}).json()["access_token"]
        for name in ("alice", "bob")
    }
    settings.MIDDLEWARE = [
        "django.middleware.cache.UpdateCacheMiddleware",
        *settings.MIDDLEWARE,
        "django.middleware.cache.FetchFromCacheMiddleware",
    ]
    settings.CACHE_MIDDLEWARE_SECONDS = 60
    seen = {name: APIClient(HTTP_AUTHORIZATION=f"Token {tokens[name]}").get("/api/me/").json() for name in tokens}
    assert {name: body["username"] for name, body in seen.items()} == {"alice": "alice", "bob": "bob"}
    assert not [key for key in cache._cache if "cache_page" in key]  # locmem's store: nothing kept
    public = APIClient().get("/api/schema/")
    assert public.status_code == 200
    assert [key for key in cache._cache if "cache_page" in key]  # while an anonymous page is cached
