"""Django system checks: invalid settings are errors; the embedded store warns."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from .connection import is_embedded
from .settings import problems, token_settings


@register("redistoken")
def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = [
        Error(problem, hint="See the settings reference in redistoken's README.", id="redistoken.E001")
        for problem in problems()
    ]
    if is_embedded():
        messages.append(
            Warning(
                "redistoken stores sessions in an embedded in-process fakeredis.",
                hint="Tokens do not survive a restart and are not shared between processes; "
                "set REDISTOKEN['REDIS_URL'] or REDISTOKEN['CACHE_ALIAS'] in production.",
                id="redistoken.W001",
            )
        )
    if is_embedded() and token_settings.LOCAL_CACHE:
        messages.append(
            Warning(
                "REDISTOKEN['LOCAL_CACHE'] is on, but the embedded fakeredis has no client tracking: it stays off.",
                hint="The zero-round-trip mode needs a real Redis (REDIS_URL, CACHE_ALIAS or SENTINELS).",
                id="redistoken.W002",
            )
        )
    return messages
