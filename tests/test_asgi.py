"""The auth path under ASGI: Django's async test client, then the demo under uvicorn."""

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from tests.servers import free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.django_db
@pytest.mark.usefixtures("backend")
def test_auth_path_with_the_async_client():
    get_user_model().objects.create_user("alice", password="correct horse")

    async def scenario() -> None:
        client = AsyncClient()
        login = await client.post(
            "/auth/login/", {"username": "alice", "password": "correct horse"}, content_type="application/json"
        )
        assert login.status_code == 200
        header = {"Authorization": f"Token {login.json()['access_token']}"}
        me = await client.get("/api/me/", headers=header)
        assert me.status_code == 200 and me.json()["username"] == "alice"
        assert "private" in me["Cache-Control"] and "Authorization" in me["Vary"]  # async middleware path
        sessions = await client.get("/auth/sessions/", headers=header)
        assert [s["current"] for s in sessions.json()] == [True]
        assert (await client.post("/auth/logout/", headers=header)).status_code == 204
        refused = await client.get("/api/me/", headers=header)
        assert refused.status_code == 401 and 'error="invalid_token"' in refused["WWW-Authenticate"]

    async_to_sync(scenario)()


def request(url: str, *, data: dict | None = None, token: str | None = None) -> tuple[int, dict, bytes]:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Token {token}"
    body = json.dumps(data).encode() if data is not None else None
    req = urllib.request.Request(url, data=body, headers=headers, method="POST" if body is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


@pytest.mark.servers
def test_demo_under_uvicorn(tmp_path):
    """The demo's ASGI application in a real ASGI server (embedded store: one process)."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(
        DEMO_DB_PATH=str(tmp_path / "demo.sqlite3"),
        DJANGO_DEBUG="0",
        REDISTOKEN_EMBEDDED_STORE="1",
        PYTHONPATH=str(ROOT),
    )  # this checkout
    manage = [sys.executable, str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--verbosity", "0"], env=env, check=True, timeout=120)
    created = subprocess.run([*manage, "demo_user"], env=env, check=True, timeout=60, capture_output=True, text=True)
    password = re.search(r"password=(\S+)", created.stdout)[1]
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--app-dir", str(ROOT / "site"), "demo.asgi:application"]
        + ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
        env=env,
        cwd=tmp_path,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, _ = request(f"{base}/api/me/")
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "uvicorn did not start"
                time.sleep(0.1)
        assert status == 401
        status, headers, body = request(f"{base}/auth/login/", data={"username": "demo", "password": password})
        assert status == 200 and headers["Cache-Control"] == "no-store"
        token = json.loads(body)["access_token"]
        status, headers, body = request(f"{base}/api/me/", token=token)
        assert status == 200 and json.loads(body)["username"] == "demo"
        assert "private" in headers["Cache-Control"]
        assert request(f"{base}/auth/logout/", data={}, token=token)[0] == 204
        assert request(f"{base}/api/me/", token=token)[0] == 401
    finally:
        server.terminate()
        server.wait(10)
