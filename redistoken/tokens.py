"""The token format: generation, parsing and the storage hash. No I/O.

A token looks like ``rtk_2AbCdEfGh...`` and is built from::

    <prefix> "_" <version:1> <tag:8> <session id:12> <secret:27> <checksum:6>

* ``version`` lets formats coexist, so a format change never logs users
  out: parsers dispatch on it. Version 2 (issued now) keys the tag and the
  verifier with the deployment's signing key (an HMAC-SHA256); version 1
  (issued before) hashed them unkeyed, and is still read.
* ``tag`` is derived from the user id; every Redis key of one user shares it
  as a Redis Cluster hash tag, so it must be readable from the token alone.
  Keyed, it tells nothing about the user without the key.
* ``session id`` names the session in listings and URLs; it is not secret.
* ``secret`` carries 160 bits from :mod:`secrets`.
* ``checksum`` is a CRC32 of everything before it, so mistyped, truncated or
  made-up tokens are rejected without touching Redis (as GitHub tokens do).

Only :func:`verifier` of a token is ever stored (sessions written before
layout 2 hold :func:`legacy_verifier`, the same 128 bits in base64). This
module has no Django import: keys are passed in (:mod:`redistoken.keys`
derives them from the settings).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from typing import NamedTuple

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
VERSION = "2"
#: The format before keyed tags and verifiers; still parsed.
UNKEYED_VERSION = "1"
VERSIONS = (UNKEYED_VERSION, VERSION)
TAG_LENGTH = 8
SESSION_ID_LENGTH = 12
SECRET_LENGTH = 27  # 62**27 > 2**160
CHECKSUM_LENGTH = 6  # 62**6 > 2**32
BODY_LENGTH = 1 + TAG_LENGTH + SESSION_ID_LENGTH + SECRET_LENGTH + CHECKSUM_LENGTH

SESSION_ID_RE = re.compile(rf"[0-9A-Za-z]{{{SESSION_ID_LENGTH}}}")
_BODY_RE = re.compile(rf"[0-9A-Za-z]{{{BODY_LENGTH}}}")


class MalformedToken(ValueError):
    """The string claims our prefix but is not a valid token of ours."""


class ParsedToken(NamedTuple):
    """The public parts of a well-formed token; the secret stays in ``raw``.

    A named tuple: it is built on every authenticated request, and a tuple
    is the cheapest immutable record Python has."""

    raw: str
    tag: str
    session_id: str
    #: ``"2"``: keyed tag and verifier; ``"1"``: unkeyed (issued before).
    version: str = VERSION

    def __repr__(self) -> str:
        """Without ``raw``: a repr ends up in logs and error reports."""
        return f"ParsedToken(tag={self.tag!r}, session_id={self.session_id!r}, version={self.version!r})"


def _encode(number: int, length: int) -> str:
    chars = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        chars.append(ALPHABET[digit])
    return "".join(reversed(chars))


_DIGITS = {char: value for value, char in enumerate(ALPHABET)}


def _decode(text: str) -> int:
    number = 0
    for char in text:
        number = number * 62 + _DIGITS[char]
    return number


def _random(length: int) -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(length))


def _checksum(text: str) -> str:
    return _encode(binascii.crc32(text.encode("ascii")), CHECKSUM_LENGTH)


def user_tag(user_id: object, key: bytes | None = None) -> str:
    """The hash tag shared by all keys of one user (stable across processes):
    an HMAC-SHA256 with ``key`` (format 2), or with none the unkeyed SHA-256
    of format 1, which anyone can brute-force back to the user id."""
    message = f"redistoken-user:{user_id}".encode()
    digest = hashlib.sha256(message).digest() if key is None else hmac.digest(key, message, "sha256")
    return _encode(int.from_bytes(digest[:8], "big"), TAG_LENGTH)


def new_session_id() -> str:
    return _random(SESSION_ID_LENGTH)


def generate(prefix: str, tag: str, session_id: str, version: str = VERSION) -> str:
    """A fresh token for the session ``session_id`` of the user with ``tag``."""
    head = f"{prefix}_{version}{tag}{session_id}{_random(SECRET_LENGTH)}"
    return head + _checksum(head)


def owns(prefix: str, raw: str) -> bool:
    """Whether ``raw`` claims to be one of our tokens (by its prefix)."""
    return raw.startswith(prefix + "_")


def parse(prefix: str, raw: str) -> ParsedToken:
    """Check a token claiming our prefix; raise :class:`MalformedToken` if bad."""
    body = raw[len(prefix) + 1 :]
    if not _BODY_RE.fullmatch(body):
        raise MalformedToken("Invalid token format.")
    if body[0] not in VERSIONS:
        raise MalformedToken("Unsupported token version.")
    # The checksum is public (anyone can compute it), so a plain comparison
    # of integers is right here; the secret is compared only in Redis, hashed.
    if binascii.crc32(raw[:-CHECKSUM_LENGTH].encode("ascii")) != _decode(raw[-CHECKSUM_LENGTH:]):
        raise MalformedToken("Invalid token checksum.")
    tag = body[1 : 1 + TAG_LENGTH]
    session_id = body[1 + TAG_LENGTH : 1 + TAG_LENGTH + SESSION_ID_LENGTH]
    return ParsedToken(raw=raw, tag=tag, session_id=session_id, version=body[0])


def verifier(raw: str, key: bytes | None = None) -> bytes:
    """The only form of a token kept at rest: 128 bits of its HMAC-SHA256
    with ``key`` (format 2; with none, its SHA-256 as format 1 stored it), as
    16 raw bytes (Lua strings are binary-safe)."""
    data = raw.encode("utf-8")
    digest = hashlib.sha256(data).digest() if key is None else hmac.digest(key, data, "sha256")
    return digest[:16]


def legacy_verifier(raw: str, key: bytes | None = None) -> str:
    """:func:`verifier` in base64, as layout 1 stored it (and as DRF aliases are named)."""
    return base64.urlsafe_b64encode(verifier(raw, key)).rstrip(b"=").decode("ascii")


#: Bytes of a session id in binary (62**12 < 2**72), as layout 2 stores it.
SESSION_FIELD_LENGTH = 9


def session_field(session_id: str) -> bytes:
    """A session id (12 base-62 characters) as the 9 bytes layout 2 keys it by."""
    return _decode(session_id).to_bytes(SESSION_FIELD_LENGTH, "big")


def session_id_of(field: bytes | str) -> str:
    """The session id a stored field names: 9 binary bytes (layout 2) or its
    12 characters (layout 1)."""
    if len(field) == SESSION_FIELD_LENGTH and isinstance(field, bytes):
        return _encode(int.from_bytes(field, "big"), SESSION_ID_LENGTH)
    return field.decode("ascii") if isinstance(field, bytes) else field


def derived_session_id(secret: str) -> str:
    """A session id computed from a foreign token (an imported DRF key), so a
    re-import finds the same session; the key itself is never stored."""
    digest = hashlib.sha256(f"redistoken-imported:{secret}".encode()).digest()
    return _encode(int.from_bytes(digest[:9], "big"), SESSION_ID_LENGTH)


#: DRF ``rest_framework.authtoken`` keys: 40 lowercase hex characters.
DRF_KEY_RE = re.compile(r"[0-9a-f]{40}")
