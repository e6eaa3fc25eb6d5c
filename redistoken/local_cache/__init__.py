"""Opt-in zero-round-trip authentication: a per-process session cache kept
coherent by Redis server-assisted invalidation (``LOCAL_CACHE``).

A dedicated RESP3 connection per process runs ``CLIENT TRACKING ON BCAST
PREFIX <KEY_PREFIX>``, so Redis pushes an ``invalidate`` message on it for
every write under the store's prefix, and a listener thread sends a
heartbeat (``HELLO 3``, whose reply also names the server's role) on it
every ``LOCAL_CACHE_MAX_STALENESS / 3``. Redis writes those pushes into the
connection before the reply to any command it
receives later on it, so a heartbeat sent at local time ``t`` whose reply
has been read proves that every invalidation for a write completed before
``t`` has been applied. A cached session is served only while:

* the channel is fresh: the latest answered heartbeat was sent less than
  ``D = LOCAL_CACHE_MAX_STALENESS`` ago (this also covers a dead path that
  keeps its socket open, a starved listener thread, a lost connection);
* the session's own deadline, kept locally from the read, has not passed
  (Redis sends the invalidation for a TTL expiry only when it deletes the
  key, which may be late; and a session may expire while its hash lives on);
* the session is not due for renewal: the entry lives at most until
  ``last used + RENEW_INTERVAL``, after which the next request goes to Redis
  and the script renews it, as without the cache.

Otherwise the store does its normal round trip and caches the result. So a
revocation of any kind is visible in every process within ``D`` after the
revoking call returns: a hit after that needs a heartbeat sent after the
revocation, whose reply comes after the revocation's invalidation.

A read is registered before it is sent; an invalidation of its key (or a
flush, or a reconnect) while it is in flight stops its result from being
cached. Nothing is cached while tracking is not confirmed on, and "not
found" is never cached. Each process owns its cache (checked by pid), and
the cache holds at most ``LOCAL_CACHE_SIZE`` sessions, least recently used
out. Unsupported (the mode stays off, with an error logged and a system
check): Redis Cluster, whose tracking is per node, and the embedded
fakeredis, which has no client tracking (and no other process to hear from).
A tracking connection to a replica (as after a Sentinel failover, until it
completes) is refused: its heartbeat reply says so.

redis-py's own client-side cache is not used: it needs Redis 7.4, shares
connections between threads in ways that deadlock or steal replies, and has
no heartbeat bound on a silently dead path.

The package is split along the two locks. :mod:`.resp3` reads RESP3 from
byte strings; :mod:`.cache` holds the entries and the reads in flight
(its lock); :mod:`.channel` owns the tracking connection, the heartbeats and
the listener thread (its lock, taken before the cache's, never after).
This module builds the two, hands each what it needs from the other, and
keeps one per process.
"""

from __future__ import annotations

import logging
import os
import threading
from typing import Any, TypeVar

from django.core.signals import setting_changed

from ..connection import get_client, is_cluster, is_embedded
from ..settings import SETTING_NAME, token_settings
from .cache import SessionCache
from .channel import CLIENT_NAME, TrackingChannel

__all__ = [
    "CLIENT_NAME",
    "EMBEDDED",
    "LocalCache",
    "active",
    "reset",
    "setting_problems",
    "unsupported_reason",
]

logger = logging.getLogger("redistoken")

V = TypeVar("V")


class LocalCache(SessionCache[V]):
    """This process's session cache, kept coherent by its own tracking channel."""

    def __init__(self, prefix: str, max_staleness: float, size: int, *, reconnect_after: float = 1.0) -> None:
        channel = TrackingChannel(prefix, max_staleness, get_client, reconnect_after=reconnect_after)
        super().__init__(prefix, max_staleness, size, sync=channel.sync, synced_at=channel.synced_at)
        self.channel = channel
        self.pid = os.getpid()
        channel.start(self)

    @property
    def connections(self) -> int:
        """Tracking connections made, for tests and stats."""
        return self.channel.connections

    def close(self) -> None:
        """Stop the listener and drop the tracking connection."""
        self.channel.close()


# -- whether the mode can run here ------------------------------------------------


EMBEDDED = "the embedded fakeredis has no client tracking (and no other process to hear from)"
UNSUITABLE_CLIENT = "the configured client is a cluster or has no connection pool"


def setting_problems() -> list[str]:
    """The settings LOCAL_CACHE cannot work with (system check E001)."""
    s = token_settings
    errors = []
    if not isinstance(s.RENEW_INTERVAL, float) or s.RENEW_INTERVAL <= 0:
        errors.append("LOCAL_CACHE needs RENEW_INTERVAL > 0 (e.g. 60 s): a cached session lives one renewal interval.")
    staleness = s.LOCAL_CACHE_MAX_STALENESS
    if not isinstance(staleness, float) or not 0.003 <= staleness <= 60:
        errors.append("LOCAL_CACHE_MAX_STALENESS must be between 3 ms and 60 s.")
    if not isinstance(s.LOCAL_CACHE_SIZE, int) or s.LOCAL_CACHE_SIZE < 1:
        errors.append("LOCAL_CACHE_SIZE must be a positive integer.")
    if s.CLUSTER:
        errors.append("LOCAL_CACHE does not support Redis Cluster (client tracking is per node); turn one of them off.")
    return errors


def unsupported_reason(*, client: bool = False) -> str | None:
    """Why the mode cannot run here, or None: the one place that decides
    (the system checks ask it, and so does the start of the cache).

    The embedded store first (:data:`EMBEDDED`), then the settings; with
    ``client=True`` also the configured client, which must be a single
    server's with a connection pool (so a ``CACHE_ALIAS`` to a cluster is
    refused too). The system checks leave that out: it builds the client.
    """
    if is_embedded():
        return EMBEDDED
    problems = setting_problems()
    if problems:
        return problems[0]
    if client:
        built = get_client()
        if is_cluster(built) or not hasattr(built, "connection_pool"):
            return UNSUITABLE_CLIENT
    return None


# -- the process's cache ----------------------------------------------------------


_build_lock = threading.Lock()
_cache: LocalCache[Any] | None = None
_off = False  # decided off for the current settings


def active() -> LocalCache[Any] | None:
    """This process's cache when ``LOCAL_CACHE`` is on and can work, else None.

    On every request: the settings are read once per change, not here, and
    a cache is used only by the process that built it.
    """
    cache = _cache
    if cache is not None and cache.pid == os.getpid():
        return cache
    return None if _off else _start()


def _start() -> LocalCache[Any] | None:
    global _cache, _off
    with _build_lock:
        if _cache is not None and _cache.pid == os.getpid():
            return _cache
        _cache = None  # a parent's cache, inherited by a fork: never used here
        if not token_settings.LOCAL_CACHE:
            _off = True
            return None
        reason = unsupported_reason(client=True)
        if reason:
            logger.error("redistoken: LOCAL_CACHE stays off: %s", reason)
            _off = True
            return None
        s = token_settings
        _cache = LocalCache(s.KEY_PREFIX, s.LOCAL_CACHE_MAX_STALENESS, s.LOCAL_CACHE_SIZE)
        return _cache


def reset() -> None:
    """Stop this process's cache; the next request decides again from the settings."""
    global _cache, _off
    with _build_lock:
        cache, _cache, _off = _cache, None, False
    if cache is not None and cache.pid == os.getpid():
        cache.close()


def _after_fork_in_child() -> None:
    """The parent's cache, locks and thread are not the child's: start clean."""
    global _build_lock, _cache, _off
    _build_lock, _cache, _off = threading.Lock(), None, False


os.register_at_fork(after_in_child=_after_fork_in_child)


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING_NAME, "CACHES"):
        reset()


setting_changed.connect(_on_setting_changed)
