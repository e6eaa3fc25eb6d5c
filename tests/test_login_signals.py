"""Django's user_logged_in and user_logged_out: last_login moves once per login, never per request."""

import pytest
from django.contrib.auth import get_user_model, user_logged_in, user_logged_out
from django.contrib.auth.tokens import default_token_generator
from django.db import connection as db_connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice", password="pw")


def login():
    return APIClient().post("/auth/login/", {"username": "alice", "password": "pw"}, format="json")


def writes(queries):
    return [q["sql"] for q in queries if q["sql"].startswith(("UPDATE", "INSERT", "DELETE"))]


def test_login_sends_user_logged_in_and_last_login_moves_with_one_write(user):
    reset_token = default_token_generator.make_token(user)
    seen = []
    user_logged_in.connect(receiver := lambda sender, user, request, **kw: seen.append((user.pk, request.path)))
    try:
        with CaptureQueriesContext(db_connection) as queries:
            token = login().json()["token"]
    finally:
        user_logged_in.disconnect(receiver)
    assert seen == [(user.pk, "/auth/login/")]
    assert len(writes(queries.captured_queries)) == 1 and "last_login" in writes(queries.captured_queries)[0]
    user.refresh_from_db()
    assert user.last_login is not None
    assert not default_token_generator.check_token(user, reset_token)  # the earlier reset link is void
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    with CaptureQueriesContext(db_connection) as queries:
        assert api.get("/api/me/").status_code == 200
    assert writes(queries.captured_queries) == []  # none per request


def test_update_last_login_off_means_no_write_at_login(user, settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "UPDATE_LAST_LOGIN": False}
    with CaptureQueriesContext(db_connection) as queries:
        assert login().status_code == 200
    assert writes(queries.captured_queries) == []
    user.refresh_from_db()
    assert user.last_login is None


@pytest.mark.parametrize("path", ["/auth/logout/", "/auth/logout-all/"])
def test_logout_sends_user_logged_out(user, path):
    token = login().json()["token"]
    seen = []
    user_logged_out.connect(receiver := lambda sender, user, request, **kw: seen.append(user.pk))
    try:
        assert APIClient(HTTP_AUTHORIZATION=f"Token {token}").post(path).status_code == 204
    finally:
        user_logged_out.disconnect(receiver)
    assert seen == [user.pk]
