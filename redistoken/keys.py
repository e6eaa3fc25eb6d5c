"""The deployment's signing keys: what binds a token to the deployment that issued it.

Format-2 tokens key their user tag and their stored verifier with an
HMAC-SHA256 (:mod:`redistoken.tokens`), so two deployments sharing a Redis
database and ``KEY_PREFIX`` but not a secret never find, accept, list or
revoke each other's sessions, and a tag tells nothing about its user.

The key is ``SIGNING_KEY`` when set, else derived from Django's
``SECRET_KEY`` the way ``salted_hmac`` derives its keys (so it is never the
secret itself). Rotation is Django's: the fallbacks (``SIGNING_KEY_FALLBACKS``,
else derived from ``SECRET_KEY_FALLBACKS``) still verify, so rotating the key
logs nobody out, while new sessions are made with the current key only.
"""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

from . import tokens
from .settings import SETTING_NAME, token_settings

_SALT = b"redistoken.keys.signing"


def derive(secret: str | bytes) -> bytes:
    """The signing key of a secret: SHA-256 of a salt and the secret, as
    Django's ``salted_hmac`` derives its HMAC keys."""
    data = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hashlib.sha256(_SALT + data).digest()


@cache
def signing_keys() -> tuple[bytes, ...]:
    """The current key first, then the fallbacks (no duplicates); computed once."""
    s = token_settings
    current = s.SIGNING_KEY if s.SIGNING_KEY is not None else settings.SECRET_KEY
    fallbacks = s.SIGNING_KEY_FALLBACKS
    if fallbacks is None:
        fallbacks = getattr(settings, "SECRET_KEY_FALLBACKS", [])
    found: list[bytes] = []
    for secret in (current, *fallbacks):
        key = derive(secret)
        if key not in found:
            found.append(key)
    return tuple(found)


def current_tag(user_id: str) -> str:
    """The tag a new session of ``user_id`` is stored under (the current key)."""
    return tokens.user_tag(user_id, signing_keys()[0])


def user_tags(user_id: str) -> list[str]:
    """Every tag a live session of ``user_id`` may be under: one per key, and
    the unkeyed one of format 1 while ``ACCEPT_UNKEYED_TOKENS`` is on."""
    found = [tokens.user_tag(user_id, key) for key in signing_keys()]
    if token_settings.ACCEPT_UNKEYED_TOKENS:
        found.append(tokens.user_tag(user_id))
    return list(dict.fromkeys(found))


def verifiers(token: tokens.ParsedToken) -> bytes:
    """The verifiers ``token`` may be stored with, concatenated (16 bytes
    each, the current key's first): one per key for format 2, the unkeyed
    one for format 1. The store's scripts compare each in one round trip."""
    if token.version == tokens.UNKEYED_VERSION:
        return tokens.verifier(token.raw)
    return b"".join([tokens.verifier(token.raw, key) for key in signing_keys()])


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in (SETTING_NAME, "SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        signing_keys.cache_clear()


setting_changed.connect(_on_setting_changed)
