"""Redis down or slow: 503 with Retry-After, fast; never 401, never a pass-through."""

import threading
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from redistoken import connection

from .servers import RedisServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def private_redis(settings) -> Iterator[RedisServer]:
    server = RedisServer().start()
    settings.REDISTOKEN = {"REDIS_URL": server.url, "SOCKET_TIMEOUT": 0.2, "SOCKET_CONNECT_TIMEOUT": 0.2}
    yield server
    server.cleanup()
    connection.reset_client()


@pytest.fixture
def token(private_redis) -> str:
    get_user_model().objects.create_user("alice", password="pw")
    response = APIClient().post("/auth/login/", {"username": "alice", "password": "pw"}, format="json")
    return response.json()["token"]


def me(token: str):
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/api/me/")


def assert_unavailable(response) -> None:
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    assert "Traceback" not in response.content.decode()


def test_stopped_redis_is_503_quickly_then_recovers(private_redis, token):
    assert me(token).status_code == 200
    private_redis.stop()
    started = time.monotonic()
    assert_unavailable(me(token))
    assert time.monotonic() - started < 1.5
    assert_unavailable(APIClient().post("/auth/login/", {"username": "alice", "password": "pw"}, format="json"))
    assert_unavailable(APIClient(HTTP_AUTHORIZATION=f"Token {token}").post("/auth/logout/"))
    private_redis.start()  # same port; the store is gone (no persistence) but the client recovers
    assert me(token).status_code == 401
    fresh = APIClient().post("/auth/login/", {"username": "alice", "password": "pw"}, format="json").json()["token"]
    assert me(fresh).status_code == 200


def test_paused_redis_is_503_within_the_timeout(private_redis, token):
    assert me(token).status_code == 200
    pauser = threading.Thread(target=lambda: private_redis.client().execute_command("DEBUG", "SLEEP", "2"))
    pauser.start()
    time.sleep(0.1)
    started = time.monotonic()
    response = me(token)
    elapsed = time.monotonic() - started
    pauser.join()
    assert_unavailable(response)
    assert elapsed < 1.5
    assert me(token).status_code == 200  # the same token works again afterwards
