"""Sentinel: sessions survive a failover; during the switch only 200 or 503."""

import threading
import time
from collections.abc import Iterator

import pytest
import redis
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from redistoken import connection

from .conftest import sessions_on
from .servers import RedisServer, SentinelServer

pytestmark = [pytest.mark.django_db, pytest.mark.servers]


@pytest.fixture
def sentinel_setup(settings) -> Iterator[tuple[RedisServer, RedisServer, SentinelServer]]:
    primary = RedisServer().start()
    replica = RedisServer("--replicaof", "127.0.0.1", str(primary.port)).start()
    sentinel = SentinelServer(primary)
    try:
        sentinel.start()
        _wait_for(lambda: replica.client().info("replication")["master_link_status"] == "up")
        _wait_for(lambda: _known_replicas(sentinel) == 1)
        settings.REDISTOKEN = {
            "SENTINELS": [("127.0.0.1", sentinel.port)],
            "SENTINEL_SERVICE_NAME": SentinelServer.SERVICE,
        }
        settings.ROOT_URLCONF = "tests.urls"  # /whoami/: no database query from the threads
        yield primary, replica, sentinel
    finally:
        connection.reset_client()
        for server in (sentinel, replica, primary):
            server.cleanup()


def _known_replicas(sentinel: SentinelServer) -> int:
    return len(sentinel.client().sentinel_slaves(SentinelServer.SERVICE))


def _wait_for(condition, timeout: float = 20) -> None:
    """Until ``condition()``; a connection error is "not yet": a sentinel kills
    the clients of an instance it reconfigures (``CLIENT KILL TYPE normal``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except redis.exceptions.ConnectionError:
            pass
        time.sleep(0.1)
    raise AssertionError("condition not reached in time")


def test_sessions_survive_a_failover_and_the_switch_is_only_503(sentinel_setup):
    primary, replica, _sentinel = sentinel_setup
    get_user_model().objects.create_user("alice", password="pw")
    tokens = [
        APIClient()
        .post("/auth/login/", {"username": "alice", "password": "pw", "device": f"d{i}"}, format="json")
        .json()["token"]
        for i in range(3)
    ]
    assert primary.client().execute_command("WAIT", 1, 5000) == 1  # the replica has every session

    statuses: list[int] = []
    stop = threading.Event()

    def hammer(token: str) -> None:
        api = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
        while not stop.is_set():
            statuses.append(api.get("/whoami/").status_code)
            time.sleep(0.01)

    threads = [threading.Thread(target=hammer, args=(token,)) for token in tokens]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        primary.stop()  # the primary dies; the sentinel promotes the replica
        _wait_for(lambda: replica.client().info("replication")["role"] == "master")
        time.sleep(1)  # keep hammering once the new primary is up
    finally:
        stop.set()
        for thread in threads:
            thread.join()

    assert set(statuses) <= {200, 503}, sorted(set(statuses))
    assert 200 in statuses
    for token in tokens:  # the same process, the same client: no restart
        assert APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/whoami/").status_code == 200
    assert 503 in statuses  # the second before the sentinel notices: refused, not let through


def test_django_redis_sentinel_through_cache_alias(sentinel_setup, settings):
    primary, _replica, sentinel = sentinel_setup
    settings.DJANGO_REDIS_CONNECTION_FACTORY = "django_redis.pool.SentinelConnectionFactory"
    settings.CACHES = {
        **settings.CACHES,
        "sessions": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": f"redis://{SentinelServer.SERVICE}/0",
            "OPTIONS": {
                "CLIENT_CLASS": "django_redis.client.SentinelClient",
                "CONNECTION_POOL_CLASS": "redis.sentinel.SentinelConnectionPool",
                "SENTINELS": [("127.0.0.1", sentinel.port)],
                "SOCKET_TIMEOUT": 0.25,
                "SOCKET_CONNECT_TIMEOUT": 0.25,
            },
        },
    }
    settings.REDISTOKEN = {"CACHE_ALIAS": "sessions"}
    get_user_model().objects.create_user("alice", password="pw")
    token = APIClient().post("/auth/login/", {"username": "alice", "password": "pw"}, format="json").json()["token"]
    assert APIClient(HTTP_AUTHORIZATION=f"Token {token}").get("/whoami/").status_code == 200
    assert sessions_on(primary.client()) == 1  # the session went to the primary the sentinel names


def test_reconcile_scans_the_sentinel_primary_and_its_revocations_reach_the_replica(sentinel_setup, settings):
    import io

    from django.contrib.auth.hashers import make_password
    from django.core.management import CommandError, call_command

    _primary, replica, _sentinel = sentinel_setup
    settings.REDISTOKEN = {**settings.REDISTOKEN, "WAIT_TIMEOUT": 1}  # a loaded machine acks late
    users = get_user_model().objects
    for name in ("alice", "bob", "carol"):
        users.create_user(name, password="pw")
    tokens = {
        name: APIClient().post("/auth/login/", {"username": name, "password": "pw"}, format="json").json()["token"]
        for name in ("alice", "bob", "carol")
    }
    users.filter(username="alice").update(is_active=False)
    call_command("redistoken", "reconcile", "--no-progress", stdout=io.StringIO())
    assert sessions_on(replica.client()) == 2  # acknowledged only once the replica had the revocation
    status = {n: APIClient(HTTP_AUTHORIZATION=f"Token {t}").get("/whoami/").status_code for n, t in tokens.items()}
    assert status == {"alice": 401, "bob": 200, "carol": 200}

    users.filter(username="bob").update(password=make_password("elsewhere"))
    replica.process.send_signal(19)  # SIGSTOP: the link stays up, nothing is acknowledged
    try:
        with pytest.raises(CommandError, match="Redis cannot answer"):
            call_command("redistoken", "reconcile", "--no-progress", stdout=io.StringIO())
    finally:
        replica.process.send_signal(18)  # SIGCONT
    out = io.StringIO()
    call_command("redistoken", "reconcile", "--json", "--no-progress", stdout=out)  # safe to run again
    assert '"credential-changed": 0' in out.getvalue()  # the unconfirmed run's revocation stayed applied
    assert APIClient(HTTP_AUTHORIZATION=f"Token {tokens['bob']}").get("/whoami/").status_code == 401
    _wait_for(lambda: sessions_on(replica.client()) == 1)  # and reached the replica once it woke


def test_a_planned_failover_loses_no_acknowledged_logout_or_login(sentinel_setup, settings):
    """SENTINEL FAILOVER promotes the replica at once but demotes the old primary
    only seconds later; the app's open connections still reach the old one in
    between. Nothing acknowledged there may be lost: WAIT needs a replica, and
    the old primary lost its only one to the promotion."""
    primary, replica, sentinel = sentinel_setup
    settings.REDISTOKEN = {**settings.REDISTOKEN, "WAIT_TIMEOUT": 0.5}  # a loaded machine acks late
    get_user_model().objects.create_user("alice", password="pw")

    def login(device: str):
        body = {"username": "alice", "password": "pw", "device": device}
        return APIClient().post("/auth/login/", body, format="json")

    live = [login(f"before{i}").json()["token"] for i in range(40)]
    logged_out: list[str] = []  # acknowledged logouts: dead for good
    logged_in: list[str] = []  # acknowledged logins: must work afterwards
    unknown: list[str] = []  # a 503 logout: either state is right
    statuses: set[int] = set()
    assert sentinel.client().execute_command("SENTINEL", "FAILOVER", SentinelServer.SERVICE)
    deadline = time.monotonic() + 60
    settled = 0
    n = 0
    while settled < 10 and time.monotonic() < deadline and live:
        token = live.pop(0)
        status = APIClient(HTTP_AUTHORIZATION=f"Token {token}").post("/auth/logout/").status_code
        statuses.add(status)
        (logged_out if status == 204 else unknown).append(token)
        response = login(f"during{n}")
        statuses.add(response.status_code)
        if response.status_code == 200:
            logged_in.append(response.json()["token"])
            live.append(response.json()["token"])
        n += 1
        old = primary.client().info("replication")
        if old["role"] == "slave" and old.get("master_link_status") == "up" and logged_in:
            settled += 1  # the old primary follows the new one: a few more rounds, then judge
        time.sleep(0.05)

    assert replica.client().info("replication")["role"] == "master", "the failover happened"
    assert settled == 10, "the old primary rejoined as a replica"
    assert statuses <= {200, 204, 503}, sorted(statuses)
    assert logged_out and logged_in
    whoami = {t: APIClient(HTTP_AUTHORIZATION=f"Token {t}").get("/whoami/").status_code for t in logged_out + live}
    assert [t for t in logged_out if whoami[t] != 401] == [], "an acknowledged logout came back"
    assert [t for t in live if t not in unknown and whoami[t] != 200] == [], "a live session was lost"
