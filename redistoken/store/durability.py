"""Acknowledged means durable: a revoking or issuing write is answered only
once enough replicas have it, so that a failover of the primary that took it
cannot undo it (the reasoning, per topology, is in docs/guarantees.md).

The write and ``WAIT <replicas> <timeout>`` go in one pipelined round trip on
one connection: WAIT counts the replicas that acknowledged that connection's
writes. Fewer than required in time: :class:`ReplicationUnconfirmed`, a 503.
A primary demoted in a planned Sentinel failover has lost its replica to the
promotion, so WAIT times out there and nothing is acknowledged on it.

How many replicas (``WAIT_FOR_REPLICAS``; ``None``, the default, is "auto"):
every replica the primary has connected (its ``INFO replication``, read at
most every few seconds per primary; on a Cluster, the primary of the key's
shard: the client's slot table lists only the replicas the cluster had
gossiped when it was read, so a replica attached later would never be waited
for), and at least one under Sentinel (a Sentinel deployment has replicas by
definition, and a demoted primary reports none).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis

from ..connection import is_cluster, is_embedded
from ..settings import token_settings
from .errors import ReplicationUnconfirmed, logger, raise_store_error

#: How long a primary's count of connected replicas is trusted (seconds).
REPLICA_COUNT_TTL = 5.0

_lock = threading.Lock()
_replicas: dict[int, tuple[float, int]] = {}  # a primary's pool -> (when read, connected replicas)


def target(client: Any, key: str) -> tuple[Any, int]:
    """The client of the primary that owns ``key`` and how many replicas must
    confirm a write there (0: answer at once, as without replicas)."""
    configured = token_settings.WAIT_FOR_REPLICAS
    if configured == 0 or is_embedded():
        return client, 0
    if is_cluster(client):
        cluster: Any = client  # redis-py's Cluster routing is untyped
        node = cluster.get_redis_connection(cluster.get_node_from_key(key))
        needed = _connected_replicas(node) if configured is None else int(configured)
        return (node, needed) if needed else (client, 0)
    if configured is not None:
        return client, int(configured)
    minimum = 1 if token_settings.SENTINELS else 0
    return client, max(minimum, _connected_replicas(client))


def _connected_replicas(client: redis.Redis) -> int:
    address = id(client.connection_pool)  # under Sentinel, whichever primary it now reaches
    now = time.monotonic()
    seen = _replicas.get(address)
    if seen is not None and now - seen[0] < REPLICA_COUNT_TTL:
        return seen[1]
    count = int(client.info("replication").get("connected_slaves", 0))
    with _lock:
        _replicas[address] = (now, count)
    return count


def wait(pipe: Any, needed: int) -> None:
    """Queue ``WAIT`` on ``pipe``, after the writes it must cover."""
    pipe.wait(needed, max(1, int(token_settings.WAIT_TIMEOUT * 1000)))


def check(acked: Any, needed: int) -> None:
    """Raise unless ``acked`` (WAIT's reply) reaches ``needed``."""
    if isinstance(acked, Exception):
        raise_store_error(acked)
    if int(acked) < needed:
        logger.warning(
            "redistoken: a write reached %s of %s replica(s) within WAIT_TIMEOUT: answering 503, "
            "since a failover could lose it (it stays applied on the primary)",
            acked,
            needed,
        )
        raise ReplicationUnconfirmed(f"{acked} of {needed} replicas")
