"""No password or token in Django's error reports (ExceptionReporter, as mailed
to ADMINS) for a failure inside login, authentication and revocation; and
every malformed body on the unauthenticated endpoints is a 4xx."""

import re
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.signals import got_request_exception
from django.views.debug import (
    ExceptionReporter,
    SafeExceptionReporterFilter,
    get_default_exception_reporter_filter,
)
from rest_framework.test import APIClient

from redistoken import store, tokens
from redistoken.store.records import IssuedToken, Session

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("backend")]

PASSWORD = "s3cret-Pa55word-xyz"


@pytest.fixture
def user():
    return get_user_model().objects.create_user("alice", password=PASSWORD)


def report_of(call):
    """The text and HTML error reports of the exception ``call`` raises in a view."""
    caught = []

    def receiver(sender, request, **kwargs):
        caught.append((request, sys.exc_info()))

    got_request_exception.connect(receiver)
    try:
        with pytest.raises(RuntimeError):
            call()
    finally:
        got_request_exception.disconnect(receiver)
    request, (exc_type, exc, tb) = caught[0]
    reporter = ExceptionReporter(request, exc_type, exc, tb)
    return reporter.get_traceback_text() + reporter.get_traceback_html()


def boom(*args, **kwargs):
    raise RuntimeError("boom")


@pytest.mark.parametrize("as_form", [False, True])
def test_a_failure_during_login_reports_no_password(user, monkeypatch, as_form):
    monkeypatch.setattr(store, "issue_token", boom)
    body = {"username": "alice", "password": PASSWORD}
    client = APIClient()
    report = report_of(lambda: client.post("/auth/login/", body, format=None if as_form else "json"))
    assert "boom" in report and "LoginSerializer" in report  # the frames are there, their secrets are not
    assert PASSWORD not in report


class HidesAuthorization(SafeExceptionReporterFilter):
    """Django 5's filter; Django 4.2's shows HTTP_AUTHORIZATION (docs/security.md)."""

    hidden_settings = re.compile("API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE", flags=re.I)


def test_a_failure_during_authentication_reports_no_token(user, monkeypatch, settings):
    if not SafeExceptionReporterFilter.hidden_settings.search("HTTP_AUTHORIZATION"):  # Django 4.2
        settings.DEFAULT_EXCEPTION_REPORTER_FILTER = f"{__name__}.HidesAuthorization"
        get_default_exception_reporter_filter.cache_clear()  # read once per process
    token = APIClient().post("/auth/login/", {"username": "alice", "password": PASSWORD}, format="json").json()["token"]
    monkeypatch.setattr(store, "authenticate", boom)
    report = report_of(lambda: APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/me/"))
    assert "boom" in report
    assert token not in report and token[-20:] not in report


def test_a_failure_during_revocation_reports_no_token(user, monkeypatch):
    token = APIClient().post("/auth/login/", {"username": "alice", "password": PASSWORD}, format="json").json()["token"]
    monkeypatch.setattr(store, "revoke_token", boom)
    report = report_of(lambda: APIClient().post("/auth/revoke/", {"token": token}, format="json"))
    assert "boom" in report
    assert token not in report and token[-20:] not in report


def test_token_objects_have_no_secret_in_their_repr():
    raw = tokens.generate("rtk", "abcdefgh", tokens.new_session_id())
    parsed = tokens.parse("rtk", raw)
    assert raw not in repr(parsed) and parsed.session_id in repr(parsed)
    issued = IssuedToken(token=raw, session=Session("s", "1", 0, 0, 0, 0))
    assert raw not in repr(issued)


NESTED = "[" * 5000 + "]" * 5000  # 10 KB: under the 16 KiB body bound
BAD_BODIES = [
    (NESTED, "application/json"),
    ('{"username": ' + NESTED + ', "password": "x"}', "application/json"),
    (b'{"username": "\xff\xfe", "password": "x"}', "application/json"),
    (b"\xff\xfe\xfd", "application/json"),
    ('{"username": "alice", "password": NaN}', "application/json"),
    ('{"username": 1e999, "password": "x"}', "application/json"),
    ('{"username": "a"', "application/json"),
    ("[1, 2, 3]", "application/json"),
    ('"just a string"', "application/json"),
    ("null", "application/json"),
    ('{"username": ["alice"], "password": {"a": 1}, "token": [1]}', "application/json"),
    ('{"username": true, "password": false, "token": 12}', "application/json"),
    ('{"username": "a\\u0000b", "password": "x", "token": "\\u0000"}', "application/json"),
    ("username=%FF%FE&password=x&token=%FF", "application/x-www-form-urlencoded"),
    ("--x\r\nbroken", "multipart/form-data; boundary=x"),
    ("<xml/>", "application/xml"),
]


@pytest.mark.parametrize("path", ["/auth/login/", "/auth/revoke/"])
def test_nested_json_is_a_400(path):
    response = APIClient().generic("POST", path, NESTED, content_type="application/json")
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]


@pytest.mark.parametrize("path", ["/auth/login/", "/auth/revoke/"])
@pytest.mark.parametrize("body,content_type", BAD_BODIES)
def test_every_malformed_body_is_a_4xx(user, path, body, content_type):
    response = APIClient().generic("POST", path, body, content_type=content_type)
    assert 400 <= response.status_code < 500 or (path == "/auth/revoke/" and response.status_code == 200), (
        response.status_code,
        response.content[:200],
    )
