"""Login throttles: per client address and per username, on Django's cache."""

from __future__ import annotations

import hashlib
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from .settings import token_settings


class _LoginThrottle(SimpleRateThrottle):
    rate_key = ""

    def get_rate(self) -> str | None:
        rate: str | None = token_settings.LOGIN_THROTTLE_RATES.get(self.rate_key)
        return rate


class LoginAddressThrottle(_LoginThrottle):
    scope = "redistoken_login_address"
    rate_key = "address"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class LoginUsernameThrottle(_LoginThrottle):
    scope = "redistoken_login_username"
    rate_key = "username"

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        data = request.data
        username = data.get("username") if hasattr(data, "get") else None
        if not isinstance(username, str) or not username:
            return None
        ident = hashlib.sha256(username.lower().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
