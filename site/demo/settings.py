"""Settings of the redistoken demo. Configure Redis with ``REDIS_URL``; without
it the demo runs on the embedded in-process fakeredis.

Environment (the Dockerfile and docker-compose.yml set them): ``DJANGO_DEBUG``
(``1`` by default; ``0`` serves static files with WhiteNoise from
``DJANGO_STATIC_ROOT``, filled by ``collectstatic``), ``DJANGO_SECRET_KEY``,
``DJANGO_ALLOWED_HOSTS``, ``DEMO_DB_PATH`` (the SQLite file) and
``DEMO_PASSWORD_FILE`` (the demo user's password, beside the database by
default)."""

import os
import warnings
from pathlib import Path

import redistoken

BASE_DIR = Path(__file__).resolve().parent.parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "demo-only-insecure-secret-key-change-me")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = os.environ.get("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]").split(",")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI and Redoc assets, served locally (no CDN)
    "redistoken",
    "demo",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",  # static files with DEBUG off (gunicorn, uvicorn, Docker)
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "redistoken.middleware.PrivateCacheMiddleware",
]

ROOT_URLCONF = "demo.urls"
WSGI_APPLICATION = "demo.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB_PATH", str(BASE_DIR / "demo.sqlite3")),
    }
}
# The demo user's password, written once by `manage.py demo_user`.
DEMO_PASSWORD_FILE = os.environ.get(
    "DEMO_PASSWORD_FILE", str(Path(DATABASES["default"]["NAME"]).parent / "demo-password.txt")
)

USE_TZ = True
TIME_ZONE = "UTC"
STATIC_URL = "static/"
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT", str(BASE_DIR / "staticfiles"))
# With DEBUG on, WhiteNoise serves from the apps' static folders (its
# WHITENOISE_USE_FINDERS default), under runserver, gunicorn or uvicorn alike;
# STATIC_ROOT is then not needed until collectstatic fills it.
if DEBUG:
    warnings.filterwarnings("ignore", message="No directory at", category=UserWarning)
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["redistoken.authentication.RedisTokenAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "redistoken demo",
    "DESCRIPTION": "Log in at /auth/login/, then send `Authorization: Token <token>` (or `Bearer <token>`).",
    "VERSION": redistoken.__version__,
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # OpenAPI links between redistoken's operations (schemathesis's stateful tests follow them).
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "redistoken.schema.add_links"],
}

REDISTOKEN = {
    "REDIS_URL": os.environ.get("REDIS_URL") or None,
    # With DEBUG off and no REDIS_URL the embedded store is refused, unless asked for.
    "EMBEDDED_STORE": os.environ.get("REDISTOKEN_EMBEDDED_STORE") == "1",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"redistoken": {"handlers": ["console"], "level": "INFO"}},
}
