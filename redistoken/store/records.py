"""What the store keeps and returns: keys, session values, :class:`Session`.

The layout is described in :mod:`redistoken.store`; this module is the only
Python code that reads a stored session value or packs its metadata (the
scripts' side of it is ``lua/common.lua``).
"""

from __future__ import annotations

import enum
import ipaddress
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from .. import keys, tokens
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
    EVICTED = "evicted"
    REPLACED = "replaced"
    CREDENTIAL_CHANGED = "credential-changed"


@dataclass(frozen=True)
class Session:
    """A live session as stored; this is ``request.auth``. Holds no secret.

    Times are kept as milliseconds of Redis's clock, as read; the datetime
    properties build their values on use (a request seldom needs them).
    ``device_label`` was computed from the user agent at login;
    ``user_agent`` is kept only with ``STORE_USER_AGENT`` (or from a session
    written before layout 2, until it is renewed).
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
    device_label: str = ""
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

    token: str = field(repr=False)  # never in a log or an error report
    session: Session


def user_id_of(user: Any) -> str:
    """The user id as stored: ``str(pk)``; accepts a user or a bare id."""
    return str(getattr(user, "pk", user))


def user_key(tag: str) -> str:
    """The hash holding every session of the users with this tag."""
    return f"{token_settings.KEY_PREFIX}{{{tag}}}"


def receipt_key(user_hash: str) -> str:
    """A new key for one revocation's receipt, beside ``user_hash`` (same slot).

    ``revoke.lua`` keeps there, for 30 s, what it revoked: redis-py retries a
    call after a timeout or a lost reply, when the first run may have done the
    work, and the retry answers from the receipt instead of "nothing there"
    (a 404 for a session the same request had ended)."""
    return f"{user_hash}:receipt:{secrets.token_urlsafe(6)}"


def is_ours(key: str, user_id: str) -> bool:
    """Whether this deployment keeps sessions of ``user_id`` in the hash
    ``key``: another deployment sharing the prefix stores the same user id
    under other tags (its own signing key), and its sessions are not ours to
    list or revoke. Format-1 tags are unkeyed, so alike in every deployment."""
    return key in {user_key(tag) for tag in keys.user_tags(user_id)}


def glob_escape(value: str) -> str:
    """``value`` matched literally in a SCAN pattern."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in value)


def user_key_glob() -> str:
    """A SCAN pattern matching user hashes only (``P{<8 letters or digits>}``),
    not the other keys under the prefix (``P{throttle}:...``, ``P drf:...``)."""
    return glob_escape(token_settings.KEY_PREFIX) + "{" + "[0-9A-Za-z]" * tokens.TAG_LENGTH + "}"


def is_user_key(key: str) -> bool:
    """Whether ``key`` (under the prefix) names a user hash."""
    prefix = token_settings.KEY_PREFIX
    tag = key[len(prefix) + 1 : -1]
    return (
        key.startswith(prefix + "{")
        and key.endswith("}")
        and len(tag) == tokens.TAG_LENGTH
        and tag.isascii()
        and tag.isalnum()
    )


def drf_alias_key(verifier: str) -> str:
    """Where an imported DRF key's verifier points to its session."""
    return f"{token_settings.KEY_PREFIX}drf:{verifier}"


def ms(seconds: float) -> int:
    return int(seconds * 1000)


def _time(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def clip(value: str | None, limit: int) -> str:
    """Metadata as stored: printable (so never a TAB or NUL), bounded, never None."""
    return "".join(ch for ch in (value or "") if ch.isprintable())[:limit]


def clip_bytes(value: str, limit: int) -> bytes:
    """``value`` in UTF-8, at most ``limit`` bytes, never cutting a character."""
    return value.encode("utf-8")[:limit].decode("utf-8", "ignore").encode("utf-8")


# -- layout 2 (lua/common.lua describes it; docs/sessions.md budgets it) --

#: A layout-2 value stays within Redis's listpack limit for hash values.
VALUE_MAX = 64
#: The fixed part of a value (mark, verifier, times), without a slot byte.
HEAD = 1 + 16 + 6 + 5 + 3
DEVICE_MAX_BYTES = 32
CREDENTIAL_MAX = 8
USER_AGENT_MAX_BYTES = 64

#: Words of device labels, each stored as one control byte (0x01...): a
#: label such as "Chrome 131 on Windows 10" takes 7 bytes. Append only: the
#: position of a word is its stored code.
LABEL_WORDS = (
    " on Android ", " on iOS ", " on iPadOS ", " on macOS", " on Windows ", " on Linux", " on Chrome OS",
    " on Ubuntu", " on ", "Chrome Mobile ", "Chrome ", "Mobile Safari ", "Safari ", "Firefox Mobile ",
    "Firefox ", "Edge ", "Opera ", "Samsung Internet ", "Chromium ", "Android ", "Windows ", "iOS ",
    "macOS", "Linux", "Googlebot", "Mac OS X ", "Yandex Browser ", "UC Browser ", "HeadlessChrome ",
)  # fmt: skip
_BY_LENGTH = sorted(enumerate(LABEL_WORDS, start=1), key=lambda item: -len(item[1]))


def pack_label(label: str) -> bytes:
    for code, word in _BY_LENGTH:
        label = label.replace(word, chr(code))
    return label.encode("utf-8")


def unpack_label(packed: bytes) -> str:
    words = len(LABEL_WORDS)
    return "".join(LABEL_WORDS[ord(ch) - 1] if ord(ch) <= words else ch for ch in packed.decode("utf-8", "replace"))


def pack_ip(ip: str) -> tuple[int, bytes]:
    """(kind, bytes): 1 and 4 bytes for IPv4, 2 and 16 for IPv6, 3 and a
    length byte and text for anything else, 0 for none."""
    if not ip:
        return 0, b""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        text_ip = clip_bytes(ip, IP_MAX_LENGTH)
        return 3, bytes([len(text_ip)]) + text_ip
    return (1 if address.version == 4 else 2), address.packed


def _unpack_ip(kind: int, rest: bytes) -> tuple[str, bytes]:
    if kind == 1:
        return str(ipaddress.IPv4Address(rest[:4])), rest[4:]
    if kind == 2:
        return str(ipaddress.IPv6Address(rest[:16])), rest[16:]
    if kind == 3:
        return rest[1 : 1 + rest[0]].decode("utf-8", "replace"), rest[1 + rest[0] :]
    return "", rest


@dataclass(frozen=True)
class Packed:
    """What issue.lua stores beside the times (see its ARGV)."""

    kinds: int
    credential: str
    rest: bytes
    device: bytes


def pack(device: str, ip: str, label: str, credential: str) -> Packed:
    """The variable part of a session value: the device name is cut to
    32 bytes and to what the address leaves of 64, the label to the rest."""
    kind, packed_ip = pack_ip(ip)
    room = VALUE_MAX - len(packed_ip) - 1
    name = clip_bytes(device, min(DEVICE_MAX_BYTES, room))
    label_room = room - len(name)
    packed_label = pack_label(label)[:label_room].decode("utf-8", "ignore").encode("utf-8")
    return Packed(16 * kind + len(credential), credential, packed_ip + name + b"\0" + packed_label, name)


def session_from(
    layout: int, field: Any, value: bytes, meta: bytes, agent: bytes, user_id: str, expires_at_ms: int, now_ms: int
) -> Session:
    """A :class:`Session` from what a script read, in either layout."""
    session_id = tokens.session_id_of(field)
    if int(layout) == 1:
        _verifier, last_used, _absolute, created, _uid = text(value).split("|", 4)
        device, ip, user_agent = (text(meta).split("\t", 2) + ["", "", ""])[:3]
        created_ms, last_used_ms = int(created, 36), int(last_used, 36)
        return Session(session_id, user_id, created_ms, last_used_ms, expires_at_ms, now_ms, device, ip, user_agent)
    mark, at = value[0], 1 + (value[0] >= 128)
    born_ms = int.from_bytes(value[at + 16 : at + 22], "big")
    used_ms = born_ms + int.from_bytes(value[at + 22 : at + 27], "big")
    body = value[at + 30 :]
    credential_length = mark % 16
    credential = body[:credential_length].decode("ascii", "replace")
    ip, device, label = unpack_rest(mark // 16 % 4, meta or body[credential_length:])
    return Session(
        session_id, user_id, born_ms, used_ms, expires_at_ms, now_ms,
        device, ip, text(agent) if agent else "", label, credential,
    )  # fmt: skip


def unpack_rest(kind: int, rest: bytes) -> tuple[str, str, str]:
    """(ip, device, label) from the rest of a layout-2 value."""
    ip, rest = _unpack_ip(kind, rest)
    device, _, label = rest.partition(b"\0")
    return ip, device.decode("utf-8", "replace"), unpack_label(label)
