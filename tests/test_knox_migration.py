"""docs/migrating-knox.md against the real django-rest-knox: its tokens, with
its own prefix or none, keep working beside redistoken's while they expire,
and neither class claims the other's."""

import pytest
from django.contrib.auth import get_user_model
from knox.models import AuthToken
from rest_framework.test import APIClient

from redistoken.checks import check_knox_prefix

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]


@pytest.fixture(autouse=True)
def _urls(settings):
    settings.ROOT_URLCONF = "tests.urls"


def whoami(token: str) -> int:
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/knox-transition/whoami/").status_code


@pytest.mark.parametrize("knox_prefix", ["", "knox_"])
def test_knox_tokens_keep_working_beside_redistokens_until_knox_logs_them_out(settings, knox_prefix):
    settings.REST_KNOX = {"TOKEN_PREFIX": knox_prefix}
    user = get_user_model().objects.create_user("alice", password="pw")
    _, knox_token = AuthToken.objects.create(user)
    assert knox_token.startswith(knox_prefix)
    ours = APIClient().post("/auth/login/", {"username": "alice", "password": "pw"}, format="json").json()["token"]

    assert whoami(knox_token) == 200  # redistoken leaves a token without its prefix to knox
    assert whoami(ours) == 200
    assert APIClient(HTTP_AUTHORIZATION=f"Token {knox_token}").post("/knox/logout/").status_code == 204
    assert whoami(knox_token) == 401  # knox's own logout still works
    assert whoami(ours) == 200  # and touches no redistoken session
    assert APIClient(HTTP_AUTHORIZATION=f"Token {ours}").post("/auth/logout-all/").status_code == 204
    assert whoami(ours) == 401


def test_a_knox_prefix_ours_would_claim_is_refused_by_a_check(settings):
    settings.REST_KNOX = {"TOKEN_PREFIX": "rtk_"}
    assert [message.id for message in check_knox_prefix(None)] == ["redistoken.E003"]
    settings.REST_KNOX = {"TOKEN_PREFIX": "knox_"}
    assert check_knox_prefix(None) == []
