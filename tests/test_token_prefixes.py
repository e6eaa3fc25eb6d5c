"""Token prefixes: earlier ones keep working (``TOKEN_PREFIX_FALLBACKS``), and a
foreign prefix is never claimed, so another class (knox's) gets its tokens."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.request import Request
from rest_framework.test import APIClient

from redistoken import store, tokens
from redistoken.authentication import RedisTokenAuthentication
from redistoken.checks import check_knox_prefix
from redistoken.exceptions import TokenRefused
from redistoken.settings import problems

pytestmark = [pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "tests.urls"


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice", password="pw")


def ours(settings, **extra):
    settings.REDISTOKEN = {**settings.REDISTOKEN, **extra}


def whoami(token, path="/whoami/"):
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}").get(path)


def login():
    response = APIClient().post("/auth/login/", {"username": "alice", "password": "pw"}, format="json")
    assert response.status_code == 200
    return response.json()["token"]


def test_changing_the_prefix_with_a_fallback_logs_nobody_out(backend, settings, user):
    old = login()
    assert old.startswith("rtk_2")
    ours(settings, TOKEN_PREFIX="acme", TOKEN_PREFIX_FALLBACKS=["rtk"])
    assert problems() == []
    new = login()
    assert new.startswith("acme_2")
    assert [whoami(old).json(), whoami(new).json()] == [{"pk": user.pk}, {"pk": user.pk}]
    listed = APIClient(HTTP_AUTHORIZATION=f"Token {old}").get("/auth/sessions/").json()
    assert len(listed) == 2 and [s["current"] for s in listed].count(True) == 1
    assert APIClient().post("/auth/revoke/", {"token": old}, format="json").status_code == 200
    assert [whoami(old).status_code, whoami(new).status_code] == [401, 200]
    assert [s.id for s in store.list_sessions(user)] == [tokens.parse("acme", new).session_id]


def test_without_the_fallback_an_earlier_prefix_is_foreign(backend, settings, user, counting_client):
    old = login()
    ours(settings, TOKEN_PREFIX="acme")
    counting_client.calls.clear()
    response = whoami(old)
    assert response.status_code == 401 and response.json()["code"] == "token_unrecognized"
    assert counting_client.calls == []  # refused as foreign by its prefix, no Redis call


def test_a_malformed_token_with_a_fallback_prefix_is_still_ours(settings, rf):
    ours(settings, TOKEN_PREFIX="acme", TOKEN_PREFIX_FALLBACKS=("rtk",))
    request = Request(rf.get("/", HTTP_AUTHORIZATION="Token rtk_1short"))
    with pytest.raises(TokenRefused) as refused:
        RedisTokenAuthentication().authenticate(request)
    assert refused.value.get_codes()["code"] == "token_malformed"


@pytest.mark.parametrize("raw", ["knx_" + "a" * 64, "a" * 64, "rtkx_" + "0" * 52, "acme_" + "0" * 52])
def test_a_foreign_prefix_is_left_to_the_next_class(rf, raw):
    """DRF style: ``None``, so knox's class (or any other) after ours decides."""
    request = Request(rf.get("/", HTTP_AUTHORIZATION=f"Token {raw}"))
    assert RedisTokenAuthentication().authenticate(request) is None


@pytest.mark.parametrize(
    "fallbacks,error",
    [(["rtk", "old"], False), ("old", False), ([""], True), (["rtk_"], True), ([5], True), (["x" * 11], True)],
)
def test_fallbacks_are_validated(settings, fallbacks, error):
    ours(settings, TOKEN_PREFIX_FALLBACKS=fallbacks)
    assert any("TOKEN_PREFIX_FALLBACKS" in problem for problem in problems()) is error


@pytest.mark.parametrize(
    "knox_prefix,fallbacks,codes",
    [
        ("", (), []),  # knox's default: bare hex
        ("knx_", (), []),
        ("rtk", (), []),  # "rtk" + hex never starts with "rtk_"
        ("rtk_", (), ["redistoken.E003"]),
        ("rtk_knox", (), ["redistoken.E003"]),
        ("old_", ("old",), ["redistoken.E003"]),
    ],
)
def test_a_check_refuses_a_knox_prefix_that_ours_would_claim(settings, knox_prefix, fallbacks, codes):
    settings.REST_KNOX = {"TOKEN_PREFIX": knox_prefix}
    ours(settings, TOKEN_PREFIX_FALLBACKS=fallbacks)
    assert [message.id for message in check_knox_prefix()] == codes
