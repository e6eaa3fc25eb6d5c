"""The store API on fakeredis and on a real Redis server."""

import threading
import time

import pytest

from redistoken import connection, keys, store, tokens
from redistoken.settings import token_settings

from . import layouts

pytestmark = pytest.mark.usefixtures("backend")


def parse(raw: str) -> tokens.ParsedToken:
    return tokens.parse(token_settings.TOKEN_PREFIX, raw)


def user_hash(raw: str) -> str:
    return store.user_key(parse(raw).tag)


def set_last_used(raw: str, seconds_ago: float) -> None:
    """Rewind a session's last use, as if it had been idle that long."""
    layouts.rewind(raw, seconds_ago)


def test_issue_then_authenticate_returns_the_session():
    issued = store.issue_token(7, device="Pixel 8", ip="203.0.113.5", user_agent="MyApp/1.0 (Android 14)")
    session = store.authenticate(parse(issued.token))
    assert session is not None
    assert session.id == issued.session.id
    assert session.user_id == "7"
    assert (session.device, session.ip, session.device_label) == ("Pixel 8", "203.0.113.5", "MyApp 1.0 on Android 14")
    assert session.user_agent == ""  # kept only with STORE_USER_AGENT
    assert session == issued.session.__class__(**{**issued.session.__dict__, "now_ms": session.now_ms})
    assert session.created == issued.session.created
    assert 0 < session.expires_in <= token_settings.IDLE_TIMEOUT


def test_raw_token_never_reaches_redis():
    issued = store.issue_token(7, device="d")
    client = connection.get_client()
    secret = issued.token.encode()[-33:-6]
    keys = list(client.scan_iter(match=f"{token_settings.KEY_PREFIX}*"))
    assert len(keys) == 1
    stored = b"".join([keys[0], *(part for item in client.hgetall(keys[0]).items() for part in item)])
    assert issued.token.encode() not in stored
    assert secret not in stored


def test_unknown_token_and_wrong_secret_are_none():
    issued = store.issue_token(7)
    parsed = parse(issued.token)
    forged = tokens.generate(token_settings.TOKEN_PREFIX, parsed.tag, parsed.session_id)
    assert store.authenticate(parse(forged)) is None
    stranger = tokens.generate(token_settings.TOKEN_PREFIX, parsed.tag, tokens.new_session_id())
    assert store.authenticate(parse(stranger)) is None
    assert store.authenticate(parse(issued.token)) is not None


def test_authentication_renews_the_idle_timeout(settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 10, "ABSOLUTE_LIFETIME": 100}
    issued = store.issue_token(7)
    parsed = parse(issued.token)
    client = connection.get_client()
    set_last_used(issued.token, 7)
    client.pexpire(user_hash(issued.token), 3000)  # as the last renewal left it
    session = store.authenticate(parsed)
    assert session is not None
    assert 9.0 < session.expires_in <= 10
    assert 9000 < client.pttl(user_hash(issued.token)) <= 10000
    assert session.last_used >= issued.session.last_used


def test_idle_session_expires(settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 1, "ABSOLUTE_LIFETIME": 100}
    issued = store.issue_token(7)
    time.sleep(1.2)
    assert store.authenticate(parse(issued.token)) is None
    assert store.list_sessions(7) == []


def test_renewal_never_passes_the_absolute_lifetime(settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 2, "ABSOLUTE_LIFETIME": 3}
    issued = store.issue_token(7)
    absolute = issued.session.created.timestamp() + 3
    deadline = time.time() + 5
    alive_until = None
    while time.time() < deadline:
        session = store.authenticate(parse(issued.token))
        if session is None:
            break
        assert session.expires_at.timestamp() <= absolute + 0.001
        alive_until = time.time()
        time.sleep(0.2)
    assert store.authenticate(parse(issued.token)) is None
    assert alive_until is not None and alive_until < absolute + 0.5


def test_renew_interval_skips_writes_until_due(settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 100, "RENEW_INTERVAL": 30}
    issued = store.issue_token(7)
    parsed = parse(issued.token)
    client = connection.get_client()
    key = user_hash(issued.token)
    set_last_used(issued.token, 20)  # not due yet: nothing is written
    before = client.hget(key, parsed.session_id)
    session = store.authenticate(parsed)
    assert session is not None and 79 <= session.expires_in <= 80
    assert client.hget(key, parsed.session_id) == before
    set_last_used(issued.token, 40)  # due: renewed
    session = store.authenticate(parsed)
    assert session is not None and session.expires_in > 99
    assert client.pttl(key) > 99_000


def test_logout_kills_only_that_session():
    first, second = store.issue_token(7), store.issue_token(7)
    assert store.revoke_session(7, first.session.id)
    assert store.authenticate(parse(first.token)) is None
    assert store.authenticate(parse(second.token)) is not None
    assert not store.revoke_session(7, first.session.id)  # already gone


def test_revoke_session_of_another_user_does_nothing():
    mine = store.issue_token(7)
    assert not store.revoke_session(8, mine.session.id)
    assert store.authenticate(parse(mine.token)) is not None
    assert not store.revoke_session(7, "not-an-id")


def test_revoke_all_and_others():
    issued = [store.issue_token(7) for _ in range(5)]
    other_user = store.issue_token(8)
    kept = issued[0]
    revoked = store.revoke_other_sessions(7, kept.session.id)
    assert sorted(revoked) == sorted(i.session.id for i in issued[1:])
    assert [s.id for s in store.list_sessions(7)] == [kept.session.id]
    assert store.revoke_all(7) == [kept.session.id]
    assert all(store.authenticate(parse(i.token)) is None for i in issued)
    assert store.authenticate(parse(other_user.token)) is not None


def test_revoke_token_without_knowing_the_user():
    issued = store.issue_token(7)
    assert store.revoke_token(parse(issued.token))
    assert store.authenticate(parse(issued.token)) is None
    assert not store.revoke_token(parse(issued.token))


def test_listing_prunes_dead_sessions_and_orders_by_last_use(settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "RENEW_INTERVAL": 0}  # "last use" exact to the ms
    first, second = store.issue_token(7), store.issue_token(7)
    time.sleep(0.01)
    store.authenticate(parse(first.token))
    listed = store.list_sessions(7)
    assert [s.id for s in listed] == [first.session.id, second.session.id]
    set_last_used(second.token, token_settings.IDLE_TIMEOUT + 1)  # as if expired
    assert [s.id for s in store.list_sessions(7)] == [first.session.id]
    assert connection.get_client().hlen(user_hash(second.token)) == 2  # pruned: one session, one user slot


def test_user_hash_expires_with_its_last_session(settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 1, "ABSOLUTE_LIFETIME": 10}
    issued = store.issue_token(7)
    time.sleep(1.3)
    assert not connection.get_client().exists(user_hash(issued.token))


def test_users_sharing_a_tag_stay_apart(monkeypatch):
    monkeypatch.setattr(tokens, "user_tag", lambda user_id, key=None: "SAMETAG0")
    alice, bob = store.issue_token("alice"), store.issue_token("bob")
    assert [s.id for s in store.list_sessions("alice")] == [alice.session.id]
    assert store.revoke_all("alice") == [alice.session.id]
    assert store.authenticate(parse(bob.token)) is not None
    assert not store.revoke_session("alice", bob.session.id)


def test_device_name_replaces_the_old_session():
    old = store.issue_token(7, device="Pixel 8")
    other = store.issue_token(7, device="iPad")
    new = store.issue_token(7, device="Pixel 8")
    assert store.authenticate(parse(old.token)) is None
    assert {s.id for s in store.list_sessions(7)} == {other.session.id, new.session.id}


def test_cap_evicts_least_recently_used(settings):
    # "Used" is as of the last renewal: renew on every request to see 10 ms apart.
    settings.REDISTOKEN = {**settings.REDISTOKEN, "MAX_SESSIONS_PER_USER": 2, "RENEW_INTERVAL": 0}
    first = store.issue_token(7)
    time.sleep(0.01)
    second = store.issue_token(7)
    time.sleep(0.01)
    store.authenticate(parse(first.token))  # first is now the most recently used
    third = store.issue_token(7)
    assert {s.id for s in store.list_sessions(7)} == {first.session.id, third.session.id}
    assert store.authenticate(parse(second.token)) is None


def test_cap_holds_under_racing_logins(settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "MAX_SESSIONS_PER_USER": 3}
    store.issue_token(7)  # build the client before the threads start
    threads = [threading.Thread(target=store.issue_token, args=(7,)) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(store.list_sessions(7)) == 3


def test_renewal_racing_logout_never_resurrects():
    issued = store.issue_token(7)
    parsed = parse(issued.token)
    stop = threading.Event()
    errors: list[BaseException] = []

    def hammer() -> None:
        try:
            while not stop.is_set():
                store.authenticate(parsed)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    assert store.revoke_session(7, issued.session.id)
    # No request that starts after the revoke returned may authenticate.
    seen_after = [store.authenticate(parsed) for _ in range(50)]
    stop.set()
    for thread in threads:
        thread.join()
    assert errors == []
    assert seen_after == [None] * 50
    client = connection.get_client()
    assert not client.hexists(user_hash(issued.token), parsed.session_id)
    assert store.list_sessions(7) == []


def test_authenticate_is_one_round_trip_and_lost_script_cache_is_reloaded(counting_client):
    issued = store.issue_token(7)
    store.authenticate(parse(issued.token))  # the server caches the script
    counting_client.calls.clear()
    assert store.authenticate(parse(issued.token)) is not None
    assert counting_client.calls == ["evalsha"]
    counting_client.inner.script_flush()
    counting_client.calls.clear()
    assert store.authenticate(parse(issued.token)) is not None
    assert counting_client.calls == ["evalsha", "eval"]
    counting_client.calls.clear()
    store.authenticate(parse(issued.token))
    assert counting_client.calls == ["evalsha"]


def test_revoke_all_of_many_sessions_is_one_round_trip(counting_client, settings, backend):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "MAX_SESSIONS_PER_USER": 1000}
    store.revoke_all(7)  # the server (the user's node, on a cluster) caches the script
    for _ in range(200):
        store.issue_token(7)
    counting_client.calls.clear()
    assert len(store.revoke_all(7)) == 200
    # The hash of each signing key and format 1's: one pipelined round trip,
    # or on a Cluster (whose pipelines refuse EVALSHA) one script per hash.
    hashes = len(keys.user_tags("7"))
    assert counting_client.calls == (["evalsha"] * hashes if backend == "cluster" else ["pipeline"])


def test_authenticate_returns_metadata_and_user_ids_with_separators_intact():
    """authenticate.lua packs its answer into one string; nothing a session
    may hold can be confused with its separators."""
    issued = store.issue_token("x|y\nz", device="A|B\x00 Ünïcode", ip="2001:db8::1", user_agent="App/1 (a|b)\tc")
    session = store.authenticate(parse(issued.token))
    assert session is not None
    assert session.user_id == "x|y\nz"
    assert (session.device, session.ip, session.device_label) == ("A|B Ünïcode", "2001:db8::1", "App 1")
    assert session.expires_at >= issued.session.expires_at
