"""Cache headers for answers that depend on who asks, shared by redistoken's
views and :mod:`redistoken.middleware` (a face each, so neither imports the other)."""

from __future__ import annotations

from typing import TypeVar

from django.http import HttpRequest, HttpResponseBase
from django.utils.cache import patch_cache_control, patch_vary_headers

R = TypeVar("R", bound=HttpResponseBase)


def mark_private(response: HttpResponseBase) -> HttpResponseBase:
    """``Vary: Authorization`` plus ``Cache-Control: private`` (kept ``no-store`` if so)."""
    patch_vary_headers(response, ("Authorization",))
    if "no-store" not in response.get("Cache-Control", ""):
        patch_cache_control(response, private=True)
    return response


def private_if_authorized(request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
    """:func:`mark_private` if the request carried ``Authorization``."""
    return mark_private(response) if "HTTP_AUTHORIZATION" in request.META else response


def no_store(response: R) -> R:
    """RFC 6749 5.1: responses carrying a token must never be cached."""
    patch_cache_control(response, no_store=True)
    response["Pragma"] = "no-cache"
    return response
