"""Fixtures: every store-level test runs on fakeredis and on a real Redis.

Real-server tests use ``REDIS_URL`` (default ``redis://127.0.0.1:6379/9``)
with a key prefix unique to the test, and delete only their own keys. When
that server does not answer they are skipped with the reason, unless
``REDISTOKEN_REQUIRE_REDIS=1`` (set by CI), where they fail instead.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from redistoken import connection, signals

from . import servers

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")
REQUIRE_REDIS = os.environ.get("REDISTOKEN_REQUIRE_REDIS") == "1"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``servers`` every test run on the private Redis Cluster (through
    the ``backend`` parameter or the fixture), in whichever module. A test
    that starts a server of its own carries the mark itself."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_cluster = callspec is not None and callspec.params.get("backend") == "cluster"
        if on_cluster or "redis_cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.servers)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    servers.marked = item.get_closest_marker("servers") is not None


def real_redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=5)
    try:
        client.ping()
    except redis.exceptions.RedisError as exc:
        message = f"no Redis at {REDIS_URL} ({exc}); set REDIS_URL to run real-server tests"
        if REQUIRE_REDIS:
            pytest.fail(message)
        pytest.skip(message)
    return client


def delete_prefix(client: redis.Redis, prefix: str) -> None:
    for key in client.scan_iter(match=f"{prefix}*", count=1000):
        client.delete(key)


@pytest.fixture(scope="session")
def redis_cluster() -> Iterator[Any]:
    """A private three-primary Redis Cluster for the whole test run."""
    from .servers import REDIS_CLI, REDIS_SERVER, RedisClusterServers

    if REDIS_SERVER is None or REDIS_CLI is None:
        message = "redis-server and redis-cli are not on the PATH; the Redis Cluster tests need them"
        if REQUIRE_REDIS:
            pytest.fail(message)
        pytest.skip(message)
    cluster = RedisClusterServers(3)
    try:
        yield cluster.start()
    finally:
        cluster.cleanup()


@pytest.fixture(params=["fakeredis", "redis", "cluster"])
def backend(request: pytest.FixtureRequest, settings: Any) -> Iterator[str]:
    """Point redistoken at fakeredis, a real server or a real Redis Cluster,
    with a private key prefix."""
    prefix = f"rttest-{uuid.uuid4().hex[:12]}:"
    if request.param == "cluster":
        from redis.cluster import RedisCluster

        cluster = request.getfixturevalue("redis_cluster")
        settings.REDISTOKEN = {"REDIS_URL": cluster.url, "CLUSTER": True, "KEY_PREFIX": prefix, "SOCKET_TIMEOUT": 2}
        yield request.param
        admin = RedisCluster.from_url(cluster.url)
        delete_prefix(admin, prefix)
        admin.close()
    elif request.param == "redis":
        client = real_redis_or_skip()
        settings.REDISTOKEN = {"REDIS_URL": REDIS_URL, "KEY_PREFIX": prefix, "SOCKET_TIMEOUT": 2}
        yield request.param
        delete_prefix(client, prefix)
        client.close()
    else:
        settings.REDISTOKEN = {"KEY_PREFIX": prefix, "EMBEDDED_STORE": True}
        yield request.param
    connection.reset_client()


@pytest.fixture
def real_redis(settings: Any) -> Iterator[redis.Redis]:
    """The real server only (for counting on the server, TTL precision, ...)."""
    client = real_redis_or_skip()
    prefix = f"rttest-{uuid.uuid4().hex[:12]}:"
    settings.REDISTOKEN = {"REDIS_URL": REDIS_URL, "KEY_PREFIX": prefix, "SOCKET_TIMEOUT": 2}
    yield client
    delete_prefix(client, prefix)
    client.close()
    connection.reset_client()


def sessions_on(client: redis.Redis) -> int:
    """Users' session hashes on a server: its keys less the login throttle's counters."""
    return sum(1 for key in client.scan_iter(count=1000) if b"{throttle}" not in key)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll until ``condition()`` holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.002)


class CountingClient:
    """Wraps the store's client and counts the commands sent through it."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    #: The Cluster client's routing: lookups in its slot table, not commands.
    ROUTING = ("get_node_from_key", "get_redis_connection")

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not callable(attribute) or name in self.ROUTING:
            return attribute

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            return attribute(*args, **kwargs)

        return counted


@pytest.fixture
def counting_client(backend: str, monkeypatch: pytest.MonkeyPatch) -> CountingClient:
    counter = CountingClient(connection.get_client())
    monkeypatch.setattr(connection, "_client", counter)
    return counter


class ServerMonitor:
    """Counts commands as the Redis server sees them (MONITOR), ignoring the
    commands run inside scripts, which are not round trips."""

    def __init__(self, client: redis.Redis, key_prefix: str) -> None:
        self.client = client
        self.key_prefix = key_prefix
        self.marker = f"rttest-monitor-{uuid.uuid4().hex}"
        self.commands: list[str] = []
        self._ready = threading.Event()

    def __enter__(self) -> ServerMonitor:
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()
        self._ready.wait(5)
        return self

    def _listen(self) -> None:
        with self.client.monitor() as monitor:
            self._ready.set()
            while True:
                event = monitor.next_command()
                if self.marker in event["command"]:
                    return
                if event.get("client_type") != "lua" and self.key_prefix in event["command"]:
                    self.commands.append(event["command"])

    def __exit__(self, *exc: Any) -> None:
        self.client.echo(self.marker)
        self._thread.join(10)


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Each test starts with an empty Django cache (the page-cache tests look into it)."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def revocations() -> Iterator[list[tuple[str, str, Any]]]:
    """Every ``session_revoked`` sent during the test: (user id, session id, reason)."""
    seen: list[tuple[str, str, Any]] = []

    def receiver(sender: Any, user_id: str, session_id: str, reason: Any, actor: Any, **kwargs: Any) -> None:
        seen.append((user_id, session_id, reason))

    signals.session_revoked.connect(receiver)
    yield seen
    signals.session_revoked.disconnect(receiver)
