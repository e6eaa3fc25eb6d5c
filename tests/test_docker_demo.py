"""The Docker demo without Docker: the image's settings (the Dockerfile's
and docker-compose.yml's environment, DEBUG off) under gunicorn, serving the
landing page, the health check, the API docs' assets and the admin's CSS; and
a demo user whose password survives restarts."""

import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from io import StringIO
from pathlib import Path

import pytest
import yaml
from django.contrib.auth import get_user_model
from django.core.management import call_command

from redistoken import store

from .servers import free_port
from .test_project_files import dockerfile_env

ROOT = Path(__file__).resolve().parent.parent


def get(url: str) -> tuple[int, str, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read()


def local_assets(page: bytes) -> set[str]:
    return set(re.findall(r'(?:src|href)="(/static/[^"]+)"', page.decode()))


@pytest.fixture(scope="module")
def image_server(tmp_path_factory):
    """gunicorn on the demo with the image's environment, its paths moved
    under a temporary folder. REDIS_URL names compose's `redis` host, which
    does not exist here: the embedded store stands in for it."""
    data = tmp_path_factory.mktemp("data")
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    env = {
        **os.environ,
        **dockerfile_env(),
        **{key: str(value) for key, value in compose["services"]["web"]["environment"].items()},
        "DJANGO_STATIC_ROOT": str(data / "staticfiles"),
        "DEMO_DB_PATH": str(data / "demo.sqlite3"),
        "DEMO_PASSWORD_FILE": str(data / "demo-password.txt"),
        "DJANGO_SETTINGS_MODULE": "demo.settings",
    }
    env.pop("REDIS_URL")  # compose's `redis` host is not here: the embedded store, asked for by name
    env["REDISTOKEN_EMBEDDED_STORE"] = "1"  # (with DEBUG off and no Redis the demo refuses to start)
    assert env["DJANGO_DEBUG"] == "0"
    python = [sys.executable, str(ROOT / "manage.py")]
    for command in (["collectstatic", "--noinput"], ["migrate", "--noinput"], ["demo_user"]):
        subprocess.run([*python, *command], env=env, cwd=ROOT, check=True, capture_output=True, timeout=300)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--pythonpath", "site", "--workers", "2", "--bind", f"127.0.0.1:{port}",
         "demo.wsgi"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if get(f"{base}/health/")[0] == 200:
                    break
            except OSError:
                pass
            assert server.poll() is None, server.stderr.read().decode()
            time.sleep(0.1)
        yield base
    finally:
        server.terminate()
        server.wait(30)


@pytest.mark.servers  # gunicorn
def test_api_docs_and_their_assets_are_served_with_debug_off(image_server):
    for page in ("/api/docs/", "/api/redoc/"):
        status, _, body = get(image_server + page)
        assert status == 200
        assets = local_assets(body)
        assert any(asset.endswith(".js") for asset in assets), page
        for asset in assets:
            assert get(image_server + asset)[0] == 200, asset
        assert b"https://" not in body and b"fonts.g" not in body, page  # nothing from a CDN or Google Fonts


@pytest.mark.servers  # gunicorn
def test_the_admin_is_styled_with_debug_off(image_server):
    status, _, body = get(image_server + "/admin/login/")
    assert status == 200
    stylesheets = [asset for asset in local_assets(body) if asset.endswith(".css")]
    assert "/static/admin/css/base.css" in stylesheets
    for css in stylesheets:
        status, content_type, content = get(image_server + css)
        assert status == 200 and content_type.startswith("text/css") and content, css


@pytest.mark.servers  # gunicorn
def test_landing_page_and_health(image_server):
    status, _, body = get(image_server + "/")
    assert status == 200
    page = body.decode()
    for link in ('href="/api/docs/"', 'href="/api/redoc/"', 'href="/admin/"', 'href="#walk-through"', "https://"):
        assert link in page, link
    status, content_type, body = get(image_server + "/health/")
    assert status == 200 and content_type.startswith("application/json") and b'"ok"' in body
    assert get(image_server + "/no-such-page/")[0] == 404  # DEBUG off: no debug page


@pytest.mark.django_db
@pytest.mark.usefixtures("backend")
def test_the_demo_user_keeps_its_password_and_sessions_across_restarts(settings, tmp_path):
    settings.DEMO_PASSWORD_FILE = str(tmp_path / "demo-password.txt")

    def demo_user(*args):
        out = StringIO()
        call_command("demo_user", *args, stdout=out)
        return out.getvalue()

    first = demo_user()
    password = re.search(r"password=(\S+)", first).group(1)
    assert (tmp_path / "demo-password.txt").read_text().strip() == password
    assert oct((tmp_path / "demo-password.txt").stat().st_mode & 0o777) == "0o600"
    user = get_user_model().objects.get(username="demo")
    assert user.check_password(password)
    session = store.issue_token(user, device="laptop").session
    hashed = get_user_model().objects.get(username="demo").password

    again = demo_user()  # a restart
    assert password not in again and "--show" in again
    assert get_user_model().objects.get(username="demo").password == hashed
    assert [s.id for s in store.list_sessions(user)] == [session.id]  # not logged out
    assert f"password={password}" in demo_user("--show")

    reset = re.search(r"password=(\S+)", demo_user("--reset")).group(1)
    assert reset != password and get_user_model().objects.get(username="demo").check_password(reset)
    assert store.list_sessions(user) == []  # a new password ends the sessions, as any password change
