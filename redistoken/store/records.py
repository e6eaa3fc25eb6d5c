"""What the store keeps and returns: keys, session values, :class:`Session`.

The layout is described in :mod:`redistoken.store`; this module is the only
Python code that reads a stored session value or packs its metadata (the
scripts' side of it is ``lua/common.lua``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..connection import text
from ..settings import token_settings

#: The longest address kept (an IPv6 address in full is 45 characters).
IP_MAX_LENGTH = 45


class Reason(str, enum.Enum):
    """Why a session ended; sent with ``session_revoked`` and logged."""

    LOGOUT = "logout"
    LOGOUT_ALL = "logout-all"
    OTHER_SESSIONS = "other-sessions"
    ADMIN = "admin"
    PASSWORD_CHANGE = "password-change"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"
    CREDENTIAL_CHANGED = "credential-changed"
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
    #: An opaque fingerprint of the account state the session was issued for
    #: ("" when none); see :mod:`redistoken.credentials`.
    credential: str = ""

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
    def expires_in(self) -> int:
        """Whole seconds left, by Redis's clock at the time of the read."""
        return max(0, (self.expires_at_ms - self.now_ms) // 1000)


@dataclass(frozen=True)
class IssuedToken:
    """The result of a login: the raw token is shown once, here, and never again."""

    token: str
    session: Session


def user_id_of(user: Any) -> str:
    """The user id as stored: ``str(pk)``; accepts a user or a bare id."""
    return str(getattr(user, "pk", user))


def user_key(tag: str) -> str:
    """The hash holding every session of the users with this tag."""
    return f"{token_settings.KEY_PREFIX}{{{tag}}}"


def drf_alias_key(verifier: str) -> str:
    """Where an imported DRF key's verifier points to its session."""
    return f"{token_settings.KEY_PREFIX}drf:{verifier}"


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def clip(value: str | None, limit: int) -> str:
    """Metadata as stored: printable (so never a TAB), bounded, never None."""
    return "".join(ch for ch in (value or "") if ch.isprintable())[:limit]


#: The longest credential fingerprint kept (opaque ASCII, see ``issue_token``).
CREDENTIAL_MAX_LENGTH = 8


def metadata(device: str, ip: str, user_agent: str, credential: str = "") -> str:
    """The ``m:<session id>`` field: device TAB ip TAB user agent [TAB credential]
    (each clipped; the credential is left out when empty, as in older sessions)."""
    meta = f"{device}\t{ip}\t{user_agent}"
    return f"{meta}\t{credential}" if credential else meta


def session_from(session_id: str, value: Any, meta: Any, expires_at_ms: Any, now_ms: int) -> Session:
    """A :class:`Session` from a stored value and its metadata field."""
    _verifier, last_used, _absolute, created, user_id = text(value).split("|", 4)
    device, ip, user_agent, credential = (text(meta).split("\t", 3) + ["", "", "", ""])[:4]
    created_ms, last_used_ms = int(created, 36), int(last_used, 36)
    return Session(
        session_id, user_id, created_ms, last_used_ms, int(expires_at_ms), now_ms, device, ip, user_agent, credential
    )
