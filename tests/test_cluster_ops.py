"""Whole-store work and the DRF import on a Redis Cluster (a private one-node
cluster holding every slot): SCAN per primary, no pipelined EVALSHA through
the cluster client (redis-py refuses it)."""

import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest

from redistoken import connection, store, tokens
from redistoken.settings import token_settings

from .servers import RedisServer, free_port

pytestmark = pytest.mark.servers


@pytest.fixture
def cluster(settings) -> Iterator[RedisServer]:
    port = free_port()
    while port + 10000 > 65535:  # the cluster bus listens on port + 10000
        port = free_port()
    server = RedisServer("--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf", port=port).start()
    try:
        server.client().execute_command("CLUSTER", "ADDSLOTSRANGE", 0, 16383)
        deadline = time.monotonic() + 10
        while b"cluster_state:ok" not in server.client().execute_command("CLUSTER", "INFO"):
            assert time.monotonic() < deadline, "the one-node cluster did not come up"
            time.sleep(0.05)
        settings.REDISTOKEN = {"REDIS_URL": server.url, "CLUSTER": True, "SOCKET_TIMEOUT": 2}
        yield server
    finally:
        connection.reset_client()
        server.cleanup()


def parse(raw: str) -> tokens.ParsedToken:
    return tokens.parse(token_settings.TOKEN_PREFIX, raw)


def test_stats_revoke_everything_and_import_on_a_cluster(cluster):
    assert type(connection.get_client()).__name__ == "RedisCluster"
    issued = [store.issue_token(user) for user in range(30)]
    key = "0123456789abcdef0123456789abcdef01234567"
    when = datetime(2024, 1, 1, tzinfo=timezone.utc)
    assert store.import_drf_tokens([store.LegacyToken(user_id=99, key=key, created=when)]) == 1
    assert store.import_drf_tokens([store.LegacyToken(user_id=99, key=key, created=when)]) == 0
    imported = store.resolve_drf_token(key)
    assert imported is not None and store.authenticate(imported).user_id == "99"
    stats = store.stats(batch_size=7)
    assert (stats.sessions, stats.users, stats.drf_aliases) == (31, 31, 1)
    assert stats.memory_bytes and stats.memory_bytes > 0
    assert store.revoke_everything(batch_size=7) == 31
    assert all(store.authenticate(parse(i.token)) is None for i in issued)
    assert store.authenticate(imported) is None
