"""Every user's hash is bounded: a finite default cap and a ceiling no setting exceeds."""

import pytest

from redistoken import store
from redistoken.settings import MAX_SESSIONS_CEILING, problems, token_settings


@pytest.mark.parametrize("backend", ["fakeredis", "redis"], indirect=True)
def test_1500_logins_of_one_user_leave_at_most_the_cap(backend, counting_client):
    assert token_settings.MAX_SESSIONS_PER_USER == 100
    for _ in range(1500):
        store.issue_token(42)
    listed = store.list_sessions(42)
    assert len(listed) == 100
    client = counting_client.inner
    fields = sum(client.hlen(key) for key in client.scan_iter(match=f"{token_settings.KEY_PREFIX}*"))
    assert fields == 101  # 100 sessions (one field each in layout 2) and the user's slot: nothing else accumulates


def test_the_cap_cannot_exceed_the_ceiling(settings):
    for value in (None, 0, MAX_SESSIONS_CEILING + 1, "50", True):
        settings.REDISTOKEN = {"MAX_SESSIONS_PER_USER": value, "EMBEDDED_STORE": True}
        assert any("MAX_SESSIONS_PER_USER must be an integer from 1 to 1000" in p for p in problems())
    settings.REDISTOKEN = {"MAX_SESSIONS_PER_USER": MAX_SESSIONS_CEILING, "EMBEDDED_STORE": True}
    assert problems() == []
