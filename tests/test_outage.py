"""Redis down or slow: 503 with Retry-After, fast; never 401, never a pass-through."""

import threading
import time
from collections.abc import Iterator

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from redistoken import connection, tokens

from .servers import RedisServer, free_port

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


@pytest.mark.servers
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


@pytest.mark.servers
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


@pytest.mark.servers
def test_client_pause_is_503_then_the_same_token_works(private_redis, token):
    assert me(token).status_code == 200
    private_redis.client().execute_command("CLIENT", "PAUSE", 1500, "ALL")
    started = time.monotonic()
    assert_unavailable(me(token))
    assert time.monotonic() - started < 1.2  # bounded by the timeouts, not by the pause
    time.sleep(1.6)
    assert me(token).status_code == 200


def test_unreachable_redis_is_503_for_every_endpoint(settings):
    get_user_model().objects.create_user("alice", password="pw")
    settings.REDISTOKEN = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}  # nothing listens there
    forged = "rtk_1" + "A" * 53  # malformed: refused without Redis, as a 401
    assert me(forged).status_code == 401
    valid_shape = tokens.generate("rtk", tokens.user_tag(1), tokens.new_session_id())
    started = time.monotonic()
    assert_unavailable(me(valid_shape))
    assert time.monotonic() - started < 1.5
    assert_unavailable(APIClient().post("/auth/login/", {"username": "alice", "password": "pw"}, format="json"))
    assert_unavailable(APIClient(HTTP_AUTHORIZATION=f"Token {valid_shape}").post("/auth/logout/"))
    assert_unavailable(APIClient(HTTP_AUTHORIZATION=f"Token {valid_shape}").get("/auth/sessions/"))


@pytest.fixture
def durable_redis(settings) -> Iterator[RedisServer]:
    server = RedisServer("--appendonly", "yes", "--appendfsync", "always").start()
    settings.REDISTOKEN = {"REDIS_URL": server.url}
    yield server
    server.cleanup()
    connection.reset_client()


@pytest.mark.servers
def test_with_aof_a_restart_loses_no_session(durable_redis):
    get_user_model().objects.create_user("alice", password="pw")
    issued = [
        APIClient()
        .post("/auth/login/", {"username": "alice", "password": "pw", "device": d}, format="json")
        .json()["token"]
        for d in ("phone", "laptop")
    ]
    assert all(me(t).status_code == 200 for t in issued)
    durable_redis.stop()
    assert_unavailable(me(issued[0]))  # never a 401 while it is down
    durable_redis.start()  # same port, same directory: the AOF is replayed
    assert [me(t).status_code for t in issued] == [200, 200]  # same client, no restart of the app
    assert len(APIClient(HTTP_AUTHORIZATION=f"Token {issued[0]}").get("/auth/sessions/").json()) == 2
