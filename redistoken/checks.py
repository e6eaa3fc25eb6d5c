"""Django system checks: invalid settings are errors; the embedded store warns."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning, register

from .connection import is_embedded
from .settings import problems


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
    return messages
