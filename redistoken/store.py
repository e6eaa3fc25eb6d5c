"""The session store: the only code that talks to Redis.

Every face of redistoken (the authentication class, the views, the admin,
the management commands, the signal receivers) calls these functions.

One Redis hash per user is both the sessions and the per-user index
(``P`` is ``KEY_PREFIX``, ``T`` the user's tag from :mod:`.tokens`)::

    P{T}                   hash with a TTL
      <session id>         verifier|last used|absolute deadline|created|user id
      m:<session id>       device TAB ip TAB user agent

Times are milliseconds of Redis's clock in base 36. A session lives until
``min(last used + IDLE_TIMEOUT, absolute deadline)``, checked by the scripts
against Redis's clock; the hash's own TTL is kept at the latest such expiry
of its sessions, so a user who never comes back vanishes by itself, and
every script that reads the hash prunes the sessions that have expired (no
keyspace notifications involved). A small hash is one compact listpack
allocation: about a half of what a key per session plus an index costs.
Several users may share a tag (it is a 48-bit hash), so each session
records its user id and every script checks it.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import redis

from . import local_cache, signals, tokens
from .connection import get_client, is_cluster, primaries
from .settings import token_settings

logger = logging.getLogger("redistoken")

LUA_DIR = Path(__file__).with_name("lua")


class StoreUnavailable(Exception):
    """Redis could not answer; says nothing about whether a token is valid."""


class Reason(str, enum.Enum):
    """Why a session ended; sent with ``session_revoked`` and logged."""

    LOGOUT = "logout"
    LOGOUT_ALL = "logout-all"
    OTHER_SESSIONS = "other-sessions"
    ADMIN = "admin"
    PASSWORD_CHANGE = "password-change"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"
    EVICTED = "evicted"
    REPLACED = "replaced"


@dataclass(frozen=True)
class Session:
    """A live session as stored; this is ``request.auth``. Holds no secret.

    Times are kept as milliseconds of Redis's clock, as read; the datetime
    properties build their values on use (a request seldom needs them).
    """

    id: str
    user_id: str
    created_ms: int
    last_used_ms: int
    expires_at_ms: int
    now_ms: int
    device: str = ""
    ip: str = ""
    user_agent: str = ""

    @property
    def created(self) -> datetime:
        return _time(self.created_ms)

    @property
    def last_used(self) -> datetime:
        return _time(self.last_used_ms)

    @property
    def expires_at(self) -> datetime:
        return _time(self.expires_at_ms)

    @property
    def now(self) -> datetime:
        """Redis's clock when the session was read."""
        return _time(self.now_ms)

    @property
    def expires_in(self) -> int:
        """Whole seconds left, by Redis's clock at the time of the read."""
        return max(0, (self.expires_at_ms - self.now_ms) // 1000)


@dataclass(frozen=True)
class IssuedToken:
    """The result of a login: the raw token is shown once, here, and never again."""

    token: str
    session: Session


# -- helpers -----------------------------------------------------------------


def user_id_of(user: Any) -> str:
    """The user id as stored: ``str(pk)``; accepts a user or a bare id."""
    return str(getattr(user, "pk", user))


def user_key(tag: str) -> str:
    """The hash holding every session of the users with this tag."""
    return f"{token_settings.KEY_PREFIX}{{{tag}}}"


def _ms(seconds: float) -> int:
    return int(seconds * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _session(session_id: str, value: Any, meta: Any, expires_at_ms: Any, now_ms: int) -> Session:
    """A :class:`Session` from a stored value and metadata (see the layout above)."""
    _verifier, last_used, _absolute, created, user_id = _text(value).split("|", 4)
    device, ip, user_agent = (_text(meta).split("\t", 2) + ["", "", ""])[:3]
    created_ms, last_used_ms = int(created, 36), int(last_used, 36)
    return Session(session_id, user_id, created_ms, last_used_ms, int(expires_at_ms), now_ms, device, ip, user_agent)


@cache
def _script(name: str) -> tuple[str, str]:
    """``lua/common.lua`` + ``lua/<name>.lua`` and the SHA1 of that source, read once."""
    source = (LUA_DIR / "common.lua").read_text() + (LUA_DIR / f"{name}.lua").read_text()
    return source, hashlib.sha1(source.encode()).hexdigest()


def _run(name: str, keys: list[str], args: list[Any], client: Any = None) -> Any:
    """Run a script by its SHA; after a restart or failover lost the script
    cache (NOSCRIPT), send the source once, which also reloads it there."""
    source, sha = _script(name)
    client = client or get_client()
    try:
        try:
            return client.evalsha(sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return client.eval(source, len(keys), *keys, *args)
    except redis.exceptions.RedisError as exc:  # unavailable_as_error, inlined: this is the request path
        raise _unavailable(exc) from exc


@contextmanager
def unavailable_as_error() -> Iterator[None]:
    """Turn any Redis failure into :class:`StoreUnavailable` (never "no token")."""
    try:
        yield
    except redis.exceptions.RedisError as exc:
        raise _unavailable(exc) from exc


def _unavailable(exc: redis.exceptions.RedisError) -> StoreUnavailable:
    logger.warning("redistoken: Redis unavailable: %s", type(exc).__name__)
    return StoreUnavailable(type(exc).__name__)


def _clip(value: str | None, limit: int) -> str:
    """Metadata as stored: printable (so never a TAB), bounded, never None."""
    return "".join(ch for ch in (value or "") if ch.isprintable())[:limit]


def _announce_revoked(pairs: list[Any], reason: Reason, actor: Any) -> list[str]:
    """Log and signal each revoked session; ``pairs`` is [sid, user id, ...]."""
    flat = [_text(item) for item in pairs]
    actor_id = None if actor is None else user_id_of(actor)
    for sid, user_id in zip(flat[::2], flat[1::2], strict=True):
        logger.info(
            "redistoken: session revoked user=%s session=%s reason=%s by=%s", user_id, sid, reason.value, actor_id
        )
        signals.session_revoked.send(sender=Session, user_id=user_id, session_id=sid, reason=reason, actor=actor)
    return flat[::2]


# -- the API -----------------------------------------------------------------


def issue_token(user: Any, *, device: str = "", ip: str = "", user_agent: str = "") -> IssuedToken:
    """Create a session for ``user`` and return its token (shown once).

    A previous session of the same user with the same ``device`` name is
    replaced, and with ``MAX_SESSIONS_PER_USER`` set the least recently used
    sessions are evicted, in the same atomic step.
    """
    s = token_settings
    user_id = user_id_of(user)
    tag = tokens.user_tag(user_id)
    session_id = tokens.new_session_id()
    raw = tokens.generate(s.TOKEN_PREFIX, tag, session_id)
    device = _clip(device, s.DEVICE_NAME_MAX_LENGTH)
    ip = _clip(ip, 45)
    user_agent = _clip(user_agent, s.USER_AGENT_MAX_LENGTH)
    result = _run(
        "issue",
        [user_key(tag)],
        [
            session_id,
            tokens.verifier(raw),
            f"{device}\t{ip}\t{user_agent}",
            _ms(s.IDLE_TIMEOUT),
            _ms(s.ABSOLUTE_LIFETIME),
            user_id,
            s.MAX_SESSIONS_PER_USER or 0,
            device,
        ],
    )
    now_ms, expires_at_ms = int(result[0]), int(result[1])
    rest = [_text(item) for item in result[2:]]
    split = rest.index("")
    _announce_revoked([item for sid in rest[:split] for item in (sid, user_id)], Reason.REPLACED, None)
    _announce_revoked([item for sid in rest[split + 1 :] for item in (sid, user_id)], Reason.EVICTED, None)
    session = Session(session_id, user_id, now_ms, now_ms, expires_at_ms, now_ms, device, ip, user_agent)
    signals.session_created.send(sender=Session, user_id=user_id, session=session)
    return IssuedToken(token=raw, session=session)


def authenticate(token: tokens.ParsedToken) -> Session | None:
    """Validate and renew a session in one round trip; ``None`` if not live.

    With ``LOCAL_CACHE`` on, a session read recently in this process may be
    served with no round trip (see :mod:`.local_cache`); its ``now`` is then
    the time of that read.
    """
    cache = local_cache.active()
    if cache is None:
        return _authenticate(token)
    return cache.lookup(token.tag, token.session_id, token.raw, lambda: _authenticate_for_cache(token))


def _authenticate(token: tokens.ParsedToken) -> Session | None:
    s = token_settings
    result = _run(
        "authenticate",
        [user_key(token.tag)],
        [token.session_id, token.verifier, _ms(s.IDLE_TIMEOUT), _ms(s.RENEW_INTERVAL)],
    )
    if not result:
        return None
    times, meta, value = _text(result).split("\n", 2)
    expires_at_ms, now_ms = times.split("|")
    return _session(token.session_id, value, meta, expires_at_ms, int(now_ms))


def _authenticate_for_cache(token: tokens.ParsedToken) -> tuple[Session | None, float]:
    """The session and how long this process may serve it without Redis:
    until it expires or falls due for renewal, whichever comes first."""
    session = _authenticate(token)
    if session is None:
        return None, 0.0
    # now_ms is Redis's clock cut to the millisecond: the true time of the
    # read may be up to 1 ms later, so count the session 1 ms shorter.
    until_ms = min(session.expires_at_ms, session.last_used_ms + _ms(token_settings.RENEW_INTERVAL))
    return session, (until_ms - session.now_ms - 1) / 1000


def list_sessions(user: Any) -> list[Session]:
    """The user's live sessions, most recently used first."""
    user_id = user_id_of(user)
    result = _run("sessions", [user_key(tokens.user_tag(user_id))], [user_id, _ms(token_settings.IDLE_TIMEOUT)])
    now_ms = int(result[0])
    found = [
        _session(_text(result[i]), result[i + 1], result[i + 2], result[i + 3], now_ms)
        for i in range(1, len(result), 4)
    ]
    return sorted(found, key=lambda session: session.last_used_ms, reverse=True)


def _revoke(user_id: str, mode: str, session_id: str = "", verifier: str = "", tag: str | None = None) -> list[Any]:
    key = user_key(tag or tokens.user_tag(user_id))
    return list(_run("revoke", [key], [user_id, mode, session_id, verifier]))


def revoke_session(user: Any, session_id: str, *, reason: Reason = Reason.LOGOUT, actor: Any = None) -> bool:
    """End one session of ``user``; False when it is not a live session of theirs."""
    user_id = user_id_of(user)
    if not tokens.SESSION_ID_RE.fullmatch(session_id):
        return False
    return bool(_announce_revoked(_revoke(user_id, "one", session_id), reason, actor))


def revoke_all(user: Any, *, reason: Reason = Reason.LOGOUT_ALL, actor: Any = None) -> list[str]:
    """End every session of ``user`` in one round trip; returns their ids."""
    user_id = user_id_of(user)
    return _announce_revoked(_revoke(user_id, "all"), reason, actor)


def revoke_other_sessions(
    user: Any, keep_session_id: str, *, reason: Reason = Reason.OTHER_SESSIONS, actor: Any = None
) -> list[str]:
    """End every session of ``user`` except ``keep_session_id``."""
    user_id = user_id_of(user)
    return _announce_revoked(_revoke(user_id, "others", keep_session_id), reason, actor)


def revoke_token(token: tokens.ParsedToken, *, reason: Reason = Reason.LOGOUT, actor: Any = None) -> bool:
    """End the session of a token, whoever owns it (RFC 7009 revocation)."""
    revoked = _revoke("", "token", token.session_id, token.verifier, tag=token.tag)
    return bool(_announce_revoked(revoked, reason, actor))


# -- many users at once: bulk account changes, the whole store, DRF import ---


def revoke_all_for_users(users: Iterable[Any], *, reason: Reason = Reason.ADMIN, actor: Any = None) -> int:
    """End every session of each user (objects or ids); the number ended.

    ``QuerySet.update()`` sends no signals, so a bulk deactivation or password
    change must call this itself, e.g. with ``qs.values_list("pk", flat=True)``.
    """
    return sum(len(revoke_all(user, reason=reason, actor=actor)) for user in users)


Progress = Callable[[int], None]


@dataclass(frozen=True)
class Stats:
    """The store as ``redistoken stats`` reports it."""

    sessions: int
    users: int
    user_hashes: int
    drf_aliases: int
    memory_bytes: int | None  # None where MEMORY USAGE is unsupported (fakeredis)


def _glob_escape(text: str) -> str:
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


def size_hint() -> int:
    """Keys in the store's database(s), store or not: an upper bound for progress bars."""
    with unavailable_as_error():
        return sum(int(client.dbsize()) for client in primaries())


def _scan(match: str, batch_size: int) -> Iterator[tuple[Any, list[str]]]:
    """(primary, keys) in batches of about ``batch_size``: SCAN, never KEYS,
    so memory stays bounded and the server is never blocked for long."""
    for client in primaries():
        cursor = 0
        while True:
            with unavailable_as_error():
                cursor, keys = client.scan(cursor, match=match, count=batch_size)
            if keys:
                yield client, [_text(key) for key in keys]
            if int(cursor) == 0:
                break


def _run_many(client: Any, name: str, calls: list[tuple[list[str], list[Any]]], *extra: Any) -> list[Any]:
    """Run a script once per (keys, args) in one pipelined round trip, plus
    ``extra`` (method name, args) commands; errors come back as values."""
    if is_cluster(client) and not extra:  # RedisCluster pipelines refuse EVALSHA
        return [_run(name, keys, args, client) for keys, args in calls]
    source, sha = _script(name)
    with unavailable_as_error():
        for attempt in range(2):
            pipe = client.pipeline(transaction=False)
            for keys, args in calls:
                pipe.evalsha(sha, len(keys), *keys, *args)
            for method, args in extra:
                getattr(pipe, method)(*args)
            results = pipe.execute(raise_on_error=False)
            if attempt or not any(isinstance(r, redis.exceptions.NoScriptError) for r in results):
                break
            client.script_load(source)
    for result in results[: len(calls)]:
        if isinstance(result, Exception):
            raise StoreUnavailable(type(result).__name__) from result
    return list(results)


def _user_hash_match() -> str:
    return _glob_escape(token_settings.KEY_PREFIX) + "{*}"


def revoke_everything(
    *, reason: Reason = Reason.ADMIN, actor: Any = None, batch_size: int = 500, progress: Progress | None = None
) -> int:
    """End every session of every user (an incident switch); the number ended.

    Works in SCAN batches, one pipelined round trip per batch, and signals
    and logs each session like any other revocation.
    """
    done = revoked = 0
    for client, keys in _scan(_user_hash_match(), batch_size):
        results = _run_many(client, "revoke", [([key], ["", "every", "", ""]) for key in keys])
        for pairs in results:
            revoked += len(_announce_revoked(list(pairs), reason, actor))
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
    idle = _ms(token_settings.IDLE_TIMEOUT)
    for client, keys in _scan(_glob_escape(prefix) + "*", batch_size):
        user_hashes = [key for key in keys if key.startswith(prefix + "{")]
        aliases += sum(1 for key in keys if key.startswith(prefix + "drf:"))
        sizes = [("memory_usage", (key, 0)) for key in keys] if memory is not None else []
        results = _run_many(client, "census", [([key], [idle]) for key in user_hashes], *sizes)
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


def drf_alias_key(verifier: str) -> str:
    """Where an imported DRF key's verifier points to its session."""
    return f"{token_settings.KEY_PREFIX}drf:{verifier}"


@dataclass(frozen=True)
class LegacyToken:
    """A DRF ``authtoken`` row to import (the key is only read, never stored)."""

    user_id: Any
    key: str
    created: datetime


def import_drf_tokens(rows: list[LegacyToken]) -> int:
    """Make these DRF keys valid redistoken sessions; the number imported.

    Each key gets a session in its user's hash (id derived from the key,
    verifier as for any token) and an alias ``P drf:<verifier>`` ->
    ``<tag>:<session id>`` living as long as the session can. A key whose
    alias exists was imported before and is skipped, even if its session has
    since been revoked: a re-run never brings a revoked session back.
    Three pipelined round trips per batch (the alias and the hash may live
    in different Cluster slots, so they cannot share a script).
    """
    s = token_settings
    client = get_client()
    prepared = []
    for row in rows:
        user_id = user_id_of(row.user_id)
        verifier = tokens.verifier(row.key)
        tag, session_id = tokens.user_tag(user_id), tokens.derived_session_id(row.key)
        created_ms = int(row.created.timestamp() * 1000)
        prepared.append((user_id, verifier, tag, session_id, created_ms))
    with unavailable_as_error():
        pipe = client.pipeline(transaction=False)
        for _user_id, verifier, *_rest in prepared:
            pipe.exists(drf_alias_key(verifier))
        fresh = [row for row, seen in zip(prepared, pipe.execute(), strict=True) if not seen]
    if not fresh:
        return 0
    calls = [
        ([user_key(tag)], [sid, verifier, created, _ms(s.IDLE_TIMEOUT), _ms(s.ABSOLUTE_LIFETIME), user_id])
        for user_id, verifier, tag, sid, created in fresh
    ]
    _run_many(client, "import", calls)
    with unavailable_as_error():
        pipe = client.pipeline(transaction=False)
        for _user_id, verifier, tag, sid, _created in fresh:
            pipe.set(drf_alias_key(verifier), f"{tag}:{sid}", px=_ms(s.ABSOLUTE_LIFETIME))
        pipe.execute()
    return len(fresh)


def resolve_drf_token(raw: str) -> tokens.ParsedToken | None:
    """The session an imported DRF key stands for, or ``None`` if never imported."""
    with unavailable_as_error():
        target = get_client().get(drf_alias_key(tokens.verifier(raw)))
    if target is None:
        return None
    tag, _, session_id = _text(target).partition(":")
    return tokens.ParsedToken(raw=raw, tag=tag, session_id=session_id)
