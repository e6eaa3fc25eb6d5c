"""Django settings of the benchmark: every scheme's app, one trivial view each.

The database and the Redis server come from the environment, set by
``bench/run.py`` (also for the gunicorn workers of the HTTP mode):
``BENCH_DATABASE`` is a SQLite file path or a ``postgresql://`` URL,
``BENCH_REDIS_URL`` the private Redis server the benchmark started.
"""

import os
from datetime import timedelta
from urllib.parse import unquote, urlparse

SECRET_KEY = "benchmark-only-not-a-secret-0123456789abcdefghijklmnopqrstuvwxyz"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
ROOT_URLCONF = "bench.urls"
WSGI_APPLICATION = "bench.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rest_framework.authtoken",
    "knox",
    "redistoken",
]

# What a typical API runs; the same for every scheme, the floor included.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.common.CommonMiddleware",
]


def _database(spec: str) -> dict:
    """Persistent connections (as production runs), so that no scheme pays
    for connecting to the database on each request."""
    if not spec.startswith(("postgres://", "postgresql://")):
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": spec, "CONN_MAX_AGE": None}
    url = urlparse(spec)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": url.path.lstrip("/"),
        "USER": unquote(url.username or ""),
        "PASSWORD": unquote(url.password or ""),
        "HOST": url.hostname or "",
        "PORT": str(url.port or ""),
        "CONN_MAX_AGE": None,
    }


DATABASES = {"default": _database(os.environ.get("BENCH_DATABASE", "bench.sqlite3"))}

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
}

# Generous timeouts: on a loaded machine a login burst must not fail the run
# (they cost nothing per request; they only bound the wait for a dead Redis).
REDISTOKEN = {
    "REDIS_URL": os.environ.get("BENCH_REDIS_URL"),
    "KEY_PREFIX": "rtb:",
    "EMBEDDED_STORE": not os.environ.get("BENCH_REDIS_URL"),
    "SOCKET_TIMEOUT": 5,
}

REST_KNOX = {"AUTO_REFRESH": True}  # slide the expiry, as redistoken does

SIMPLE_JWT = {"ACCESS_TOKEN_LIFETIME": timedelta(days=1)}  # outlives any run

LOGGING = {"version": 1, "disable_existing_loggers": False}
