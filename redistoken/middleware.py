"""Keep authenticated responses out of shared caches.

A response to a request that carried ``Authorization`` depends on who asked:
it gets ``Vary: Authorization`` and ``Cache-Control: private`` (unless it is
already ``no-store``), so a proxy or CDN never serves one user's answer to
another. redistoken's own views do this themselves; add
``redistoken.middleware.PrivateCacheMiddleware`` to ``MIDDLEWARE`` to cover
the project's views too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponseBase
from django.utils.decorators import sync_and_async_middleware

from .cache_headers import mark_private, private_if_authorized

__all__ = ["PrivateCacheMiddleware", "mark_private", "private_if_authorized"]


@sync_and_async_middleware
def PrivateCacheMiddleware(get_response: Callable[[HttpRequest], Any]) -> Any:  # named like a class: a MIDDLEWARE entry
    """Mark private every response to a request that carried ``Authorization``."""
    if iscoroutinefunction(get_response):
        async_get_response: Callable[[HttpRequest], Awaitable[HttpResponseBase]] = get_response

        async def async_middleware(request: HttpRequest) -> HttpResponseBase:
            return private_if_authorized(request, await async_get_response(request))

        return async_middleware

    def middleware(request: HttpRequest) -> HttpResponseBase:
        return private_if_authorized(request, get_response(request))

    return middleware
