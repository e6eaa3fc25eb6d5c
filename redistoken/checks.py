"""Django system checks: invalid settings are errors; the embedded store warns."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from . import client_address, local_cache
from .connection import EMBEDDED_REFUSED, embedded_refused, is_embedded
from .settings import check_hint, listing_pagination_class, problems, token_prefixes, token_settings


@register("redistoken")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors = problems() + client_address.problems()
    errors += local_cache.setting_problems() if token_settings.LOCAL_CACHE else []
    messages: list[CheckMessage] = [
        Error(problem, hint=check_hint("redistoken.E001"), id="redistoken.E001")
        for problem in errors
    ]
    if embedded_refused():
        messages.append(
            Error(
                EMBEDDED_REFUSED,
                hint=check_hint(
                    "redistoken.E002",
                    "Set REDISTOKEN['REDIS_URL'] (or CACHE_ALIAS, SENTINELS), or EMBEDDED_STORE = True for a demo.",
                ),
                id="redistoken.E002",
            )
        )
    elif is_embedded():
        messages.append(
            Warning(
                "redistoken stores sessions in an embedded in-process fakeredis.",
                hint=check_hint(
                    "redistoken.W001",
                    "Tokens do not survive a restart and are not shared between processes; "
                    "set REDISTOKEN['REDIS_URL'] or REDISTOKEN['CACHE_ALIAS'] in production.",
                ),
                id="redistoken.W001",
            )
        )
    if token_settings.LOCAL_CACHE and local_cache.unsupported_reason() == local_cache.EMBEDDED:
        messages.append(
            Warning(
                "REDISTOKEN['LOCAL_CACHE'] is on, but the embedded fakeredis has no client tracking: it stays off.",
                hint=check_hint(
                    "redistoken.W003",
                    "The zero-round-trip mode needs a real Redis (REDIS_URL, CACHE_ALIAS or SENTINELS).",
                ),
                id="redistoken.W003",
            )
        )
    return messages


@register("redistoken")
def check_authentication_order(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """During a migration DRF's ``TokenAuthentication`` must come after ours:
    placed first, it accepts a DRF key from its table even after redistoken
    revoked the session imported from it."""
    from rest_framework.authentication import TokenAuthentication
    from rest_framework.settings import api_settings

    from .authentication import RedisTokenAuthentication

    classes: list[Any] = list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)  # classes, once imported
    ours = [i for i, cls in enumerate(classes) if issubclass(cls, RedisTokenAuthentication)]
    drf = [i for i, cls in enumerate(classes) if issubclass(cls, TokenAuthentication)]
    if ours and drf and min(drf) < min(ours):
        return [
            Warning(
                "DRF's TokenAuthentication comes before RedisTokenAuthentication.",
                hint=check_hint(
                    "redistoken.W002",
                    "Put RedisTokenAuthentication first, or a revoked session imported from a DRF key "
                    "is still accepted by DRF's class.",
                ),
                id="redistoken.W002",
            )
        ]
    return []


@register("redistoken")
def check_knox_prefix(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """knox's tokens are its ``TOKEN_PREFIX`` then hex: when that prefix starts
    with one of ours and ``_``, our class claims every knox token (and refuses
    it as malformed) before knox's class can see it."""
    from django.conf import settings

    knox_prefix = str((getattr(settings, "REST_KNOX", None) or {}).get("TOKEN_PREFIX") or "")
    claimed = [prefix for prefix in token_prefixes() if knox_prefix.startswith(f"{prefix}_")]
    if not claimed:
        return []
    return [
        Error(
            f"knox's TOKEN_PREFIX {knox_prefix!r} overlaps redistoken's prefix {claimed[0]!r}: "
            "redistoken would refuse every knox token before knox's class sees it.",
            hint=check_hint(
                "redistoken.E003",
                "Keep knox's own prefix (its default is none) and a different REDISTOKEN['TOKEN_PREFIX'].",
            ),
            id="redistoken.E003",
        )
    ]


@register("redistoken")
def check_listing_pagination(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """A ``CursorPagination`` default cannot page the session listings (a list,
    not a queryset): they stay plain rather than fail."""
    from rest_framework.settings import api_settings

    if api_settings.DEFAULT_PAGINATION_CLASS is None or listing_pagination_class() is not None:
        return []
    return [
        Warning(
            "DEFAULT_PAGINATION_CLASS is a CursorPagination: redistoken's session listings stay unpaginated.",
            hint=check_hint(
                "redistoken.W004",
                "Cursor pagination pages an ordered queryset; a listing holds at most MAX_SESSIONS_PER_USER "
                "sessions. Use PageNumberPagination or LimitOffsetPagination to page it.",
            ),
            id="redistoken.W004",
        )
    ]
