"""Login throttle counters in the store's Redis: one script call per check.

Shared by every worker and every web server (Django's default cache may be
per process). The counted identities are HMACs (keyed with ``SECRET_KEY``)
of a username and an address, so Redis holds neither in clear. Every
throttle key shares the hash tag ``{throttle}``: a Redis Cluster keeps them
on one primary, which is fine for login traffic (a script per attempt) and
lets one script see all of an attempt's counters.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.crypto import salted_hmac

from ..settings import token_settings
from . import scripts
from .records import ms


@dataclass(frozen=True)
class Limits:
    """(count, window in seconds) or ``None`` for each limit."""

    pair: tuple[int, float] | None
    address: tuple[int, float] | None
    user: tuple[int, float] | None


def _digest(kind: str, value: str) -> str:
    return salted_hmac("redistoken.throttle", f"{kind}:{value}").hexdigest()[:32]


def _keys(scope: str, username: str, address: str) -> tuple[str, str, str, str]:
    base = f"{token_settings.KEY_PREFIX}{{throttle}}:{scope}:"
    user, where = _digest("u", username), _digest("a", address)
    return f"{base}p:{user}:{where}", f"{base}a:{where}", f"{base}u:{user}", f"{base}s:{user}"


def _limit(limit: tuple[int, float] | None) -> tuple[int, int]:
    return (limit[0], ms(limit[1])) if limit else (0, 0)


def _run(mode: scripts.ThrottleMode, scope: str, username: str, address: str, limits: Limits) -> int:
    pair, where, user, slot = _keys(scope, username, address)
    (pair_n, pair_ms), (address_n, address_ms), (user_n, user_ms) = map(
        _limit, (limits.pair, limits.address, limits.user)
    )
    return int(scripts.throttle(pair, where, user, slot, mode, pair_n, pair_ms, address_n, address_ms, user_n, user_ms))


def attempt(scope: str, username: str, address: str, limits: Limits) -> float:
    """Count an attempt of ``scope`` (``"login"``, ``"revoke"``) as a failure
    unless a limit refuses it: 0.0, or the seconds to wait (nothing counted)."""
    return _run("attempt", scope, username, address, limits) / 1000


def succeeded(scope: str, username: str, address: str, limits: Limits) -> None:
    """Take back the failure counted by :func:`attempt` for an attempt that succeeded."""
    _run("success", scope, username, address, limits)
