"""Store-scale figures, each on a private Redis server: memory per session,
revoking and listing a user's 1,000 sessions, and the writes a request
replicates with and without RENEW_INTERVAL."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import redis
from django.conf import settings
from django.test import override_settings

from redistoken import connection, store

from .counting import round_trips
from .inprocess import configured, request
from .schemes import Scheme

DEVICES = [
    ("Pixel 7", "MyApp/3.2 (Android 14)"),
    ("iPhone 15", "MyApp/3.2 (iOS 17.4)"),
    ("Galaxy S23", "MyApp/3.2 (Android 14)"),
    ("iPad Air", "MyApp/3.1 (iPadOS 17.3)"),
    ("Pixel Tablet", "MyApp/3.2 (Android 14)"),
    ("iPhone 13 mini", "MyApp/3.0 (iOS 16.7)"),
    ("Galaxy Tab S9", "MyApp/3.2 (Android 13)"),
    ("OnePlus 12", "MyApp/3.2 (Android 14)"),
    ("Moto G84", "MyApp/2.9 (Android 13)"),
    ("Xperia 5 V", "MyApp/3.2 (Android 14)"),
]


def _store_on(url: str, **extra: Any) -> Any:
    """The store on the server at ``url``, with the default key prefix (and ``extra`` settings)."""
    return override_settings(REDISTOKEN={**settings.REDISTOKEN, "REDIS_URL": url, "KEY_PREFIX": "rt:", **extra})


def _used_memory(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        return int(client.info("memory")["used_memory"])
    finally:
        client.close()


APP_AGENT = "MyApp/3.2 (Android 14)"  # 22 characters
BROWSER_AGENT = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)[:120].ljust(120)
SHAPES = [(per_user, agent) for per_user in (1, 2, 10) for agent in ("app", "browser")]


def _issue_shape(user_id: int, per_user: int, agent: str) -> None:
    user_agent = APP_AGENT if agent == "app" else BROWSER_AGENT
    for i in range(per_user):
        store.issue_token(user_id, device=f"dev{i}", ip="203.0.113.7", user_agent=user_agent)


def _issue_for(user_id: int, per_user: int) -> None:
    for i in range(per_user):
        device, agent = DEVICES[i % len(DEVICES)]
        if i >= len(DEVICES):
            device = f"{device} #{i // len(DEVICES)}"
        store.issue_token(user_id, device=device, ip=f"198.51.{user_id % 256}.{i + 1}", user_agent=agent)


def memory_per_session(url: str, users: int, per_user: int, agent: str | None = None) -> dict[str, Any]:
    """Bytes of Redis memory per session: the change in ``used_memory`` of
    an empty server after ``users * per_user`` logins through the store
    (the benchmark's mixed devices, or one of ``SHAPES``' agents)."""
    issue = _issue_for if agent is None else (lambda user_id, n: _issue_shape(user_id, n, agent))
    with _store_on(url):
        redis.Redis.from_url(url).flushall()  # the benchmark's private server
        store.issue_token(0, device="warm-up")  # load the script, open a connection
        store.revoke_all(0)
        connection.get_client().connection_pool.disconnect()
        before = _used_memory(url)
        start = time.perf_counter()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda user_id: issue(user_id, per_user), range(1, users + 1)))
        elapsed = time.perf_counter() - start
        connection.get_client().connection_pool.disconnect()
        after = _used_memory(url)
        keys = redis.Redis.from_url(url).dbsize()
    sessions = users * per_user
    return {
        "sessions": sessions,
        "users": users,
        "keys": keys,
        "bytes": (after - before) / sessions,
        "issue_seconds": elapsed,
    }


def _timed(call: Callable[[], Any]) -> tuple[Any, float, int]:
    """``call()``'s result, milliseconds and Redis round trips."""
    with round_trips() as counts:
        start = time.perf_counter()
        result = call()
        elapsed = (time.perf_counter() - start) * 1000
    return result, elapsed, counts.round_trips


def one_user_many_sessions(url: str, sessions: int, repeats: int) -> dict[str, float]:
    """Median time (ms) and round trips to list and to revoke all of one
    user's ``sessions`` sessions (the cap raised to that many: 1,000 is the
    ceiling no setting may exceed, so this is the largest account there is)."""
    user_id = 10**9
    listing, revoking, list_trips, revoke_trips = [], [], [], []
    with _store_on(url, MAX_SESSIONS_PER_USER=sessions):
        for _ in range(repeats):
            _issue_for(user_id, sessions)
            store.list_sessions(user_id)  # load the script into a fresh server's cache
            for _ in range(3):
                found, ms, trips = _timed(lambda: store.list_sessions(user_id))
                listing.append(ms)
                list_trips.append(trips)
                assert len(found) == sessions, len(found)
            revoked, ms, trips = _timed(lambda: store.revoke_all(user_id))
            revoking.append(ms)
            revoke_trips.append(trips)
            assert len(revoked) == sessions, len(revoked)
    return {
        "sessions": sessions,
        "list_ms": statistics.median(listing),
        "list_round_trips": max(list_trips),
        "revoke_ms": statistics.median(revoking),
        "revoke_round_trips": max(revoke_trips),
    }


def _commandstats(client: redis.Redis) -> dict[str, int]:
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in client.info("commandstats").items()}


def _write_commands(client: redis.Redis, before: dict[str, int], after: dict[str, int]) -> int:
    """Calls of commands flagged ``write`` between two commandstats readings."""
    total = 0
    for name, calls in after.items():
        delta = calls - before.get(name, 0)
        if delta and "|" not in name:
            info = client.execute_command("COMMAND", "INFO", name)
            flags = info[name]["flags"] if isinstance(info, dict) else info[0][2]
            if "write" in {f.decode() if isinstance(f, bytes) else f for f in flags}:
                total += delta
    return total


def replicated_writes(primary: redis.Redis, replica: redis.Redis, scheme: Scheme, n: int) -> dict[str, float]:
    """Per authenticated request: write commands run on the primary (its
    command statistics count the commands a script runs), write commands
    the replica received and applied (its command statistics), and bytes
    of replication stream (the primary's ``master_repl_offset``)."""
    with configured(scheme):
        request(scheme)
        primary.execute_command("WAIT", 1, 5000)
        p0, r0 = _commandstats(primary), _commandstats(replica)
        offset0 = int(primary.info("replication")["master_repl_offset"])
        for _ in range(n):
            request(scheme)
        primary.execute_command("WAIT", 1, 5000)
        p1, r1 = _commandstats(primary), _commandstats(replica)
        offset1 = int(primary.info("replication")["master_repl_offset"])
    return {
        "primary_writes": _write_commands(primary, p0, p1) / n,
        "replicated_writes": _write_commands(replica, r0, r1) / n,
        "replicated_bytes": (offset1 - offset0) / n,
    }


def wait_for_replica(replica: redis.Redis) -> None:
    deadline = time.monotonic() + 20
    while replica.info("replication").get("master_link_status") != "up":
        if time.monotonic() > deadline:
            raise SystemExit("the benchmark's replica did not connect")
        time.sleep(0.05)
