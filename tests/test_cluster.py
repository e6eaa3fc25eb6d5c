"""Redis Cluster specifics: one slot per user, whole-store work over every primary."""

from typing import Any

import pytest
import redis
from redis.cluster import RedisCluster

from redistoken import connection, store, tokens
from redistoken.settings import token_settings


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
    keys = [key.decode() for per_node in found.values() for key in per_node]
    assert sorted(keys) == sorted({store.user_key(tokens.user_tag(user_id)) for user_id in users})
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
    from redistoken.settings import problems

    settings.REDISTOKEN = {"CLUSTER": True}
    assert "CLUSTER needs REDIS_URL (the address of any node of the cluster)." in problems()
