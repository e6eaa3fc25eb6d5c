from importlib.util import find_spec

from django.apps import AppConfig, apps


class RedisTokenConfig(AppConfig):
    name = "redistoken"
    verbose_name = "Redis tokens"
    default_auto_field = "django.db.models.AutoField"

    def ready(self) -> None:
        from . import checks, deploy_checks  # noqa: F401  (registers the system checks)
        from .account_events import connect

        connect()  # account events end sessions
        if apps.is_installed("rest_framework.authtoken"):
            from . import imported_keys

            imported_keys.connect()  # revoked imported DRF keys stay dead
        if apps.is_installed("django.contrib.admin"):
            from django.contrib.admin import site
            from django.contrib.auth import get_user_model

            # Admin modules are imported (autodiscover) when the admin app is
            # ready; an app listed after ours may have replaced the UserAdmin
            # that redistoken.admin extended then, so extend it again.
            if get_user_model() in site._registry:
                from .admin import install

                install()

        if find_spec("drf_spectacular") is not None:
            from . import schema  # noqa: F401  (registers the OpenAPI extensions)
