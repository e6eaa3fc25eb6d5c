"""Does an installed redistoken work on its own? A script, run outside pytest.

    python app_smoke.py [--without-openapi]

A bare project (auth, contenttypes, DRF, redistoken; the embedded store)
logs in, lists sessions, logs out; prints facts about the installed package
as JSON. Used by tests/test_packaging.py (in a venv holding only the built
wheel) and tests/test_openapi.py (without drf-spectacular).
"""

import json
import sys

if "--without-openapi" in sys.argv:
    sys.modules["drf_spectacular"] = None  # type: ignore[assignment]  # as if not installed

import django
from django.conf import settings
from django.urls import include, path

settings.configure(
    SECRET_KEY="smoke-test-secret-key-" + "x" * 40,  # signs fingerprints, keys the throttle
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "rest_framework", "redistoken"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    ROOT_URLCONF=__name__,
    PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"],
    REDISTOKEN={"EMBEDDED_STORE": True},  # the embedded store is the point here
    SILENCED_SYSTEM_CHECKS=["redistoken.W001"],
)
django.setup()
urlpatterns = [path("auth/", include("redistoken.urls"))]  # after setup: the URLs import models

from importlib.resources import files  # noqa: E402

from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

import redistoken  # noqa: E402

call_command("check", fail_level="WARNING")
call_command("migrate", verbosity=0)
get_user_model().objects.create_user("smoke", password="smoke-password")
login = APIClient().post("/auth/login/", {"username": "smoke", "password": "smoke-password"}, format="json")
assert login.status_code == 200, login.content
api = APIClient(HTTP_AUTHORIZATION=f"Token {login.json()['access_token']}")
assert [s["current"] for s in api.get("/auth/sessions/").json()] == [True]
assert api.post("/auth/logout/").status_code == 204
assert api.get("/auth/sessions/").status_code == 401

package = files("redistoken")
scripts = package.joinpath("store").joinpath("lua")
print(
    json.dumps(
        {
            "file": redistoken.__file__,
            "version": redistoken.__version__,
            "lua": sorted(entry.name for entry in scripts.iterdir() if entry.name.endswith(".lua")),
            "py.typed": package.joinpath("py.typed").is_file(),
            "schema_loaded": "redistoken.schema" in sys.modules,
        }
    )
)
