"""redistoken's settings: ``settings.REDISTOKEN`` merged over the defaults.

Read them through ``token_settings``; it follows ``override_settings`` in tests.
Durations accept seconds (int or float) or a ``datetime.timedelta``.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from django.conf import settings as django_settings
from django.core.signals import setting_changed

SETTING_NAME = "REDISTOKEN"

#: Where the documentation site is published (``mkdocs.yml``'s ``site_url``);
#: system-check hints link to their page under it.
DOCS_URL = "https://redistoken.readthedocs.io/en/latest/"


def docs_url(page: str, anchor: str = "") -> str:
    """The address of a docs page (``"checks"``), optionally of a heading on it."""
    return f"{DOCS_URL}{page}/" + (f"#{anchor}" if anchor else "")


def check_hint(check_id: str, text: str = "") -> str:
    """A system-check hint: ``text``, then the check's heading on the checks page."""
    link = docs_url("checks", check_id.replace(".", "").lower())
    return f"{text} See {link}" if text else f"See {link}"

DEFAULTS: dict[str, Any] = {
    # Session lifetime.
    "IDLE_TIMEOUT": timedelta(days=14),
    "ABSOLUTE_LIFETIME": timedelta(days=90),
    # Renew only when at least this much time has passed since the last
    # renewal; 0 renews on every request. Each renewal is a write that Redis
    # replicates and logs; at most one a minute per session costs nothing
    # that matters against a 14-day idle timeout (the session still never
    # expires while in use). None (the default): 60 s, or a tenth of
    # IDLE_TIMEOUT when that is shorter.
    "RENEW_INTERVAL": None,
    # Token format and HTTP.
    "TOKEN_PREFIX": "rtk",
    # Earlier prefixes still accepted (new tokens get TOKEN_PREFIX), so a
    # change of TOKEN_PREFIX logs nobody out.
    "TOKEN_PREFIX_FALLBACKS": (),
    "AUTH_HEADER_KEYWORDS": ("Token", "Bearer"),  # the first is named in challenges and token_type
    "WWW_AUTHENTICATE_REALM": "api",
    "USER_LOADING": "lazy",  # or "eager"
    # Every per-user script reads the user's whole hash: the cap bounds it.
    "MAX_SESSIONS_PER_USER": 100,  # at most MAX_SESSIONS_CEILING
    # Login throttling (docs/security.md): failures, not attempts, counted
    # in the store's Redis. "N/period" (period: s, min, hour, day, with an
    # optional count: "10/15min"), or None for no limit.
    "LOGIN_FAILURES_PER_USER_AND_ADDRESS": "10/15min",
    "LOGIN_FAILURES_PER_ADDRESS": "100/hour",
    "LOGIN_FAILURES_PER_USER": "100/hour",  # a ceiling: slows down, never locks out
    "REVOKE_RATE_PER_ADDRESS": "60/min",  # every call counts
    # Client addresses (client_address.py): headers only through trusted proxies.
    "TRUSTED_PROXIES": (),  # networks, e.g. ["10.0.0.0/8"]
    "TRUSTED_PROXY_COUNT": 0,  # or: this many nearest hops are proxies
    "FORWARDED_HEADER": "X-Forwarded-For",  # or "Forwarded" (RFC 7239)
    # Django's user_logged_in on login (its receiver writes last_login).
    "UPDATE_LAST_LOGIN": True,
    "DEVICE_NAME_MAX_LENGTH": 32,  # characters, at most 32 (the store keeps 32 bytes)
    "USER_AGENT_MAX_LENGTH": 256,
    # Keep the raw user agent (its first 64 bytes, in a field of its own)
    # beside the device label computed from it at login.
    "STORE_USER_AGENT": False,
    # Deployment isolation (keys.py): tags and verifiers of new tokens are
    # HMACs with this key; None derives it from SECRET_KEY.
    "SIGNING_KEY": None,
    # Keys that still verify (rotation); None derives them from SECRET_KEY_FALLBACKS.
    "SIGNING_KEY_FALLBACKS": None,
    # Accept tokens of format 1 (unkeyed, issued before 2): set False once
    # they have aged out (ABSOLUTE_LIFETIME after the upgrade).
    "ACCEPT_UNKEYED_TOKENS": True,
    # Redis.
    "KEY_PREFIX": "rt:",
    "REDIS_URL": None,
    # With no Redis configured, the in-process fakeredis is used only with
    # DEBUG on, or when this asks for it: elsewhere it splits sessions per process.
    "EMBEDDED_STORE": False,
    "CACHE_ALIAS": None,  # a django-redis cache alias to share its pool
    "CLUSTER": False,  # REDIS_URL points at a Redis Cluster node
    "CLUSTER_NODES": None,  # [("host", port), ...]: more startup nodes of that cluster
    "SENTINELS": None,  # [("host", port), ...] with SENTINEL_SERVICE_NAME
    "SENTINEL_SERVICE_NAME": None,
    "SOCKET_TIMEOUT": 0.25,
    "SOCKET_CONNECT_TIMEOUT": 0.25,
    "RETRY_ATTEMPTS": 1,
    "RETRY_AFTER": 5,  # seconds, sent with 503 when Redis is unavailable
    # Acknowledged means durable (docs/guarantees.md): logins and revocations
    # answer only once this many replicas have the write (WAIT), else 503.
    # None: every replica the primary has connected, at least 1 under Sentinel;
    # 0: never wait (a failover may then undo an acknowledged logout).
    "WAIT_FOR_REPLICAS": None,
    "WAIT_TIMEOUT": 0.1,  # seconds WAIT may block; shorter than SOCKET_TIMEOUT
    # Migration from rest_framework.authtoken: accept DRF keys imported by
    # `manage.py redistoken import-drf-tokens` (one more round trip for those).
    "ACCEPT_DRF_TOKENS": False,
    # Opt-in zero-round-trip mode (local_cache/): a per-process cache kept
    # coherent by Redis client tracking; revocation visible within
    # LOCAL_CACHE_MAX_STALENESS. Needs RENEW_INTERVAL > 0 (as by default).
    "LOCAL_CACHE": False,
    "LOCAL_CACHE_MAX_STALENESS": 0.05,
    "LOCAL_CACHE_SIZE": 10_000,  # sessions per process, least recently used out
}

DURATIONS = ("IDLE_TIMEOUT", "ABSOLUTE_LIFETIME", "RENEW_INTERVAL", "LOCAL_CACHE_MAX_STALENESS")


#: The hard ceiling of MAX_SESSIONS_PER_USER: every per-user script is O(cap),
#: and the listing returns at most this many sessions in one answer.
MAX_SESSIONS_CEILING = 1000

RATES = (
    "LOGIN_FAILURES_PER_USER_AND_ADDRESS",
    "LOGIN_FAILURES_PER_ADDRESS",
    "LOGIN_FAILURES_PER_USER",
    "REVOKE_RATE_PER_ADDRESS",
)

#: Settings that were renamed, with what replaced them (for a clear check error).
REPLACED = {
    "LOGIN_THROTTLE_RATES": "LOGIN_FAILURES_PER_USER_AND_ADDRESS, LOGIN_FAILURES_PER_ADDRESS "
    "and LOGIN_FAILURES_PER_USER",
}

_PERIODS = {
    **dict.fromkeys(("s", "sec", "second"), 1),
    **dict.fromkeys(("m", "min", "minute"), 60),
    **dict.fromkeys(("h", "hour"), 3600),
    **dict.fromkeys(("d", "day"), 86400),
}
_RATE = re.compile(r"\s*(\d+)\s*/\s*(\d*)\s*([a-z]+)\s*")


def rate(value: Any) -> tuple[int, float] | None:
    """``"10/15min"`` as (10, 900.0); ``None`` stays ``None`` (no limit).
    Raises ``ValueError`` for anything else."""
    if value is None:
        return None
    match = _RATE.fullmatch(value) if isinstance(value, str) else None
    unit = match and (_PERIODS.get(match[3]) or _PERIODS.get(match[3].removesuffix("s")))  # "hours" too
    if not match or not unit or int(match[1]) < 1:
        raise ValueError(value)
    return int(match[1]), int(match[2] or 1) * float(unit)


def seconds(value: timedelta | float) -> float:
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TokenSettings:
    """Attribute access to the merged settings, with durations in seconds."""

    def __init__(self) -> None:
        self._cache: dict[str, Any] | None = None

    @property
    def user_settings(self) -> dict[str, Any]:
        return dict(getattr(django_settings, SETTING_NAME, None) or {})

    def _load(self) -> dict[str, Any]:
        if self._cache is None:
            merged = {**DEFAULTS, **self.user_settings}
            for name in DURATIONS:
                if isinstance(merged[name], (int, float, timedelta)):
                    merged[name] = seconds(merged[name])
            if merged["RENEW_INTERVAL"] is None:
                idle = merged["IDLE_TIMEOUT"]
                merged["RENEW_INTERVAL"] = min(60.0, idle / 10) if isinstance(idle, float) else 60.0
            for name in ("AUTH_HEADER_KEYWORDS", "TOKEN_PREFIX_FALLBACKS"):
                words = merged[name]
                if isinstance(words, str):
                    merged[name] = (words,)
                elif isinstance(words, (list, set, frozenset)):
                    merged[name] = tuple(words)
            self._cache = merged
        return self._cache

    def __getattr__(self, name: str) -> Any:
        """The first read of a setting; later reads find it in ``__dict__``
        (the request path reads several settings per request)."""
        if name not in DEFAULTS:
            raise AttributeError(f"Unknown redistoken setting: {name!r}")
        value = self._load()[name]
        self.__dict__[name] = value
        return value

    def reload(self) -> None:
        for name in DEFAULTS:
            self.__dict__.pop(name, None)
        self._cache = None


token_settings = TokenSettings()


def _reload(*, setting: str, **kwargs: Any) -> None:
    if setting == SETTING_NAME:
        token_settings.reload()


# Connected before any other receiver of ours, so they see the new values.
setting_changed.connect(_reload)


def problems() -> list[str]:
    """Every reason the current settings cannot work, for the system checks
    (LOCAL_CACHE's own are :func:`redistoken.local_cache.setting_problems`)."""
    errors = [
        f"Setting {name!r} was replaced by {REPLACED[name]}." if name in REPLACED else f"Unknown setting {name!r}."
        for name in token_settings.user_settings
        if name not in DEFAULTS
    ]
    s = token_settings
    for name in DURATIONS:
        value = getattr(s, name)
        if not isinstance(value, float) or value < 0:
            errors.append(f"{name} must be a non-negative number of seconds or a timedelta.")
    if not errors:
        if s.IDLE_TIMEOUT < 1:
            errors.append("IDLE_TIMEOUT must be at least one second.")
        if s.ABSOLUTE_LIFETIME < s.IDLE_TIMEOUT:
            errors.append("ABSOLUTE_LIFETIME must not be shorter than IDLE_TIMEOUT.")
        if s.RENEW_INTERVAL >= s.IDLE_TIMEOUT:
            errors.append("RENEW_INTERVAL must be shorter than IDLE_TIMEOUT, or sessions in use would expire.")
    if not _is_prefix(s.TOKEN_PREFIX):
        errors.append("TOKEN_PREFIX must be 1 to 10 ASCII letters or digits.")
    fallbacks = s.TOKEN_PREFIX_FALLBACKS
    if not isinstance(fallbacks, tuple) or not all(_is_prefix(prefix) for prefix in fallbacks):
        errors.append("TOKEN_PREFIX_FALLBACKS must be a list of prefixes (1 to 10 ASCII letters or digits each).")
    keywords = s.AUTH_HEADER_KEYWORDS
    if not keywords or not all(isinstance(k, str) and k.isascii() and k.isalpha() for k in keywords):
        errors.append("AUTH_HEADER_KEYWORDS must be a non-empty list of words such as 'Token' or 'Bearer'.")
    if s.USER_LOADING not in ("lazy", "eager"):
        errors.append("USER_LOADING must be 'lazy' or 'eager'.")
    cap = s.MAX_SESSIONS_PER_USER
    if not isinstance(cap, int) or isinstance(cap, bool) or not 1 <= cap <= MAX_SESSIONS_CEILING:
        errors.append(f"MAX_SESSIONS_PER_USER must be an integer from 1 to {MAX_SESSIONS_CEILING}.")
    for name in RATES:
        try:
            rate(getattr(s, name))
        except ValueError:
            errors.append(f"{name} must be a rate such as '10/15min' (s, min, hour or day), or None.")
    if not (s.SIGNING_KEY is None or (isinstance(s.SIGNING_KEY, (str, bytes)) and s.SIGNING_KEY)):
        errors.append("SIGNING_KEY must be None (derived from SECRET_KEY) or a non-empty string.")
    fallbacks = s.SIGNING_KEY_FALLBACKS
    if not (fallbacks is None or (isinstance(fallbacks, (list, tuple)) and all(
        isinstance(key, (str, bytes)) and key for key in fallbacks
    ))):  # fmt: skip
        errors.append("SIGNING_KEY_FALLBACKS must be None (derived from SECRET_KEY_FALLBACKS) or a list of strings.")
    for name in ("EMBEDDED_STORE", "UPDATE_LAST_LOGIN", "ACCEPT_UNKEYED_TOKENS"):
        if not isinstance(getattr(s, name), bool):
            errors.append(f"{name} must be True or False.")
    if not isinstance(s.KEY_PREFIX, str) or not s.KEY_PREFIX or "{" in s.KEY_PREFIX or "}" in s.KEY_PREFIX:
        errors.append("KEY_PREFIX must be a non-empty string without braces.")
    if s.REDIS_URL and s.CACHE_ALIAS:
        errors.append("Set REDIS_URL or CACHE_ALIAS, not both.")
    if s.CLUSTER and not s.REDIS_URL:
        errors.append("CLUSTER needs REDIS_URL (the address of any node of the cluster).")
    if s.CLUSTER and s.REDIS_URL:
        errors += cluster_url_problems(s.REDIS_URL)
    if s.CLUSTER_NODES is not None:
        if not s.CLUSTER:
            errors.append("CLUSTER_NODES needs CLUSTER (they are more startup nodes of the cluster at REDIS_URL).")
        if not _addresses(s.CLUSTER_NODES):
            errors.append("CLUSTER_NODES must be a non-empty list of (host, port) pairs.")
    if bool(s.SENTINELS) != bool(s.SENTINEL_SERVICE_NAME):
        errors.append("SENTINELS and SENTINEL_SERVICE_NAME go together.")
    for name in ("SOCKET_TIMEOUT", "SOCKET_CONNECT_TIMEOUT"):
        value = getattr(s, name)
        if not isinstance(value, (int, float)) or value <= 0:
            errors.append(f"{name} must be a positive number of seconds.")
    replicas = s.WAIT_FOR_REPLICAS
    if replicas is not None and (not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0):
        errors.append("WAIT_FOR_REPLICAS must be None (every connected replica) or a non-negative integer.")
    wait, timeout = s.WAIT_TIMEOUT, s.SOCKET_TIMEOUT
    if not isinstance(wait, (int, float)) or wait <= 0:
        errors.append("WAIT_TIMEOUT must be a positive number of seconds.")
    elif isinstance(timeout, (int, float)) and wait >= timeout:
        errors.append("WAIT_TIMEOUT must be shorter than SOCKET_TIMEOUT (WAIT blocks the connection that long).")
    if not isinstance(s.RETRY_ATTEMPTS, int) or s.RETRY_ATTEMPTS < 0:
        errors.append("RETRY_ATTEMPTS must be a non-negative integer.")
    device_max = s.DEVICE_NAME_MAX_LENGTH
    if not isinstance(device_max, int) or not 1 <= device_max <= 32:
        errors.append("DEVICE_NAME_MAX_LENGTH must be an integer from 1 to 32 (the store keeps 32 bytes).")
    if not isinstance(s.STORE_USER_AGENT, bool):
        errors.append("STORE_USER_AGENT must be True or False.")
    if not isinstance(s.ACCEPT_DRF_TOKENS, bool):
        errors.append("ACCEPT_DRF_TOKENS must be True or False.")
    return errors


def _is_prefix(value: object) -> bool:
    return isinstance(value, str) and value.isascii() and value.isalnum() and 1 <= len(value) <= 10


def token_prefixes() -> tuple[str, ...]:
    """The prefixes a presented token may carry: ``TOKEN_PREFIX``, then its fallbacks."""
    return (token_settings.TOKEN_PREFIX, *token_settings.TOKEN_PREFIX_FALLBACKS)


def listing_pagination_class() -> Any:
    """The pagination class of the session listings: DRF's
    ``DEFAULT_PAGINATION_CLASS``, unless it is a ``CursorPagination``, which
    pages only an ordered queryset (the listings stay plain; check W004)."""
    from rest_framework.pagination import CursorPagination
    from rest_framework.settings import api_settings

    cls: Any = api_settings.DEFAULT_PAGINATION_CLASS  # imported: a class or None
    return None if cls is not None and issubclass(cls, CursorPagination) else cls


def cluster_url_problems(url: object) -> list[str]:
    """What redis-py's Cluster client refuses in a URL (it would say so only
    when it connects, as an error that looks like an outage)."""
    from urllib.parse import urlsplit

    parts = urlsplit(str(url))
    if parts.scheme not in ("redis", "rediss"):
        return ["With CLUSTER, REDIS_URL must be a redis:// or rediss:// URL (no socket path)."]
    if parts.path.strip("/") not in ("", "0") or "db=" in parts.query:
        return ["With CLUSTER, REDIS_URL must name database 0 (a cluster has no other)."]
    return []


def _addresses(value: object) -> bool:
    """Whether ``value`` is a non-empty list of (host, port) pairs."""
    if not isinstance(value, (list, tuple)) or not value:
        return False
    return all(
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and isinstance(pair[0], str)
        and bool(pair[0])
        and isinstance(pair[1], int)
        and 0 < pair[1] < 65536
        for pair in value
    )
