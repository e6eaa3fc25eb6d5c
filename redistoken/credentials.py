"""A session's credential fingerprint: the account state it was issued for.

Like Django's ``get_session_auth_hash()``: a session records a short keyed
HMAC of the user's password hash and activity at login; when the user is
loaded and the fingerprint no longer matches (the password changed or the
account was deactivated by any path, ``QuerySet.update()`` and raw SQL
included), the session ends. Eight characters (48 bits) keep it small in
Redis; the key is derived from ``SECRET_KEY`` (``SECRET_KEY_FALLBACKS`` are
accepted on check, so rotating the key logs nobody out).
"""

from __future__ import annotations

import base64
from typing import Any

from django.conf import settings
from django.utils.crypto import constant_time_compare, salted_hmac

_SALT = "redistoken.credentials.fingerprint"

#: Length of a fingerprint (the store keeps at most 8 ASCII characters).
LENGTH = 8


def fingerprint(user: Any, secret: str | None = None) -> str:
    """The fingerprint of ``user``'s password hash and activity (8 ASCII characters)."""
    state = f"{getattr(user, 'password', '') or ''}|{int(bool(getattr(user, 'is_active', True)))}"
    digest = salted_hmac(_SALT, state, secret=secret, algorithm="sha256").digest()
    return base64.urlsafe_b64encode(digest[:6]).decode("ascii")


def matches(user: Any, credential: str) -> bool:
    """Whether a session's ``credential`` still fits ``user``; an empty one
    (a session issued without it) always does."""
    if not credential:
        return True
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return any(constant_time_compare(credential, fingerprint(user, secret)) for secret in secrets)
