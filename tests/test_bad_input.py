"""Any input: a clean 4xx JSON answer (or a 2xx where valid), never a 500,
never a traceback or an echoed token, never a Redis call for a malformed token."""

import json
from urllib.parse import quote

import pytest
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from redistoken import store, tokens
from redistoken.authentication import MAX_HEADER_LENGTH
from redistoken.views import MAX_BODY_LENGTH

pytestmark = [pytest.mark.django_db, pytest.mark.parametrize("backend", ["fakeredis"], indirect=True)]
examples = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def assert_clean(response, *, allowed=range(200, 500), secret: str = "") -> None:
    assert response.status_code in allowed, response.status_code
    assert response.status_code != 500
    body = response.content.decode("utf-8", "replace")
    assert "Traceback" not in body
    if response.content:
        json.loads(body)  # JSON, not an HTML error page
    if secret and len(secret) > 8:
        assert secret not in body
        assert secret not in response.get("WWW-Authenticate", "")


header_values = st.one_of(
    st.binary(max_size=200).map(lambda b: b.decode("latin-1")),
    st.text(max_size=200),
    st.builds(
        lambda k, sp, t: f"{k}{sp}{t}",
        st.sampled_from(["Token", "token", "Bearer", "TOKEN"]),
        st.text(" \t", min_size=1, max_size=5),
        st.text(max_size=120),
    ),
    st.builds(lambda t: f"Token rtk_{t}", st.text(alphabet=tokens.ALPHABET + "_-!é", max_size=80)),
)


@examples
@given(value=header_values)
def test_any_authorization_header_is_a_clean_answer(counting_client, value):
    try:
        response = APIClient(HTTP_AUTHORIZATION=value).get("/api/me/")
    except UnicodeEncodeError:
        return  # not representable in a WSGI environ: never reaches a server
    assert_clean(response, allowed={401}, secret=value.split()[-1] if value.split() else "")
    raw = value.split()[-1] if len(value.split()) == 2 else ""
    if tokens.owns("rtk", raw):
        assert counting_client.calls == []  # malformed (none of these is a real token): no Redis call


def test_several_authorization_values_and_huge_headers(counting_client):
    good = tokens.generate("rtk", tokens.user_tag(1), tokens.new_session_id())
    for value in (
        f"Token {good}, Token {good}",
        f"Token  {good}  extra",
        "Token " + "A" * 100_000,
        "Bearer " + "x" * (MAX_HEADER_LENGTH + 1),
    ):
        assert_clean(APIClient(HTTP_AUTHORIZATION=value).get("/api/me/"), allowed={401}, secret=good)
    assert counting_client.calls == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=10,
)
login_bodies = st.one_of(
    json_values.map(json.dumps),
    st.fixed_dictionaries({"username": json_values, "password": json_values}, optional={"device": json_values}).map(
        json.dumps
    ),
    st.binary(max_size=300).map(lambda b: b.decode("latin-1")),
)


@examples
@given(body=login_bodies, path=st.sampled_from(["/auth/login/", "/auth/revoke/"]))
def test_any_login_or_revoke_body_is_a_clean_answer(backend, body, path):
    response = APIClient().generic("POST", path, body.encode("utf-8", "surrogatepass"), "application/json")
    assert_clean(response, allowed=set(range(200, 500)) - {500})
    assert response.status_code != 200 or path == "/auth/revoke/"  # no such user: never a token


def test_oversized_bodies_are_refused_early(backend):
    get_user_model().objects.create_user("alice", password="pw")
    body = json.dumps({"username": "alice", "password": "x" * MAX_BODY_LENGTH}).encode()
    for path in ("/auth/login/", "/auth/revoke/"):
        response = APIClient().generic("POST", path, body, "application/json")
        assert response.status_code == 413
        assert response.json() == {"detail": "Request body too large."}


@examples
@given(session_id=st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s))  # an id in the URL grammar
def test_any_session_id_in_the_url_is_a_clean_answer(backend, session_id):
    user, _ = get_user_model().objects.get_or_create(username="alice")
    issued = store.issue_token(user)
    try:
        response = APIClient(HTTP_AUTHORIZATION=f"Token {issued.token}").delete(
            f"/auth/sessions/{quote(session_id, safe='')}/"
        )
    except UnicodeEncodeError:
        return
    assert_clean(response, allowed={204, 404}, secret=issued.token)
    assert (response.status_code == 204) == (session_id == issued.session.id)
