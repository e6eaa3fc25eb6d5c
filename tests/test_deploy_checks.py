"""``check --deploy`` warns about a Redis that may drop sessions."""

from collections.abc import Iterator

import pytest

from redistoken.deploy_checks import check_redis_deployment

from .servers import RedisServer, free_port


def ids(messages) -> set[str]:
    return {message.id for message in messages}


@pytest.fixture
def server(request, settings) -> Iterator[RedisServer]:
    server = RedisServer(*request.param).start()
    settings.REDISTOKEN = {"REDIS_URL": server.url}
    yield server
    server.cleanup()


@pytest.mark.parametrize(
    "server,expected",
    [
        (("--maxmemory-policy", "noeviction", "--appendonly", "yes"), set()),
        (("--maxmemory-policy", "noeviction", "--save", "900 1"), set()),
        (("--maxmemory-policy", "volatile-lru", "--appendonly", "yes"), {"redistoken.W012"}),
        (("--maxmemory-policy", "allkeys-lru"), {"redistoken.W012", "redistoken.W013"}),
        (("--maxmemory-policy", "noeviction"), {"redistoken.W013"}),
        (("--appendonly", "yes", "--rename-command", "CONFIG", ""), {"redistoken.W010"}),
    ],
    indirect=["server"],
)
@pytest.mark.servers
def test_warnings_follow_the_server_configuration(server, expected):
    messages = check_redis_deployment()
    assert ids(messages) == expected
    if "redistoken.W012" in expected:
        assert "noeviction" in next(m.hint for m in messages if m.id == "redistoken.W012")


def test_unreachable_redis_is_a_warning(settings):
    settings.REDISTOKEN = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    assert ids(check_redis_deployment()) == {"redistoken.W011"}


def test_embedded_store_is_not_checked_here(settings):
    settings.REDISTOKEN = {"EMBEDDED_STORE": True}
    assert check_redis_deployment() == []


@pytest.mark.parametrize("backend", ["cluster"], indirect=True)
def test_every_cluster_primary_is_checked(backend):
    assert ids(check_redis_deployment()) == {"redistoken.W013"}  # the test cluster has persistence off


@pytest.mark.servers
def test_a_redis_close_to_maxmemory_is_a_warning(settings):
    server = RedisServer("--maxmemory-policy", "noeviction", "--appendonly", "yes").start()
    try:
        settings.REDISTOKEN = {"REDIS_URL": server.url}
        assert ids(check_redis_deployment()) == set()
        used = int(server.client().info("memory")["used_memory"])
        server.client().config_set("maxmemory", int(used * 1.05))
        assert ids(check_redis_deployment()) == {"redistoken.W014"}
    finally:
        server.cleanup()


def test_no_redis_and_debug_off_refuses_the_embedded_store(settings):
    """The system check is an Error (runserver and check stop), and building
    the client refuses too (WSGI start-up runs no checks)."""
    from django.core.exceptions import ImproperlyConfigured

    from redistoken import connection
    from redistoken.checks import check_settings

    settings.DEBUG = False
    settings.REDISTOKEN = {}
    assert [m.id for m in check_settings()] == ["redistoken.E002"]
    with pytest.raises(ImproperlyConfigured, match="EMBEDDED_STORE"):
        connection.get_client()
    settings.DEBUG = True  # the demo under runserver
    assert [m.id for m in check_settings()] == ["redistoken.W001"] and connection.get_client().ping()
    settings.DEBUG = False
    settings.REDISTOKEN = {"EMBEDDED_STORE": True}  # asked for
    assert [m.id for m in check_settings()] == ["redistoken.W001"] and connection.get_client().ping()
    connection.reset_client()


def test_manage_check_sees_the_refusal(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(DJANGO_DEBUG="0", DEMO_DB_PATH=str(tmp_path / "db.sqlite3"))
    done = subprocess.run(
        [sys.executable, str(root / "manage.py"), "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode != 0 and "redistoken.E002" in done.stderr
    env["DJANGO_DEBUG"] = "1"  # python3 dev.py demo
    assert subprocess.run([sys.executable, str(root / "manage.py"), "check"], env=env, timeout=120).returncode == 0
