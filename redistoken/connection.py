"""The Redis client the store talks to, built once per process from settings.

Kept apart from the store's logic, as django-redis does: the store asks for
``get_client()`` and never cares whether it is one server, a Sentinel-managed
primary, a Cluster, a django-redis pool, or the embedded fakeredis default.

The authentication path needs short, bounded timeouts: redis-py's defaults
(seconds of socket timeout, many retries with backoff) would hold a request
for seconds before the 503 that an outage must produce.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any, TypeGuard, Union

import redis
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.signals import setting_changed
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

from .settings import SETTING_NAME, token_settings

if TYPE_CHECKING:
    from redis.cluster import RedisCluster

logger = logging.getLogger("redistoken")

#: What :func:`get_client` returns: one server (plain, Sentinel-managed, a
#: django-redis pool or fakeredis, all ``redis.Redis``) or a Redis Cluster.
Client = Union[redis.Redis, "RedisCluster"]


class ClientUnavailable(redis.exceptions.ConnectionError):
    """The client could not be built because Redis did not answer (a Cluster
    client connects while it is built: none of its startup nodes answered, or
    the slots they know are not all served). A ``ConnectionError``, so every
    ``except RedisError`` that makes an outage a 503 covers it too."""

_CONNECTION_SETTINGS = (
    "REDIS_URL",
    "EMBEDDED_STORE",
    "CACHE_ALIAS",
    "CLUSTER",
    "CLUSTER_NODES",
    "SENTINELS",
    "SENTINEL_SERVICE_NAME",
    "SOCKET_TIMEOUT",
    "SOCKET_CONNECT_TIMEOUT",
    "RETRY_ATTEMPTS",
)

_lock = threading.Lock()
_client: Client | None = None
_built_from: tuple[Any, ...] | None = None


def _fingerprint() -> tuple[Any, ...]:
    return tuple(repr(getattr(token_settings, name)) for name in _CONNECTION_SETTINGS)


def _retry() -> Retry:
    return Retry(
        ExponentialBackoff(cap=0.05, base=0.01),
        token_settings.RETRY_ATTEMPTS,
        supported_errors=(redis.exceptions.ConnectionError, redis.exceptions.TimeoutError),
    )


def _options() -> dict[str, Any]:
    return {
        "socket_timeout": token_settings.SOCKET_TIMEOUT,
        "socket_connect_timeout": token_settings.SOCKET_CONNECT_TIMEOUT,
        "retry": _retry(),
        "health_check_interval": 30,
    }


def is_embedded() -> bool:
    """True when no Redis is configured and the in-process fakeredis is used."""
    s = token_settings
    return not (s.REDIS_URL or s.CACHE_ALIAS or s.SENTINELS)


EMBEDDED_REFUSED = (
    "redistoken: DEBUG is off and no Redis is configured: the embedded in-process fakeredis "
    "would give each worker its own sessions (a token from one is refused by the next). Set "
    "REDISTOKEN['REDIS_URL'], 'CACHE_ALIAS' or 'SENTINELS', or REDISTOKEN['EMBEDDED_STORE'] = True "
    "to run on the embedded store on purpose."
)


def embedded_refused() -> bool:
    """Whether the embedded store would be used where nobody asked for it:
    no Redis configured, DEBUG off, and no ``EMBEDDED_STORE``."""
    return is_embedded() and not (django_settings.DEBUG or token_settings.EMBEDDED_STORE is True)


def _build() -> Client:
    s = token_settings
    if s.CACHE_ALIAS:
        from django_redis import get_redis_connection

        pooled: redis.Redis = get_redis_connection(s.CACHE_ALIAS)
        return pooled
    if s.SENTINELS:
        from redis.sentinel import Sentinel

        # A ReadOnlyError from a demoted primary becomes a ConnectionError
        # in redis-py's sentinel pool: retried once against the new primary.
        sentinel_options = {"socket_timeout": s.SOCKET_TIMEOUT, "socket_connect_timeout": s.SOCKET_CONNECT_TIMEOUT}
        sentinel = Sentinel(s.SENTINELS, sentinel_kwargs=sentinel_options, **_options())
        primary: redis.Redis = sentinel.master_for(s.SENTINEL_SERVICE_NAME)
        return primary
    if s.REDIS_URL and s.CLUSTER:
        from redis.cluster import ClusterNode, RedisCluster

        options = _options()
        options.pop("health_check_interval")
        # Every startup node is tried in turn: any one that answers is enough.
        nodes = [ClusterNode(host, int(port)) for host, port in s.CLUSTER_NODES or ()]
        return RedisCluster.from_url(s.REDIS_URL, startup_nodes=nodes, **options)
    if s.REDIS_URL:
        return redis.Redis.from_url(s.REDIS_URL, **_options())
    if embedded_refused():
        raise ImproperlyConfigured(EMBEDDED_REFUSED)  # WSGI runs no system checks: refuse here too
    import fakeredis

    logger.warning(
        "redistoken is using the embedded in-process fakeredis: tokens do not survive "
        "a restart and are not shared between processes. Set REDISTOKEN['REDIS_URL']."
    )
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(version=(7, 0)))


def get_client() -> Any:
    """The process-wide Redis client (thread-safe; redis-py pools are per pid).

    Typed ``Any`` rather than :data:`Client` for now: ``local_cache`` reads
    ``connection_pool``, which a ``RedisCluster`` lacks (it refuses Cluster by
    its settings check, which mypy cannot see)."""
    global _client, _built_from
    if _client is None:
        with _lock:
            if _client is None:
                _built_from = _fingerprint()
                _client = _build_or_unavailable()
    return _client


def _build_or_unavailable() -> Any:
    """Build the client; a Cluster that cannot be reached while it is built
    raises :class:`ClientUnavailable`, and the next call tries again.

    Every ``RedisClusterException`` of the constructor is about reaching the
    cluster once ``settings.problems()`` has vetted the URL (no socket path,
    database 0), which the system checks do at startup.
    """
    try:
        return _build()
    except (redis.exceptions.RedisClusterException, redis.exceptions.RedisError) as exc:
        raise ClientUnavailable(f"Redis client could not connect: {exc}") from exc


def reset_client() -> None:
    """Forget the client, so the next call builds one from the current settings."""
    global _client
    with _lock:
        _client = None


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    """Rebuild the client only when a setting it was built from changed."""
    if setting == "CACHES" or (setting == SETTING_NAME and _fingerprint() != _built_from):
        reset_client()


setting_changed.connect(_on_setting_changed)


def is_cluster(client: Any) -> TypeGuard[RedisCluster]:
    """Whether ``client`` is a Redis Cluster client (duck-typed, so a wrapper
    that forwards attributes, as the tests' counting client does, passes)."""
    return hasattr(client, "get_primaries")


def primaries() -> list[redis.Redis]:
    """A client per primary that holds store keys, for work over the whole
    store (SCAN-based revoke-all, stats): each primary of a Redis Cluster,
    otherwise the one client."""
    client = get_client()
    if is_cluster(client):
        return [client.get_redis_connection(node) for node in client.get_primaries()]
    return [client]


def text(value: bytes | str) -> str:
    """A reply as text: bytes from redis-py, unless the client (a django-redis
    pool, say) decodes responses itself."""
    return value.decode("utf-8") if isinstance(value, bytes) else value
