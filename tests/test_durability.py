"""503 means "Redis cannot answer" and nothing else; a full Redis keeps serving;
a login or revocation is answered only once its replica has it (WAIT)."""

import logging
from collections.abc import Iterator

import pytest
import redis
from django.contrib.auth import get_user_model
from redis.exceptions import RedisClusterException
from rest_framework.test import APIClient

from redistoken import connection, store, tokens
from redistoken.store import durability
from redistoken.store.errors import is_outage

from .conftest import sessions_on, wait_until
from .servers import RedisServer

pytestmark = pytest.mark.django_db


def login(device: str = ""):
    return APIClient().post("/auth/login/", {"username": "alice", "password": "pw", "device": device}, format="json")


def api(token: str) -> APIClient:
    return APIClient(HTTP_AUTHORIZATION=f"Token {token}", raise_request_exception=False)


def test_outages_and_bugs_are_told_apart():
    outages = [
        redis.exceptions.ConnectionError("x"),
        redis.exceptions.TimeoutError("x"),
        redis.exceptions.BusyLoadingError("x"),
        redis.exceptions.ReadOnlyError("x"),
        redis.exceptions.ClusterDownError("x"),
        redis.exceptions.MasterDownError("x"),
        redis.exceptions.TryAgainError("x"),
        redis.exceptions.MovedError("1 127.0.0.1:1"),
        redis.exceptions.OutOfMemoryError("x"),
        redis.exceptions.ResponseError("NOREPLICAS Not enough good replicas to write. script: 1"),
        RedisClusterException("Redis Cluster cannot be connected. Please provide at least one reachable node"),
    ]
    bugs = [
        redis.exceptions.ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value"),
        redis.exceptions.ResponseError("user_script:1: attempt to perform arithmetic on a nil value"),
        redis.exceptions.DataError("Invalid input"),
        RedisClusterException("EVALSHA - all keys must map to the same key slot"),
    ]
    assert [is_outage(exc) for exc in outages] == [True] * len(outages)
    assert [is_outage(exc) for exc in bugs] == [False] * len(bugs)


@pytest.fixture
def private(settings) -> Iterator[RedisServer]:
    server = RedisServer("--maxmemory-policy", "noeviction").start()
    settings.REDISTOKEN = {"REDIS_URL": server.url, "RENEW_INTERVAL": 0}
    get_user_model().objects.create_user("alice", password="pw")
    yield server
    server.cleanup()
    connection.reset_client()


@pytest.mark.servers
def test_a_wrong_type_at_a_users_key_is_a_500_logged_not_a_503(private, caplog):
    token = login().json()["token"]
    key = store.user_key(tokens.parse("rtk", token).tag)
    private.client().delete(key)
    private.client().set(key, "not a hash")
    with caplog.at_level(logging.ERROR, logger="redistoken"):
        response = api(token).get("/api/me/")
    assert response.status_code == 500
    assert "WRONGTYPE" in caplog.text and "not an outage" in caplog.text


@pytest.mark.servers
def test_a_failing_script_is_a_500_and_an_outage_is_a_503(private, caplog):
    token = login().json()["token"]
    key = store.user_key(tokens.parse("rtk", token).tag)
    field = next(name for name in private.client().hkeys(key) if len(name) == 9)  # layout 2: the binary id
    private.client().hset(key, field, b"\x02\x00")  # far too short: the script cannot parse it
    with caplog.at_level(logging.ERROR, logger="redistoken"):
        assert api(token).get("/api/me/").status_code == 500
    assert "user_script" in caplog.text
    private.stop()
    response = api(token).get("/api/me/")
    assert response.status_code == 503 and int(response["Retry-After"]) > 0


def fill(server: RedisServer) -> None:
    """maxmemory below what is used: with noeviction, every growing write is refused."""
    client = server.client()
    client.config_set("maxmemory", int(client.info("memory")["used_memory"]) - 200_000)
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        client.set("probe", "x")


@pytest.mark.servers
def test_a_full_redis_keeps_serving_sessions_and_revocations_and_refuses_logins(private, caplog):
    tokens_ = [login(device=f"d{i}").json()["token"] for i in range(4)]
    fill(private)
    for token in tokens_:  # RENEW_INTERVAL 0: every request renews, and the renewal is refused
        assert api(token).get("/api/me/").status_code == 200
    with caplog.at_level(logging.ERROR, logger="redistoken"):
        refused = login(device="new")
    assert refused.status_code == 503 and int(refused["Retry-After"]) > 0
    assert "Redis is full" in caplog.text
    assert api(tokens_[0]).post("/auth/logout/").status_code == 204
    assert api(tokens_[0]).get("/api/me/").status_code == 401
    assert api(tokens_[1]).post("/auth/logout-others/").json()["revoked"] == 2
    assert api(tokens_[2]).get("/api/me/").status_code == 401
    assert APIClient().post("/auth/revoke/", {"token": tokens_[1]}, format="json").status_code == 200
    assert api(tokens_[1]).get("/api/me/").status_code == 401
    private.client().config_set("maxmemory", 0)
    assert login(device="later").status_code == 200


@pytest.mark.servers
def test_a_revocation_is_not_acknowledged_until_the_replica_has_it(settings):
    primary = RedisServer().start()
    replica = RedisServer("--replicaof", "127.0.0.1", str(primary.port)).start()
    try:
        # A generous WAIT_TIMEOUT: on a loaded machine the replica's ack can take
        # longer than the default 0.1 s, and this test is about whether it comes.
        settings.REDISTOKEN = {"REDIS_URL": primary.url, "SOCKET_TIMEOUT": 2, "WAIT_TIMEOUT": 1}
        get_user_model().objects.create_user("alice", password="pw")
        wait_until(lambda: replica.client().info("replication")["master_link_status"] == "up")
        token = login().json()["token"]
        assert sessions_on(replica.client()) == 1  # answered 200 only once the replica had it
        replica.process.send_signal(19)  # SIGSTOP: the link stays up, nothing is acknowledged
        try:
            response = api(token).post("/auth/logout/")
            assert response.status_code == 503 and int(response["Retry-After"]) > 0
            assert login(device="x").status_code == 503
        finally:
            replica.process.send_signal(18)  # SIGCONT
    finally:
        connection.reset_client()
        replica.cleanup()
        primary.cleanup()


@pytest.mark.servers
def test_wait_on_a_demoted_primary_is_an_outage_not_a_bug():
    """In a planned Sentinel failover the old primary can be demoted between a
    pipeline's write and its WAIT: that error is a 503 (not acknowledged), not a 500."""
    primary = RedisServer().start()
    demoted = RedisServer("--replicaof", "127.0.0.1", str(primary.port)).start()
    try:
        with pytest.raises(redis.exceptions.ResponseError) as raised:
            demoted.client().wait(1, 10)
        assert is_outage(raised.value)
        pipe = demoted.client().pipeline(transaction=False)
        durability.wait(pipe, 1)
        (acked,) = pipe.execute(raise_on_error=False)
        with pytest.raises(store.StoreUnavailable):
            durability.check(acked, 1)
    finally:
        demoted.cleanup()
        primary.cleanup()


def test_wait_settings_are_validated(settings):
    from redistoken.settings import problems

    settings.REDISTOKEN = {"WAIT_FOR_REPLICAS": -1, "WAIT_TIMEOUT": 0.5, "SOCKET_TIMEOUT": 0.25}
    found = problems()
    assert any("WAIT_FOR_REPLICAS" in p for p in found) and any("shorter than SOCKET_TIMEOUT" in p for p in found)
    settings.REDISTOKEN = {"WAIT_FOR_REPLICAS": 1, "WAIT_TIMEOUT": 0.1}
    assert problems() == []
