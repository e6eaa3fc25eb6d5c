"""Login and revocation throttles, counted in the store's Redis.

Login counts *failures*, keyed on the username the serializer validated
(so the JSON number ``5551234`` and the string ``"5551234"`` are one user)
and on the client address from :mod:`.client_address`:

* per (username, address): tight, and cleared by a successful login;
* per address: any usernames (password spraying, credential stuffing);
* per username from any address: a high ceiling above which the username
  is slowed to one attempt per window / ceiling, never locked out, so an
  attacker elsewhere cannot lock a user out of their own address below it.

Whether the username exists plays no part (the throttle never looks it up).
A refusal is DRF's ``Throttled``: 429 with ``Retry-After``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from .client_address import client_address
from .exceptions import throttled
from .settings import rate, token_settings
from .store import throttle


def address_identity(address: str) -> str:
    """What one client is, for counting: an IPv4 address, or the /64 of an
    IPv6 address (one subscriber gets a whole /64 to rotate through)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return ""
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, 64), strict=False))
    return str(parsed)


def username_identity(username: str) -> str:
    """One username however it is cased (a lookup may be case-insensitive)."""
    return username.casefold()


def _login_limits() -> throttle.Limits:
    s = token_settings
    return throttle.Limits(
        rate(s.LOGIN_FAILURES_PER_USER_AND_ADDRESS), rate(s.LOGIN_FAILURES_PER_ADDRESS), rate(s.LOGIN_FAILURES_PER_USER)
    )


@contextmanager
def login_attempt(request: Any, username: str) -> Iterator[None]:
    """Around a password check: refuse (429) over a limit, count the attempt
    as a failure, and take it back if the block finishes without an error."""
    limits = _login_limits()
    if limits == throttle.Limits(None, None, None):
        yield
        return
    who, where = username_identity(username), address_identity(client_address(request))
    wait = throttle.attempt("login", who, where, limits)
    if wait:
        raise throttled(wait)
    yield
    throttle.succeeded("login", who, where, limits)


class RevokeAddressThrottle(BaseThrottle):
    """``REVOKE_RATE_PER_ADDRESS``: every call to the revocation endpoint counts
    (guessing a token there is hopeless; this bounds the work one client causes)."""

    def allow_request(self, request: Request, view: Any) -> bool:
        limit = rate(token_settings.REVOKE_RATE_PER_ADDRESS)
        limits = throttle.Limits(None, limit, None)
        self._wait = throttle.attempt("revoke", "", address_identity(client_address(request)), limits) if limit else 0.0
        return not self._wait

    def wait(self) -> float | None:
        return self._wait
