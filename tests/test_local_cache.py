"""The opt-in zero-round-trip mode (``LOCAL_CACHE``) against real Redis.

The bound under test: once a revoking call has returned, no request that
starts ``LOCAL_CACHE_MAX_STALENESS`` (D) later is served from a cache, in
every failure mode. Staleness is measured from the START of each call that
still returned the session, so the assertion is about the bound, not speed.
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from redistoken import connection, local_cache, store, tokens
from redistoken.checks import check_settings
from redistoken.local_cache import resp3
from redistoken.settings import token_settings

from .conftest import CountingClient, wait_until
from .proxy import FreezingProxy
from .servers import RedisServer, free_port, require_redis_server

D = 0.05  # the default LOCAL_CACHE_MAX_STALENESS
THREADS = 4


def ready_cache() -> local_cache.LocalCache[Any]:
    cache = local_cache.active()
    assert cache is not None
    wait_until(cache.fresh)
    return cache


def login(user_id: str) -> tokens.ParsedToken:
    return tokens.parse(token_settings.TOKEN_PREFIX, store.issue_token(user_id).token)


def warm(cache: local_cache.LocalCache[Any], token: tokens.ParsedToken) -> None:
    """Authenticate until the session is served from the cache."""
    for _ in range(500):
        hits = cache.hits
        assert store.authenticate(token) is not None
        if cache.hits > hits:
            return
        time.sleep(0.005)
    pytest.fail("the session was never served from the cache")


def is_hit(cache: local_cache.LocalCache[Any], token: tokens.ParsedToken) -> bool:
    hits = cache.hits
    store.authenticate(token)
    return cache.hits > hits


def cache_settings(url: str, prefix: str, **extra: Any) -> dict[str, Any]:
    return {
        "REDIS_URL": url,
        "KEY_PREFIX": prefix,
        "SOCKET_TIMEOUT": 2,
        "LOCAL_CACHE": True,
        "RENEW_INTERVAL": 60,
        **extra,
    }


@pytest.fixture
def cached(real_redis: redis.Redis, settings: Any) -> redis.Redis:
    """The shared real server with the mode on (a private key prefix)."""
    settings.REDISTOKEN = {**settings.REDISTOKEN, "LOCAL_CACHE": True, "RENEW_INTERVAL": 60}
    return real_redis


@pytest.fixture
def private_server() -> Iterator[RedisServer]:
    server = RedisServer().start()
    yield server
    server.cleanup()
    connection.reset_client()


class Hammer:
    """Threads authenticating one token in a loop until it is refused,
    recording when the last accepted and the first refused call started."""

    def __init__(self, token: tokens.ParsedToken, threads: int = THREADS) -> None:
        self.token = token
        self.last_accepted = [0.0] * threads
        self.first_refused = [float("inf")] * threads
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(threads)]
        for thread in self.threads:
            thread.start()

    def _run(self, index: int) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            if store.authenticate(self.token) is None:
                self.first_refused[index] = started
                return
            self.last_accepted[index] = started

    def join(self, timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self.stop.set()
        assert all(refused < float("inf") for refused in self.first_refused), "a thread never saw the revocation"


# -- the normal operation ------------------------------------------------------


def test_a_hit_costs_no_round_trip(cached: redis.Redis, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = ready_cache()
    token = login("1")
    warm(cache, token)
    counter = CountingClient(connection.get_client())
    monkeypatch.setattr(connection, "_client", counter)
    hits, misses = cache.hits, cache.misses
    for _ in range(50):
        session = store.authenticate(token)
        assert session is not None and session.id == token.session_id and session.user_id == "1"
    assert cache.hits > hits
    assert len(counter.calls) == cache.misses - misses  # every hit was free, every miss one call


def test_revocation_of_every_kind_reaches_every_thread_within_the_bound(cached: redis.Redis) -> None:
    cache = ready_cache()
    kinds: list[Callable[[str, tokens.ParsedToken, tokens.ParsedToken], Any]] = [
        lambda user, token, other: store.revoke_session(user, token.session_id),
        lambda user, token, other: store.revoke_all(user),
        lambda user, token, other: store.revoke_other_sessions(user, other.session_id),
        lambda user, token, other: store.revoke_token(token),
        lambda user, token, other: store.revoke_all(user, reason=store.Reason.PASSWORD_CHANGE),
        lambda user, token, other: store.revoke_session(user, token.session_id, reason=store.Reason.ADMIN, actor=0),
    ]
    worst_stale, delays, hits = float("-inf"), [], cache.hits
    for trial in range(24):
        user = f"user{trial}"
        token, other = login(user), login(user)
        warm(cache, token)
        hammer = Hammer(token)
        time.sleep(0.005)
        kinds[trial % len(kinds)](user, token, other)
        revoked = time.monotonic()
        hammer.join()
        worst_stale = max(worst_stale, max(hammer.last_accepted) - revoked)
        delays.append(max(0.0, max(hammer.first_refused) - revoked))
    delays.sort()
    print(
        f"revocation seen by all {THREADS} threads: median {delays[len(delays) // 2] * 1e3:.2f} ms, "
        f"worst {delays[-1] * 1e3:.2f} ms; latest accepted call started {worst_stale * 1e3:.2f} ms after"
    )
    assert cache.hits - hits > 24 * 2  # the threads were being served from the cache, not only warm()
    assert worst_stale < D


@pytest.mark.django_db
def test_a_session_ended_by_reconcile_leaves_the_cache_like_any_revocation(cached: redis.Redis) -> None:
    from redistoken.reconcile import reconcile

    cache = ready_cache()
    token = login("424242")  # no such user: reconcile ends its sessions as deleted
    warm(cache, token)
    assert reconcile().as_dict()["by_reason"]["deleted"] == 1
    wait_until(lambda: not is_hit(cache, token), timeout=D * 20)
    assert store.authenticate(token) is None


def test_a_session_is_not_cached_when_its_hash_changes_during_the_read(cached: redis.Redis) -> None:
    cache = ready_cache()
    token = login("3")

    def read_racing_a_login() -> tuple[store.Session | None, float]:
        result = store.sessions._authenticate_for_cache(token)
        store.issue_token("3")  # another process logs the same user in: a write to the same hash
        written = time.monotonic()
        wait_until(lambda: cache.synced_after(written))  # its invalidation has been applied
        return result

    session = cache.lookup(token.tag, token.session_id, token.raw, read_racing_a_login)
    assert session is not None and session.id == token.session_id
    assert len(cache) == 0
    assert not is_hit(cache, token)  # read again from Redis, and now cached
    assert is_hit(cache, token)


def test_not_found_is_never_cached_and_a_new_login_is_seen_at_once(cached: redis.Redis) -> None:
    cache = ready_cache()
    token = login("4")
    store.revoke_all("4")
    assert store.authenticate(token) is None
    assert len(cache) == 0
    fresh = login("4")
    assert store.authenticate(fresh) is not None


def test_a_wrong_secret_for_a_cached_session_is_refused(cached: redis.Redis) -> None:
    cache = ready_cache()
    token = login("5")
    warm(cache, token)
    forged_raw = tokens.generate(token_settings.TOKEN_PREFIX, token.tag, token.session_id)  # same id, other secret
    forged = tokens.parse(token_settings.TOKEN_PREFIX, forged_raw)
    assert store.authenticate(forged) is None
    assert is_hit(cache, token)


def test_the_cache_is_bounded_least_recently_used_out(cached: redis.Redis, settings: Any) -> None:
    settings.REDISTOKEN = {**settings.REDISTOKEN, "LOCAL_CACHE_SIZE": 3}
    cache = ready_cache()
    sessions = [login(f"lru{i}") for i in range(5)]
    for token in sessions:
        warm(cache, token)
    assert len(cache) == 3
    assert not is_hit(cache, sessions[0])  # evicted first
    assert is_hit(cache, sessions[4])


def test_a_session_in_continuous_use_keeps_sliding(cached: redis.Redis, settings: Any) -> None:
    renew = 0.3
    settings.REDISTOKEN = {**settings.REDISTOKEN, "IDLE_TIMEOUT": 1, "RENEW_INTERVAL": renew}
    cache = ready_cache()
    token = login("6")
    renewals: set[float] = set()
    starts: list[float] = []
    hits, misses = cache.hits, cache.misses
    deadline = time.monotonic() + 2.5  # well past IDLE_TIMEOUT
    while time.monotonic() < deadline:
        starts.append(time.monotonic())
        session = store.authenticate(token)
        assert session is not None, "a session in use expired"
        renewals.add(session.last_used.timestamp())
        time.sleep(0.003)
    stamps = sorted(renewals)
    assert len(stamps) >= 6
    # Renewed by the first request after each interval: never later than
    # the interval plus the longest pause between two requests.
    pause = max(b - a for a, b in itertools.pairwise(starts))
    assert max(b - a for a, b in itertools.pairwise(stamps)) < renew + pause + 0.05
    assert cache.hits - hits > cache.misses - misses  # mostly served locally meanwhile


# -- failure modes ---------------------------------------------------------------


@pytest.mark.servers
def test_the_local_deadline_ends_a_session_whose_hash_lives_on(private_server: RedisServer, settings: Any) -> None:
    # No invalidation ever comes for this expiry: the hash lives on for
    # another session, and Redis is busy expiring many other keys.
    settings.REDISTOKEN = cache_settings(
        private_server.url, "ttl:", IDLE_TIMEOUT=2, ABSOLUTE_LIFETIME=2, RENEW_INTERVAL=1.5
    )
    with private_server.client().pipeline(transaction=False) as pipe:
        for i in range(20_000):
            pipe.set(f"other:{i}", "x", px=random.randint(200, 3000))
        pipe.execute()
    cache = ready_cache()
    token = login("8")
    issued = time.monotonic()  # the session's absolute deadline is at most 2 s after this
    time.sleep(0.8)
    login("8")  # keeps the user's hash alive until at least 2.8 s
    accepted_after_deadline, hits = [], cache.hits
    while time.monotonic() < issued + 2.3:
        started = time.monotonic()
        if store.authenticate(token) is not None and started >= issued + 2:
            accepted_after_deadline.append(started - issued)
        time.sleep(0.002)
    assert private_server.client().exists(store.user_key(token.tag)), "the hash expired: the test proves nothing"
    assert cache.hits > hits
    assert accepted_after_deadline == []


@pytest.mark.servers
def test_a_silently_dead_channel_falls_back_within_the_bound(private_server: RedisServer, settings: Any) -> None:
    proxy = FreezingProxy(private_server.port)
    try:
        settings.REDISTOKEN = cache_settings(proxy.url, "dead:")
        cache = ready_cache()
        doomed, kept = login("9"), login("10")
        warm(cache, doomed)
        warm(cache, kept)
        proxy.freeze()  # the tracking path hangs with its socket open
        store.revoke_all("9")
        revoked = time.monotonic()
        stale, hits_after_bound = [], None
        while time.monotonic() < revoked + 0.4:
            started = time.monotonic()
            if store.authenticate(doomed) is not None:
                stale.append(started - revoked)
            assert store.authenticate(kept) is not None  # the one-round-trip path still answers
            if hits_after_bound is None and started > revoked + D:
                hits_after_bound = cache.hits
        assert max(stale, default=0.0) < D
        assert hits_after_bound is not None and cache.hits == hits_after_bound  # no hit on a stale channel
        proxy.thaw()
        wait_until(lambda: is_hit(cache, kept))  # reconnected, heartbeat answered: hits again
        assert store.authenticate(doomed) is None
    finally:
        proxy.close()


@pytest.mark.servers
def test_a_killed_tracking_connection_flushes_and_recovers(private_server: RedisServer, settings: Any) -> None:
    settings.REDISTOKEN = cache_settings(private_server.url, "kill:")
    cache = ready_cache()
    doomed, kept = login("11"), login("12")
    warm(cache, doomed)
    warm(cache, kept)
    admin = private_server.client()
    tracking = [c for c in admin.client_list() if c["name"] == local_cache.CLIENT_NAME]
    assert len(tracking) == 1
    admin.client_kill_filter(_id=tracking[0]["id"])
    store.revoke_all("11")  # while the tracking connection is gone
    revoked = time.monotonic()
    stale = []
    while time.monotonic() < revoked + 0.3:
        started = time.monotonic()
        if store.authenticate(doomed) is not None:
            stale.append(started - revoked)
    assert max(stale, default=0.0) < D
    wait_until(lambda: cache.connections == 2 and cache.fresh())
    assert not is_hit(cache, kept)  # flushed: read again from Redis
    assert is_hit(cache, kept)
    renamed = [c for c in admin.client_list() if c["name"] == local_cache.CLIENT_NAME]
    assert len(renamed) == 1 and renamed[0]["id"] != tracking[0]["id"]


def test_a_forked_worker_never_uses_its_parents_cache(cached: redis.Redis) -> None:
    parent_cache = ready_cache()
    doomed, kept = login("13"), login("14")
    warm(parent_cache, doomed)
    warm(parent_cache, kept)
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status, never return into pytest
        status = 1
        try:
            own = local_cache.active()
            if own is not parent_cache and own is not None and len(own) == 0:
                status = 2
                store.revoke_all("13")
                if store.authenticate(doomed) is None and store.authenticate(kept) is not None:
                    status = 0
        finally:
            os._exit(status)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    time.sleep(D)  # the child's revocation returned before it exited
    assert store.authenticate(doomed) is None  # the parent's listener still hears everything
    assert is_hit(parent_cache, kept)


class Sentinel:
    """A private Sentinel watching ``primary`` (redis-server --sentinel)."""

    def __init__(self, primary: RedisServer) -> None:
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="redistoken-sentinel-"))
        config = self.dir / "sentinel.conf"
        config.write_text(
            f"port {self.port}\nbind 127.0.0.1\ndir {self.dir}\n"
            f"sentinel monitor m 127.0.0.1 {primary.port} 1\n"
            "sentinel down-after-milliseconds m 1000\nsentinel failover-timeout m 5000\n"
        )
        self.process = subprocess.Popen(
            [require_redis_server(), str(config), "--sentinel"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.client = redis.Redis(port=self.port, socket_timeout=5, decode_responses=True)
        wait_until(self._ready)

    def _ready(self) -> bool:
        try:
            return bool(self.client.execute_command("SENTINEL", "REPLICAS", "m"))
        except redis.exceptions.RedisError:
            return False

    def failover(self) -> bool:
        try:
            return bool(self.client.execute_command("SENTINEL", "FAILOVER", "m"))
        except redis.exceptions.ResponseError:
            return False

    def primary_port(self) -> int:
        return int(self.client.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", "m")[1])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.mark.servers
def test_a_sentinel_failover_is_a_reconnect(settings: Any) -> None:
    fast_sync = ("--repl-diskless-sync-delay", "0")
    old = RedisServer(*fast_sync).start()
    new = RedisServer(*fast_sync, "--replicaof", "127.0.0.1", str(old.port)).start()
    sentinel = Sentinel(old)
    try:
        wait_until(lambda: new.client().info("replication")["master_link_status"] == "up")
        settings.REDISTOKEN = {
            "SENTINELS": [("127.0.0.1", sentinel.port)],
            "SENTINEL_SERVICE_NAME": "m",
            "KEY_PREFIX": "failover:",
            "LOCAL_CACHE": True,
            "RENEW_INTERVAL": 60,
            "SOCKET_TIMEOUT": 1,
            "RETRY_ATTEMPTS": 3,
            # This test is about the cache's reconnect: logins right after the
            # switch, before the old primary rejoins as a replica, would wait for
            # a replica that is not there yet (503; tests/test_durability.py).
            "WAIT_FOR_REPLICAS": 0,
        }
        cache = ready_cache()
        doomed, kept = login("16"), login("17")
        warm(cache, doomed)
        warm(cache, kept)
        # Not WAIT: it counts the acknowledgements of its own connection's
        # writes, and a fresh connection has written nothing.
        wait_until(lambda: _replicated(old, new))  # both sessions reached the replica
        wait_until(sentinel.failover)  # refused until Sentinel has judged the replica good
        wait_until(lambda: sentinel.primary_port() == new.port)
        # What Sentinel does to the old primary when it next looks at it (up
        # to 10 s later), done now: demote it and drop its clients. Until the
        # failover completes, Sentinel still names the old primary (now a
        # replica) to redis-py: the tracking connection must refuse it.
        old.client().replicaof("127.0.0.1", new.port)
        old.client().client_kill_filter(_type="normal")
        pool = connection.get_client().connection_pool
        wait_until(lambda: pool.get_master_address()[1] == new.port)
        wait_until(lambda: _revoked_all("16"))  # the store follows the new primary
        revoked = time.monotonic()
        stale = []
        while time.monotonic() < revoked + 0.3:
            started = time.monotonic()
            if _authenticate_or_none(doomed) is not None:
                stale.append(started - revoked)
        assert max(stale, default=0.0) < D
        wait_until(lambda: is_hit(cache, kept))  # tracking the new primary
        names = [c["name"] for c in new.client().client_list()]
        assert local_cache.CLIENT_NAME in names
    finally:
        sentinel.stop()
        new.cleanup()
        old.cleanup()
        connection.reset_client()


def _replicated(primary: RedisServer, replica: RedisServer) -> bool:
    """The replica has applied every write the primary has made so far."""
    offset = primary.client().info("replication")["master_repl_offset"]
    return replica.client().info("replication")["slave_repl_offset"] >= offset


def _revoked_all(user: str) -> bool:
    try:
        store.revoke_all(user)
        return True
    except store.StoreUnavailable:
        return False


def _authenticate_or_none(token: tokens.ParsedToken) -> store.Session | None:
    try:
        return store.authenticate(token)
    except store.StoreUnavailable:
        return None


# -- settings ---------------------------------------------------------------------


def test_the_embedded_store_keeps_the_mode_off_with_a_warning(settings: Any) -> None:
    settings.REDISTOKEN = {"LOCAL_CACHE": True, "RENEW_INTERVAL": 60, "KEY_PREFIX": "emb:", "EMBEDDED_STORE": True}
    assert "redistoken.W003" in [message.id for message in check_settings()]
    assert local_cache.active() is None
    token = login("15")
    assert store.authenticate(token) is not None
    connection.reset_client()


@pytest.mark.parametrize(
    "extra, message",
    [
        ({"RENEW_INTERVAL": 0}, "LOCAL_CACHE needs RENEW_INTERVAL > 0"),
        ({"CLUSTER": True}, "LOCAL_CACHE does not support Redis Cluster"),
        ({"LOCAL_CACHE_MAX_STALENESS": 0}, "LOCAL_CACHE_MAX_STALENESS must be between"),
        ({"LOCAL_CACHE_SIZE": 0}, "LOCAL_CACHE_SIZE must be a positive integer"),
    ],
)
def test_settings_the_mode_cannot_work_with_are_errors_and_keep_it_off(
    settings: Any, extra: dict[str, Any], message: str
) -> None:
    settings.REDISTOKEN = cache_settings("redis://127.0.0.1:1/0", "bad:", **extra)
    errors = [m.msg for m in check_settings() if m.id == "redistoken.E001"]
    assert any(message in error for error in errors), errors
    assert local_cache.active() is None


def test_the_reader_never_takes_part_of_a_message() -> None:
    stream = (
        b">2\r\n$10\r\ninvalidate\r\n*2\r\n$6\r\nrt:{a}\r\n$6\r\nrt:{b}\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n+PONG\r\n"
    )
    messages: list[Any] = []
    buffer = bytearray()
    for byte in stream:  # the worst split: one byte at a time
        buffer.append(byte)
        pos = 0
        while True:
            try:
                message, pos = resp3.parse(buffer, pos)
            except resp3.Incomplete:
                break
            messages.append(message)
        del buffer[:pos]
    assert messages == [[b"invalidate", [b"rt:{a}", b"rt:{b}"]], [b"invalidate", None], b"PONG"]
    assert [isinstance(m, resp3.Push) for m in messages] == [True, True, False]
    assert buffer == b""
