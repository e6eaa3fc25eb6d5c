from importlib.util import find_spec

from django.apps import AppConfig


class RedisTokenConfig(AppConfig):
    name = "redistoken"
    verbose_name = "Redis tokens"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)

        if find_spec("drf_spectacular") is not None:
            from . import schema  # noqa: F401  (registers the OpenAPI extensions)
