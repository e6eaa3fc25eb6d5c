"""A call run twice (redis-py retries after a timeout or a lost reply, when
the first run may have done the work) answers what the first run did: a
revocation from its receipt, kept beside the user's hash (``revoke.lua``); a
login by leaving alone the session its first run issued (``issue.lua``)."""

import pytest
import redis
from django.contrib.auth import get_user_model
from redis.connection import AbstractConnection
from rest_framework.test import APIClient

from redistoken import keys, store, tokens
from redistoken.connection import text
from redistoken.store import records, scripts

pytestmark = pytest.mark.django_db

User = get_user_model()


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password="pw")


@pytest.mark.parametrize("backend", ["fakeredis", "redis", "cluster"], indirect=True)
def test_the_same_call_run_again_answers_from_its_receipt(backend, alice):
    store.issue_token(alice)
    session = store.list_sessions(alice)[0]
    user_hash = records.user_key(keys.current_tag(str(alice.pk)))
    receipt = records.receipt_key(user_hash)
    args = (user_hash, receipt, str(alice.pk), "session", session.id, b"", tokens.session_field(session.id), "")
    first = scripts.revoke(*args)
    assert [text(item) for item in first[1::2]] == [str(alice.pk)]
    assert scripts.revoke(*args) == first  # the retry: the receipt, not "nothing there"
    other = records.receipt_key(user_hash)
    assert scripts.revoke(user_hash, other, *args[2:]) == []  # another call: nothing left to revoke
    assert store.list_sessions(alice) == []


def lose_the_reply_of(script, monkeypatch) -> list:
    """Patch redis-py's connections so that the first reply to ``script``
    (sent alone or pipelined) is read and then lost, as after a timeout: the
    server ran it. Returns the packed sends of ``script``, as they happen."""
    sent, lost = [], []
    send, read = AbstractConnection.send_packed_command, AbstractConnection.read_response
    sha = script.sha.encode()

    def send_packed_command(self, command, *args, **kwargs):
        packed = command if isinstance(command, bytes) else b"".join(command)
        if sha in packed:
            sent.append(packed)
        return send(self, command, *args, **kwargs)

    def read_response(self, *args, **kwargs):
        response = read(self, *args, **kwargs)
        if len(sent) == 1 and not lost:
            lost.append(response)
            raise redis.exceptions.TimeoutError("reply lost (test)")
        return response

    monkeypatch.setattr(AbstractConnection, "send_packed_command", send_packed_command)
    monkeypatch.setattr(AbstractConnection, "read_response", read_response)
    return sent


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_a_delete_whose_reply_was_lost_is_204_and_announced_once(backend, alice, revocations, monkeypatch):
    caller = store.issue_token(alice, device="a")
    store.issue_token(alice, device="b")
    target_id = next(s.id for s in store.list_sessions(alice) if s.device == "b")
    sent = lose_the_reply_of(scripts.revoke, monkeypatch)
    response = APIClient(HTTP_AUTHORIZATION=f"Token {caller.token}").delete(f"/auth/sessions/{target_id}/")
    if len(sent) == 1:  # a redis-py that does not retry a timeout: an outage, not a 404
        assert response.status_code == 503
        return
    assert len(sent) == 2 and sent[0] == sent[1]  # retried with the same receipt
    assert response.status_code == 204  # without the receipt: 404, for the session this request ended
    assert [session_id for _, session_id, _ in revocations] == [target_id]
    assert [s.device for s in store.list_sessions(alice)] == ["a"]


@pytest.mark.parametrize("backend", ["redis"], indirect=True)
def test_a_login_whose_reply_was_lost_issues_one_working_session(backend, alice, monkeypatch):
    store.issue_token(alice, device="phone")  # the login below replaces it
    sent = lose_the_reply_of(scripts.issue, monkeypatch)
    body = {"username": "alice", "password": "pw", "device": "phone"}
    response = APIClient().post("/auth/login/", body, format="json")
    if len(sent) == 1:
        assert response.status_code == 503
        return
    assert len(sent) == 2 and response.status_code == 200
    me = APIClient(HTTP_AUTHORIZATION=f"Token {response.json()['token']}").get("/api/me/")
    assert me.status_code == 200  # the retry once replaced the session its first run had issued: a 401
    assert len(store.list_sessions(alice)) == 1
