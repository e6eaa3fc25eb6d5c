"""Sessions written before layout 2 keep working after the upgrade, and
current settings bound every session (issues 14 and 12)."""

import time

import pytest

from redistoken import connection, store, tokens
from redistoken.settings import token_settings

from . import layouts

pytestmark = pytest.mark.usefixtures("backend")


def parse(raw: str) -> tokens.ParsedToken:
    return tokens.parse(token_settings.TOKEN_PREFIX, raw)


def fields(raw: str) -> list[bytes]:
    key = store.user_key(parse(raw).tag)
    return sorted(connection.get_client().hkeys(key))


def test_a_layout_1_session_lists_revokes_and_authenticates_then_is_rewritten():
    old = layouts.issue_legacy(7, device="Pixel 8", ip="203.0.113.5", user_agent="MyApp/1.0", age=60)
    other = layouts.issue_legacy(7, device="iPad", ip="2001:db8::1")
    parsed = parse(old)
    [listed_other, listed_old] = sorted(store.list_sessions(7), key=lambda s: s.id != parse(other).session_id)
    assert (listed_old.device, listed_old.ip, listed_old.user_agent) == ("Pixel 8", "203.0.113.5", "MyApp/1.0")
    assert listed_other.ip == "2001:db8::1"
    assert parsed.session_id.encode() in fields(old)  # still layout 1

    session = store.authenticate(parsed)
    assert session is not None and session.user_id == "7" and session.id == parsed.session_id
    assert (session.device, session.ip) == ("Pixel 8", "203.0.113.5")
    assert abs(session.created_ms - listed_old.created_ms) <= 1
    assert tokens.session_field(parsed.session_id) in fields(old)  # rewritten as layout 2
    assert parsed.session_id.encode() not in fields(old)
    again = store.authenticate(parsed)
    assert again is not None and again.device == "Pixel 8" and again.ip == "203.0.113.5"

    # the other one, still layout 1, is revoked by logout-all with the new one
    assert sorted(store.revoke_all(7)) == sorted([parsed.session_id, parse(other).session_id])
    assert store.authenticate(parsed) is None and store.authenticate(parse(other)) is None
    assert not connection.get_client().exists(store.user_key(parsed.tag))


def test_a_layout_1_session_is_revoked_by_its_token_and_by_id():
    first, second = layouts.issue_legacy(8), layouts.issue_legacy(8)
    assert store.revoke_token(parse(first))
    assert store.authenticate(parse(first)) is None
    assert store.revoke_session(8, parse(second).session_id)
    assert store.authenticate(parse(second)) is None


def test_a_layout_1_session_of_a_wrong_token_is_refused():
    old = parse(layouts.issue_legacy(9))
    forged = tokens.generate(token_settings.TOKEN_PREFIX, old.tag, old.session_id, tokens.UNKEYED_VERSION)
    assert store.authenticate(parse(forged)) is None
    assert store.authenticate(old) is not None


def test_lowering_the_absolute_lifetime_applies_to_existing_sessions(settings):
    issued = store.issue_token(7)
    layouts.rewind(issued.token, 120)  # created two minutes ago
    settings.REDISTOKEN = {**settings.REDISTOKEN, "ABSOLUTE_LIFETIME": 100, "IDLE_TIMEOUT": 60}
    assert store.authenticate(parse(issued.token)) is None
    assert store.list_sessions(7) == []


def test_lowering_the_idle_timeout_applies_to_existing_sessions(settings):
    issued = store.issue_token(7)
    layouts.rewind(issued.token, 30)
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 20, "RENEW_INTERVAL": 0}
    assert store.authenticate(parse(issued.token)) is None


def test_raising_the_idle_timeout_never_revives_an_idled_out_session(settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 1, "ABSOLUTE_LIFETIME": 100}
    dead, alive = store.issue_token(7), store.issue_token(7)
    time.sleep(1.3)  # dead idled out under IDLE_TIMEOUT 1 s, and nothing pruned it
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 3600, "ABSOLUTE_LIFETIME": 7200}
    assert store.authenticate(parse(dead.token)) is None
    assert store.list_sessions(7) == []
    assert store.authenticate(parse(alive.token)) is None
    fresh = store.issue_token(7)
    session = store.authenticate(parse(fresh.token))
    assert session is not None and session.expires_in > 3500  # the new setting applies from the next write


def test_raising_the_lifetime_extends_a_live_session_from_its_next_renewal(settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 10, "ABSOLUTE_LIFETIME": 20, "RENEW_INTERVAL": 0}
    issued = store.issue_token(7)
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 100, "ABSOLUTE_LIFETIME": 200}
    time.sleep(0.01)  # a renewal needs a later millisecond
    session = store.authenticate(parse(issued.token))
    assert session is not None and 99 <= session.expires_in <= 100
    created, last, deadline = layouts.times(issued.token)
    assert created == issued.session.created_ms and deadline - last >= 100_000


def test_the_credential_is_kept_and_listed():
    agent = "MyApp/3.2 (Android 14)"
    issued = store.issue_token(7, device="d", ip="203.0.113.9", user_agent=agent, credential="Ab3_x9Z!")
    session = store.authenticate(parse(issued.token))
    assert session is not None and session.credential == "Ab3_x9Z!" == issued.session.credential
    assert store.list_sessions(7)[0].credential == "Ab3_x9Z!"
    assert store.authenticate(parse(store.issue_token(7).token)).credential == ""  # type: ignore[union-attr]


def test_every_value_stays_within_the_listpack_limit(settings):
    """The longest inputs still give values of at most 64 bytes (the rest
    moves to a second field), so a user hash stays a listpack."""
    settings.REDISTOKEN = {**settings.REDISTOKEN, "STORE_USER_AGENT": True}
    long_agent = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) " + "Ü" * 200
    address = "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"
    issued = store.issue_token("u" * 60, device="é" * 16, ip=address, user_agent=long_agent, credential="12345678")
    client = connection.get_client()
    stored = client.hgetall(store.user_key(parse(issued.token).tag))
    assert all(len(name) <= 64 and len(value) <= 64 for name, value in stored.items())
    session = store.authenticate(parse(issued.token))
    assert session is not None
    assert (session.device, session.ip, session.credential) == ("é" * 16, address, "12345678")
    assert session.user_agent and long_agent.startswith(session.user_agent)
    assert len(session.user_agent.encode()) <= 64
