from django.apps import AppConfig


class RedisTokenConfig(AppConfig):
    name = "redistoken"
    verbose_name = "Redis tokens"

    def ready(self) -> None:
        from . import checks, deploy_checks  # noqa: F401  (registers the system checks)
