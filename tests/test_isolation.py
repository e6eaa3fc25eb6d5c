"""Deployment isolation: format-2 tokens are keyed with the deployment's
signing key (redistoken.keys); rotation keeps sessions; format 1 still works."""

from __future__ import annotations

import pytest

from redistoken import store, tokens
from redistoken.settings import token_settings
from tests.layouts import issue_v1

pytestmark = pytest.mark.usefixtures("backend")


def _parse(raw: str) -> tokens.ParsedToken | None:
    return store.resolve_token(raw)


def _as(settings, key: str, fallbacks: list[str] | None = None) -> None:
    settings.REDISTOKEN = {**settings.REDISTOKEN, "SIGNING_KEY": key, "SIGNING_KEY_FALLBACKS": fallbacks or []}


def test_two_deployments_never_accept_list_or_revoke_each_others_sessions(settings):
    _as(settings, "deployment-a")
    a = store.issue_token(1)
    _as(settings, "deployment-b")
    b = store.issue_token(1)
    assert store.authenticate(_parse(a.token)) is None
    assert [s.id for s in store.list_sessions(1)] == [b.session.id]
    assert store.revoke_all(1) == [b.session.id]
    _as(settings, "deployment-a")
    assert store.authenticate(_parse(a.token)) is not None
    assert [s.id for s in store.list_sessions(1)] == [a.session.id]
    store.revoke_all(1)


def test_rotation_keeps_sessions(settings):
    _as(settings, "old-key")
    old = store.issue_token(2)
    _as(settings, "new-key", ["old-key"])
    new = store.issue_token(2)
    assert store.authenticate(_parse(old.token)) is not None
    assert {s.id for s in store.list_sessions(2)} == {old.session.id, new.session.id}
    assert set(store.revoke_all(2)) == {old.session.id, new.session.id}
    assert store.authenticate(_parse(old.token)) is None


def test_v1_tokens_keep_working_until_refused(settings):
    raw = issue_v1(3)
    assert raw.startswith(token_settings.TOKEN_PREFIX + "_1")
    assert store.authenticate(_parse(raw)) is not None
    assert len(store.list_sessions(3)) == 1
    settings.REDISTOKEN = {**settings.REDISTOKEN, "ACCEPT_UNKEYED_TOKENS": False}
    with pytest.raises(tokens.MalformedToken):
        _parse(raw)
    settings.REDISTOKEN = {**settings.REDISTOKEN, "ACCEPT_UNKEYED_TOKENS": True}
    assert store.revoke_all(3)


def test_tag_is_not_derivable_without_the_key(settings):
    _as(settings, "some-key")
    issued = store.issue_token(734512)
    assert _parse(issued.token).tag != tokens.user_tag(734512)


def test_revoke_everything_leaves_throttle_keys_alone():
    from redistoken.connection import get_client

    client = get_client()
    throttle_key = f"{token_settings.KEY_PREFIX}{{throttle}}:login:u:x}}"  # ends in a brace, as a hash would
    client.set(throttle_key, "3")
    issued = store.issue_token(5)
    assert store.revoke_everything() >= 1
    assert store.authenticate(_parse(issued.token)) is None
    assert client.get(throttle_key) in (b"3", "3")
    client.delete(throttle_key)


def test_reconcile_and_w016_leave_another_deployments_sessions_alone(settings, backend):
    from redistoken.deploy_checks import check_shared_prefix

    _as(settings, "deployment-b")
    theirs = store.issue_token("9999")  # no such user here: reconcile would take it for deleted
    _as(settings, "deployment-a")
    shared = [] if backend == "fakeredis" else ["redistoken.W016"]  # the embedded store is never shared
    assert [c.id for c in check_shared_prefix()] == shared
    assert [s.session_id for batch in store.scan_sessions() for s in batch] == []
    _as(settings, "deployment-b")
    assert check_shared_prefix() == []
    assert store.authenticate(_parse(theirs.token)) is not None
    store.revoke_all("9999")
