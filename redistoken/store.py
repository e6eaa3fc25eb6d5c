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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from pathlib import Path
from typing import Any

import redis

from . import signals, tokens
from .connection import get_client
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
    """A live session as stored; this is ``request.auth``. Holds no secret."""

    id: str
    user_id: str
    created: datetime
    last_used: datetime
    expires_at: datetime
    now: datetime
    device: str = ""
    ip: str = ""
    user_agent: str = ""

    @property
    def expires_in(self) -> int:
        """Whole seconds left, by Redis's clock at the time of the read."""
        return max(0, int((self.expires_at - self.now).total_seconds()))


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
    return Session(
        id=session_id,
        user_id=user_id,
        created=_time(int(created, 36)),
        last_used=_time(int(last_used, 36)),
        expires_at=_time(int(expires_at_ms)),
        now=_time(now_ms),
        device=device,
        ip=ip,
        user_agent=user_agent,
    )


@cache
def _script(name: str) -> tuple[str, str]:
    """The source of ``lua/<name>.lua`` and its SHA1, read once."""
    source = (LUA_DIR / f"{name}.lua").read_text()
    return source, hashlib.sha1(source.encode()).hexdigest()


def _run(name: str, keys: list[str], args: list[Any]) -> Any:
    """Run a script by its SHA; after a restart or failover lost the script
    cache (NOSCRIPT), send the source once, which also reloads it there."""
    source, sha = _script(name)
    client = get_client()
    with unavailable_as_error():
        try:
            return client.evalsha(sha, len(keys), *keys, *args)
        except redis.exceptions.NoScriptError:
            return client.eval(source, len(keys), *keys, *args)


@contextmanager
def unavailable_as_error() -> Iterator[None]:
    """Turn any Redis failure into :class:`StoreUnavailable` (never "no token")."""
    try:
        yield
    except redis.exceptions.RedisError as exc:
        logger.warning("redistoken: Redis unavailable: %s", type(exc).__name__)
        raise StoreUnavailable(str(type(exc).__name__)) from exc


def _clip(value: str | None, limit: int) -> str:
    """Metadata as stored: printable (so never a TAB), bounded, never None."""
    return "".join(ch for ch in (value or "") if ch.isprintable())[:limit]


def _announce_revoked(pairs: list[Any], reason: Reason, actor: Any) -> list[str]:
    """Log and signal each revoked session; ``pairs`` is [sid, user id, ...]."""
    flat = [_text(item) for item in pairs]
    actor_id = None if actor is None else user_id_of(actor)
    for sid, user_id in zip(flat[::2], flat[1::2]):
        logger.info(
            "redistoken: session revoked user=%s session=%s reason=%s by=%s", user_id, sid, reason.value, actor_id
        )
        signals.session_revoked.send(
            sender=Session, user_id=user_id, session_id=sid, reason=reason, actor=actor
        )
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
    stamp = _time(now_ms)
    session = Session(
        id=session_id,
        user_id=user_id,
        created=stamp,
        last_used=stamp,
        expires_at=_time(expires_at_ms),
        now=stamp,
        device=device,
        ip=ip,
        user_agent=user_agent,
    )
    signals.session_created.send(sender=Session, user_id=user_id, session=session)
    return IssuedToken(token=raw, session=session)


def authenticate(token: tokens.ParsedToken) -> Session | None:
    """Validate and renew a session in one round trip; ``None`` if not live."""
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


def list_sessions(user: Any) -> list[Session]:
    """The user's live sessions, most recently used first."""
    user_id = user_id_of(user)
    result = _run("sessions", [user_key(tokens.user_tag(user_id))], [user_id, _ms(token_settings.IDLE_TIMEOUT)])
    now_ms = int(result[0])
    found = [
        _session(_text(result[i]), result[i + 1], result[i + 2], result[i + 3], now_ms)
        for i in range(1, len(result), 4)
    ]
    return sorted(found, key=lambda session: session.last_used, reverse=True)


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
