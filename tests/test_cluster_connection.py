"""Starting against a Redis Cluster whose nodes are down: several startup
nodes, and a client that cannot be built is an outage, never a bug."""

import time
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from redistoken import connection
from redistoken.settings import problems

from .servers import RedisClusterServers, free_port

pytestmark = [pytest.mark.django_db, pytest.mark.servers]


@pytest.fixture
def cluster(settings) -> Iterator[RedisClusterServers]:
    """A private cluster (these tests stop its nodes), and a user to log in."""
    servers = RedisClusterServers(3).start()
    settings.ROOT_URLCONF = "tests.urls"
    get_user_model().objects.create_user("alice", password="pw")
    connection.reset_client()
    try:
        yield servers
    finally:
        connection.reset_client()
        servers.cleanup()


def _login() -> APIClient:
    return APIClient().post("/auth/login/", {"username": "alice", "password": "pw"}, format="json")


def _whoami(token: str) -> int:
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/whoami/").status_code


def _login_once_it_rejoins(timeout: float = 30.0) -> Any:
    """A login, retried while the restarted node rejoins (503 meanwhile, never
    another status: the throttle's slot may be one of the restarted node's)."""
    deadline = time.monotonic() + timeout
    while (response := _login()).status_code == 503 and time.monotonic() < deadline:
        time.sleep(0.2)
    return response


def test_with_two_startup_nodes_and_the_first_down_it_works(cluster, settings):
    dead = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    settings.REDISTOKEN = {"REDIS_URL": dead, "CLUSTER": True, "CLUSTER_NODES": [("127.0.0.1", cluster.nodes[1].port)]}
    assert problems() == []
    response = _login()
    assert response.status_code == 200
    assert _whoami(response.json()["token"]) == 200


def test_a_client_built_while_its_node_is_down_is_a_connection_error_then_recovers(cluster, settings):
    first = cluster.nodes[0]
    settings.REDISTOKEN = {"REDIS_URL": first.url, "CLUSTER": True}
    first.stop()
    for _ in range(2):  # not remembered: every call tries again
        with pytest.raises(redis.exceptions.ConnectionError) as raised:
            connection.get_client()
        assert isinstance(raised.value, connection.ClientUnavailable)
        assert "could not connect" in str(raised.value)
    first.start()  # same port and directory: it rejoins the cluster
    response = _login_once_it_rejoins()
    assert response.status_code == 200
    assert _whoami(response.json()["token"]) == 200


def test_a_process_started_while_its_node_is_down_answers_503_then_recovers(cluster, settings):
    first = cluster.nodes[0]
    settings.REDISTOKEN = {"REDIS_URL": first.url, "CLUSTER": True}
    first.stop()
    response = _login()
    assert response.status_code == 503
    assert int(response["Retry-After"]) > 0
    first.start()
    assert _login_once_it_rejoins().status_code == 200


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"CLUSTER_NODES": [("127.0.0.1", 7001)]}, "CLUSTER_NODES needs CLUSTER"),
        ({"CLUSTER": True, "CLUSTER_NODES": []}, "CLUSTER_NODES must be a non-empty list of (host, port) pairs."),
        ({"CLUSTER": True, "CLUSTER_NODES": ["127.0.0.1:7001"]}, "CLUSTER_NODES must be a non-empty list"),
        ({"CLUSTER": True, "CLUSTER_NODES": [("127.0.0.1", "7001")]}, "CLUSTER_NODES must be a non-empty list"),
        ({"CLUSTER": True, "CLUSTER_NODES": [("", 7001)]}, "CLUSTER_NODES must be a non-empty list"),
        ({"CLUSTER": True, "REDIS_URL": "redis://127.0.0.1:7000/9"}, "must name database 0"),
        ({"CLUSTER": True, "REDIS_URL": "unix:///tmp/redis.sock"}, "redis:// or rediss:// URL"),
    ],
)
def test_cluster_settings_are_checked(settings, overrides, problem):
    settings.REDISTOKEN = {"REDIS_URL": "redis://127.0.0.1:7000/0", **overrides}
    assert any(problem in text for text in problems()), problems()


def test_good_cluster_settings_have_no_problem(settings):
    settings.REDISTOKEN = {
        "REDIS_URL": "rediss://:secret@10.0.0.1:7000/0",
        "CLUSTER": True,
        "CLUSTER_NODES": [("10.0.0.2", 7000), ["10.0.0.3", 7000]],
    }
    assert problems() == []
