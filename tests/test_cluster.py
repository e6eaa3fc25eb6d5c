"""Redis Cluster specifics: one slot per user, whole-store work over every primary."""

import time
from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster
from rest_framework.test import APIClient

from redistoken import connection, keys, store, tokens
from redistoken.settings import problems, token_settings

from .servers import RedisClusterServers

on_cluster = pytest.mark.parametrize("backend", ["cluster"], indirect=True)


def _owner(client: redis.Redis) -> str:
    return str(client.connection_pool.connection_kwargs["port"])


@on_cluster
def test_primaries_are_every_cluster_primary_and_scan_finds_every_user(backend):
    clients = connection.primaries()
    assert len(clients) == 3
    assert all(isinstance(client, redis.Redis) and not isinstance(client, RedisCluster) for client in clients)
    users = range(60)
    for user_id in users:
        store.issue_token(user_id)
    pattern = f"{token_settings.KEY_PREFIX}*"
    found: dict[str, list[bytes]] = {_owner(client): list(client.scan_iter(match=pattern)) for client in clients}
    names = [key.decode() for per_node in found.values() for key in per_node]
    assert sorted(names) == sorted({store.user_key(keys.current_tag(str(user_id))) for user_id in users})
    assert all(found.values()), "60 users spread over every primary"


@on_cluster
def test_all_of_a_users_sessions_share_one_slot(backend):
    client: Any = connection.get_client()
    issued = [store.issue_token(7, device=f"d{i}") for i in range(5)]
    slots = {client.keyslot(store.user_key(tokens.parse("rtk", i.token).tag)) for i in issued}
    assert len(slots) == 1
    assert len(store.revoke_all(7)) == 5


@pytest.mark.parametrize("backend", ["fakeredis", "redis"], indirect=True)
def test_primaries_is_the_one_client_elsewhere(backend):
    assert connection.primaries() == [connection.get_client()]


def test_cluster_setting_needs_a_url(settings):
    settings.REDISTOKEN = {"CLUSTER": True}
    assert "CLUSTER needs REDIS_URL (the address of any node of the cluster)." in problems()


@pytest.mark.servers
@pytest.mark.django_db
def test_a_dead_cluster_primary_is_503_never_401(settings):
    cluster = RedisClusterServers(3).start()
    try:
        settings.REDISTOKEN = {"REDIS_URL": cluster.url, "CLUSTER": True}
        settings.ROOT_URLCONF = "tests.urls"
        client: Any = connection.get_client()
        issued = {user_id: store.issue_token(user_id).token for user_id in range(30)}
        node_of = {
            user_id: client.get_node_from_key(store.user_key(tokens.parse("rtk", raw).tag)).port
            for user_id, raw in issued.items()
        }
        victim = cluster.nodes[1]
        assert victim.port in node_of.values()
        victim.stop()
        for user_id, raw in issued.items():
            started = time.monotonic()
            status = APIClient(HTTP_AUTHORIZATION=f"Token {raw}").get("/whoami/").status_code
            assert status in (200, 503)
            assert time.monotonic() - started < 3  # bounded: timeouts, one retry, one topology refresh
            if node_of[user_id] == victim.port:
                assert status == 503
    finally:
        cluster.cleanup()
        connection.reset_client()


@pytest.mark.servers
@pytest.mark.django_db
def test_on_a_cluster_with_replicas_a_write_is_acknowledged_only_once_its_shards_replica_has_it(settings):
    from django.contrib.auth import get_user_model

    from .conftest import sessions_on

    cluster = RedisClusterServers(3, replicas=1).start()
    try:
        # A generous WAIT_TIMEOUT: a loaded machine acks late, and this test is about whether it comes.
        settings.REDISTOKEN = {"REDIS_URL": cluster.url, "CLUSTER": True, "SOCKET_TIMEOUT": 2, "WAIT_TIMEOUT": 1}
        settings.ROOT_URLCONF = "tests.urls"
        get_user_model().objects.create_user("alice", password="pw")

        def login(device: str):
            body = {"username": "alice", "password": "pw", "device": device}
            return APIClient().post("/auth/login/", body, format="json")

        first = login("a").json()["token"]
        owner = connection.get_client().get_node_from_key(store.user_key(tokens.parse("rtk", first).tag)).port
        (replica,) = [
            node
            for node in cluster.nodes
            if node.client().info("replication").get("master_port") == owner
        ]
        assert sessions_on(replica.client()) == 1  # answered 200 only once the shard's replica had it

        replica.pause()  # SIGSTOP: the link stays up, nothing is acknowledged
        try:
            response = APIClient(HTTP_AUTHORIZATION=f"Token {first}").post("/auth/logout/")
            assert response.status_code == 503 and int(response["Retry-After"]) > 0
            assert login("b").status_code == 503
        finally:
            replica.resume()
        # The unconfirmed logout stayed applied on the primary (a retry is idempotent).
        assert APIClient(HTTP_AUTHORIZATION=f"Token {first}").get("/whoami/").status_code == 401
        assert login("c").status_code == 200
    finally:
        cluster.cleanup()
        connection.reset_client()
