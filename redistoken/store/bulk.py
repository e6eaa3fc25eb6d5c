"""Many users at once: bulk account changes and the SCAN jobs over the whole
store (``redistoken revoke --all``, ``redistoken stats``, ``redistoken reconcile``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

import redis

from .. import tokens
from ..connection import get_client, is_cluster, primaries, text
from ..settings import token_settings
from . import scripts
from .errors import unavailable_as_error
from .records import Reason, glob_escape, is_ours, is_user_key, ms, receipt_key, user_key_glob
from .sessions import announce_revoked, revoke_all

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Stats:
    """The store as ``redistoken stats`` reports it."""

    sessions: int
    users: int
    user_hashes: int
    drf_aliases: int
    memory_bytes: int | None  # None where MEMORY USAGE is unsupported (fakeredis)


def revoke_all_for_users(users: Iterable[Any], *, reason: Reason = Reason.ADMIN, actor: Any = None) -> int:
    """End every session of each user (objects or ids); the number ended.

    ``QuerySet.update()`` sends no signals, so a bulk deactivation or password
    change must call this itself, e.g. with ``qs.values_list("pk", flat=True)``.
    """
    return sum(len(revoke_all(user, reason=reason, actor=actor)) for user in users)


def size_hint() -> int:
    """Keys in the store's database(s), store or not: an upper bound for progress bars."""
    with unavailable_as_error():
        return sum(int(client.dbsize()) for client in primaries())


def _scan(match: str, batch_size: int) -> Iterator[tuple[Any, list[str]]]:
    """(primary, keys) in batches of about ``batch_size``: SCAN, never KEYS,
    so memory stays bounded and the server is never blocked for long."""
    with unavailable_as_error():
        clients = primaries()
    for client in clients:
        cursor = 0
        while True:
            with unavailable_as_error():
                cursor, keys = client.scan(cursor, match=match, count=batch_size)
            if keys:
                yield client, [text(key) for key in keys]
            if int(cursor) == 0:
                break


def revoke_everything(
    *, reason: Reason = Reason.ADMIN, actor: Any = None, batch_size: int = 500, progress: Progress | None = None
) -> int:
    """End every session of every user (an incident switch); the number ended.

    Works in SCAN batches, one pipelined round trip per batch, and signals
    and logs each session like any other revocation.
    """
    done = revoked = 0
    for client, keys in _scan(user_key_glob(), batch_size):
        results = scripts.run_many(
            client,
            scripts.revoke,
            [scripts.revoke.args(key, receipt_key(key), "", "hash", "", b"", b"", "") for key in keys],
        )
        for pairs in results:
            revoked += len(announce_revoked(list(pairs), reason, actor))
        done += len(keys)
        if progress:
            progress(done)
    return revoked


def stats(*, batch_size: int = 500, progress: Progress | None = None) -> Stats:
    """Live sessions, users with sessions and memory, over the whole store."""
    prefix = token_settings.KEY_PREFIX
    sessions = users = hashes = aliases = 0
    memory: int | None = 0
    done = 0
    idle, lifetime = ms(token_settings.IDLE_TIMEOUT), ms(token_settings.ABSOLUTE_LIFETIME)
    for client, keys in _scan(glob_escape(prefix) + "*", batch_size):
        user_hashes = [key for key in keys if is_user_key(key)]
        aliases += sum(1 for key in keys if key.startswith(prefix + "drf:"))
        sizes = [("memory_usage", (key, 0)) for key in keys] if memory is not None else []
        calls = [scripts.census.args(key, idle, lifetime) for key in user_hashes]
        results = scripts.run_many(client, scripts.census, calls, *sizes)
        for live, distinct in results[: len(user_hashes)]:
            sessions, users, hashes = sessions + int(live), users + int(distinct), hashes + bool(live)
        if memory is not None:
            used = results[len(user_hashes) :]
            if any(isinstance(result, redis.exceptions.ResponseError) for result in used):
                memory = None  # fakeredis has no MEMORY USAGE
            else:
                memory += sum(int(result or 0) for result in used)
        done += len(keys)
        if progress:
            progress(done)
    return Stats(sessions=sessions, users=users, user_hashes=hashes, drf_aliases=aliases, memory_bytes=memory)


@dataclass(frozen=True)
class Listed:
    """A live session as :func:`scan_sessions` saw it: enough to revoke exactly it."""

    key: str
    field: bytes
    user_id: str
    credential: str

    @property
    def session_id(self) -> str:
        return tokens.session_id_of(self.field)


def scan_sessions(*, batch_size: int = 500, progress: Progress | None = None) -> Iterator[list[Listed]]:
    """Every live session of this deployment, a batch of user hashes at a
    time (SCAN over every primary, one pipelined round trip per batch);
    read-only. Sessions another deployment keeps under the same prefix
    (:func:`.records.is_ours`) are left out. ``progress`` gets the number of
    keys scanned so far."""
    for batch in _rosters(batch_size, progress):
        ours = cache(is_ours)  # about 10 µs, once per hash and user: a user's sessions share both
        yield [session for session in batch if ours(session.key, session.user_id)]


def foreign_sessions(*, max_keys: int = 1000) -> int:
    """How many sessions in (about) the first ``max_keys`` user hashes are not
    this deployment's: another deployment, or a signing key since retired,
    shares this Redis database and ``KEY_PREFIX`` (check W016)."""
    found = scanned = 0
    for batch in _rosters(min(max_keys, 500)):
        ours = cache(is_ours)
        found += sum(1 for session in batch if not ours(session.key, session.user_id))
        scanned += len({session.key for session in batch})
        if scanned >= max_keys:
            break
    return found


def _rosters(batch_size: int, progress: Progress | None = None) -> Iterator[list[Listed]]:
    idle, lifetime = ms(token_settings.IDLE_TIMEOUT), ms(token_settings.ABSOLUTE_LIFETIME)
    done = 0
    for client, keys in _scan(user_key_glob(), batch_size):
        results = scripts.run_many(client, scripts.roster, [scripts.roster.args(key, idle, lifetime) for key in keys])
        batch = [
            Listed(key, field if isinstance(field, bytes) else field.encode(), text(uid), text(credential))
            for key, flat in zip(keys, results, strict=True)
            for field, uid, credential in zip(flat[::3], flat[1::3], flat[2::3], strict=True)
        ]
        done += len(keys)
        if progress:
            progress(done)
        yield batch


def revoke_listed(sessions: Iterable[Listed], *, reason: Reason, actor: Any = None) -> list[str]:
    """End exactly these sessions, each only if it is unchanged since it was
    listed (a session issued or re-credentialed after the scan is left
    alone); their ids. One atomic script per hash, pipelined per primary,
    confirmed by replicas like any revocation, and each one logged and
    signalled."""
    by_key: dict[str, list[Listed]] = defaultdict(list)
    for session in sessions:
        by_key[session.key].append(session)
    by_node: dict[Any, list[tuple[Any, ...]]] = defaultdict(list)
    with unavailable_as_error():
        client = get_client()
        cluster: Any = client if is_cluster(client) else None  # redis-py's Cluster routing is untyped
        for key, listed in by_key.items():
            node = cluster.get_redis_connection(cluster.get_node_from_key(key)) if cluster else client
            by_node[node].append(scripts.revoke_listed.args(key, b"".join(map(_packed, listed))))
    revoked: list[str] = []
    for node, calls in by_node.items():
        for pairs in scripts.run_many(node, scripts.revoke_listed, calls):
            revoked += announce_revoked(list(pairs), reason, actor)
    return revoked


def _packed(session: Listed) -> bytes:
    """One entry of revoke_listed.lua's ARGV[1] (its header has the format)."""
    parts = (session.field, session.credential.encode("ascii"), session.user_id.encode("utf-8")[:255])
    return b"".join(bytes([len(part)]) + part for part in parts)
