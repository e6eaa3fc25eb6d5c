"""The store's error type and logger: the bottom of the package, imported by
every other module of it and importing none of them.

One rule, one home: :func:`as_store_error` decides whether a failure means
"Redis cannot answer now" (:class:`StoreUnavailable`: a 503 with
``Retry-After``, retried by the client) or is a bug (a wrong type at one of
our keys, a script error, a bad argument): that one propagates unchanged, to
become a 500 with its message logged, so that a bug never looks like a flaky
network.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import redis
from redis.exceptions import RedisClusterException

logger = logging.getLogger("redistoken")


class StoreUnavailable(Exception):
    """Redis could not answer; says nothing about whether a token is valid."""


class ReplicationUnconfirmed(StoreUnavailable):
    """A revoking or issuing write was applied on the primary, but fewer
    replicas than required confirmed it in time: it could still be lost in a
    failover, so it is not acknowledged (see docs/guarantees.md)."""


#: Errors that mean the server (or the path to it) cannot answer now:
#: ConnectionError covers LOADING (BusyLoadingError), Sentinel's
#: MasterNotFoundError and a client that could not connect while it was
#: built; ClusterError covers CLUSTERDOWN and MASTERDOWN; AskError covers
#: MOVED (a redirection loop redis-py gave up on).
_OUTAGE_TYPES: tuple[type[Exception], ...] = (
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,
    redis.exceptions.ClusterError,
    redis.exceptions.TryAgainError,
    redis.exceptions.AskError,
    redis.exceptions.OutOfMemoryError,
    redis.exceptions.SlotNotCoveredError,
)

#: How a plain ResponseError (redis-py's type for codes it does not map, and
#: for errors from inside a script) starts when it still means "cannot answer
#: now". The last is WAIT reaching a primary demoted in a planned Sentinel
#: failover between the pipeline's write and its WAIT: that write is not
#: acknowledged, and the next attempt reaches the new primary.
_OUTAGE_CODES = (
    "NOREPLICAS",
    "MASTERDOWN",
    "LOADING",
    "READONLY",
    "CLUSTERDOWN",
    "TRYAGAIN",
    "OOM",
    "BUSY",
    "WAIT cannot be used with replica",
)

#: What redis-py's Cluster client says, as a bare RedisClusterException (not a
#: RedisError), when no node answers or the slots it knows are not all served.
#: Its other RedisClusterExceptions (invalid arguments, keys in several
#: slots, a node not in cluster mode) are bugs or misconfiguration.
_CLUSTER_OUTAGES = ("cannot be connected", "are not covered", "could not agree", "No targets were found")


def is_outage(exc: Exception) -> bool:
    """Whether ``exc`` means "Redis cannot answer now" (503), not a bug (500)."""
    if isinstance(exc, _OUTAGE_TYPES):
        return True
    if isinstance(exc, redis.exceptions.ResponseError):
        return str(exc).startswith(_OUTAGE_CODES)
    if isinstance(exc, RedisClusterException):
        return any(phrase in str(exc) for phrase in _CLUSTER_OUTAGES)
    return False


def as_store_error(exc: Exception) -> Exception:
    """What to raise for a Redis failure ``exc``, logged once here: a
    :class:`StoreUnavailable` for an outage (logged by type and error code:
    Redis errors may quote a command's arguments), otherwise ``exc`` itself,
    logged with its message since it is a bug to fix."""
    if isinstance(exc, StoreUnavailable):
        return exc
    if is_outage(exc):
        if isinstance(exc, redis.exceptions.OutOfMemoryError) or str(exc).startswith("OOM"):
            logger.error(
                "redistoken: Redis is full (maxmemory reached): new sessions cannot be stored, "
                "existing ones are still served and revocations still work; raise maxmemory"
            )
        else:
            code = str(exc).split(" ", 1)[0] if isinstance(exc, redis.exceptions.ResponseError) else ""
            logger.warning("redistoken: Redis unavailable: %s %s", type(exc).__name__, code)
        return StoreUnavailable(type(exc).__name__)
    logger.error("redistoken: Redis error that is not an outage (a bug): %s: %s", type(exc).__name__, exc)
    return exc


def raise_store_error(exc: Exception) -> NoReturn:
    """Raise :func:`as_store_error` of ``exc`` (called in its ``except`` block)."""
    error = as_store_error(exc)
    if error is exc:
        raise exc
    raise error from exc


#: Every failure the Redis client raises: RedisError, and the Cluster
#: client's RedisClusterException, which is not one.
REDIS_FAILURES = (redis.exceptions.RedisError, RedisClusterException)


@contextmanager
def unavailable_as_error() -> Iterator[None]:
    """Redis failures inside become :class:`StoreUnavailable` when Redis
    cannot answer (never "no token"); any other propagates, logged."""
    try:
        yield
    except REDIS_FAILURES as exc:
        raise_store_error(exc)
