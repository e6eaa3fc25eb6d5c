"""Login throttling (throttling.py, store/throttle.py, throttle.lua) through HTTP,
on the embedded store, a real Redis and a Redis Cluster; then across gunicorn workers."""

import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.db import connection as db_connection
from rest_framework.test import APIClient

from redistoken import store
from redistoken.settings import token_settings

from .conftest import REDIS_URL, delete_prefix, real_redis_or_skip
from .servers import free_port

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse"


def login(username, password, address="203.0.113.7", **headers):
    client = APIClient(REMOTE_ADDR=address, **headers)
    return client.post(
        "/auth/login/", json.dumps({"username": username, "password": password}), content_type="application/json"
    )


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def with_rates(settings, backend):
    def apply(**rates):
        settings.REDISTOKEN = {**settings.REDISTOKEN, **rates}

    return apply


@pytest.mark.django_db
@pytest.mark.usefixtures("backend")
class TestLoginThrottle:
    def test_xff_rotation_from_one_address_is_throttled(self, alice):
        codes = [login("alice", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(11)]
        assert codes == [400] * 10 + [429]
        refused = login("alice", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")
        assert refused.status_code == 429 and 0 < int(refused["Retry-After"]) <= 15 * 60

    def test_a_json_number_username_is_the_same_user_as_its_text(self):
        get_user_model().objects.create_user("5551234", password=PASSWORD)
        codes = [login(5551234 if n % 2 else "5551234", "wrong").status_code for n in range(11)]
        assert codes == [400] * 10 + [429]
        assert login(5551234, PASSWORD).status_code == 429

    def test_case_variants_are_one_username(self, alice):
        codes = [login("ALICE" if n % 2 else "Alice", "wrong").status_code for n in range(11)]
        assert codes[-1] == 429 and login("alice", PASSWORD).status_code == 429

    def test_failures_elsewhere_do_not_lock_the_victim_out_below_the_ceiling(self, alice):
        for attacker in range(9):  # 90 failures (ceiling: 100/hour), ten per address
            codes = [login("alice", "wrong", f"198.51.100.{attacker}").status_code for _ in range(11)]
            assert codes == [400] * 10 + [429]
        assert login("alice", PASSWORD, "192.0.2.1").status_code == 200

    def test_over_the_ceiling_a_username_is_slowed_not_locked(self, alice, with_rates):
        with_rates(LOGIN_FAILURES_PER_USER="4/hour")  # then one attempt per 900 s
        assert [login("alice", "wrong", f"198.51.100.{n}").status_code for n in range(4)] == [400] * 4
        assert login("alice", "wrong", "198.51.100.50").status_code == 400  # the one slot of this interval
        slowed = login("alice", PASSWORD, "192.0.2.1")
        assert slowed.status_code == 429 and 0 < int(slowed["Retry-After"]) <= 900
        other = login("bob", "wrong", "192.0.2.1")  # only this username is slowed
        assert other.status_code == 400

    def test_the_address_limit_spans_usernames(self, alice, with_rates):
        with_rates(LOGIN_FAILURES_PER_ADDRESS="5/hour")
        codes = [login(f"user{n}", "wrong").status_code for n in range(6)]
        assert codes == [400] * 5 + [429]
        assert login("alice", PASSWORD, "192.0.2.1").status_code == 200  # another address

    def test_ipv6_addresses_of_one_64_are_one_client(self, alice, with_rates):
        with_rates(LOGIN_FAILURES_PER_ADDRESS="3/hour")
        codes = [login(f"user{n}", "wrong", f"2001:db8:1:2::{n + 1:x}").status_code for n in range(4)]
        assert codes == [400] * 3 + [429]

    def test_successes_are_not_counted_and_clear_the_pair(self, alice, with_rates):
        with_rates(LOGIN_FAILURES_PER_USER_AND_ADDRESS="3/hour")
        assert all(login("alice", PASSWORD).status_code == 200 for _ in range(6))
        for _ in range(2):
            assert [login("alice", "wrong").status_code for _ in range(2)] == [400, 400]
            assert login("alice", PASSWORD).status_code == 200  # cleared: two more failures allowed

    def test_the_throttle_does_not_reveal_whether_a_username_exists(self, alice):
        known = [login("alice", "wrong").status_code for _ in range(11)]
        unknown = [login("nobody", "wrong").status_code for _ in range(11)]
        assert known == unknown == [400] * 10 + [429]
        assert login("alice", "x").json() == login("nobody", "x").json()

    def test_a_missing_or_mistyped_username_is_a_400_and_counts_nothing(self, alice, with_rates):
        with_rates(LOGIN_FAILURES_PER_ADDRESS="2/hour")
        for body in ({"password": "x"}, {"username": ["alice"], "password": "x"}, {"username": {}, "password": "x"}):
            client = APIClient(REMOTE_ADDR="203.0.113.7")
            assert client.post("/auth/login/", body, format="json").status_code == 400
        assert login("alice", PASSWORD).status_code == 200

    def test_off_when_every_rate_is_none(self, alice, with_rates):
        with_rates(
            LOGIN_FAILURES_PER_USER_AND_ADDRESS=None, LOGIN_FAILURES_PER_ADDRESS=None, LOGIN_FAILURES_PER_USER=None
        )
        assert {login("alice", "wrong").status_code for _ in range(15)} == {400}

    def test_the_stored_ip_is_the_connecting_address(self, alice):
        response = login("alice", PASSWORD, "192.0.2.44", HTTP_X_FORWARDED_FOR="<script>alert(1)</script>, 10.1.1.1")
        assert response.json()["session"]["ip"] == "192.0.2.44"
        assert [s.ip for s in store.list_sessions(alice)] == ["192.0.2.44"]

    def test_the_revocation_endpoint_has_its_own_address_rate(self, alice, with_rates):
        with_rates(REVOKE_RATE_PER_ADDRESS="3/min")
        client = APIClient(REMOTE_ADDR="203.0.113.9")
        codes = [client.post("/auth/revoke/", {"token": "garbage"}, format="json").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        assert login("alice", PASSWORD, "203.0.113.9").status_code == 200  # login is counted apart


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("backend", ["fakeredis", "redis"], indirect=True)
def test_parallel_attempts_cannot_slip_past_the_limit(backend, alice, settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "LOGIN_FAILURES_PER_USER_AND_ADDRESS": "5/hour"}
    store.list_sessions(alice)  # build the client before the threads race
    codes, start = [], threading.Barrier(12)

    def attempt():
        try:
            start.wait(10)
            codes.append(login("alice", "wrong").status_code)
        finally:
            db_connection.close()

    threads = [threading.Thread(target=attempt) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(codes) == [400] * 5 + [429] * 7


@pytest.mark.django_db
def test_redis_holds_no_username_or_address_in_clear(real_redis, alice):
    for _ in range(3):
        login("alice", "wrong", "203.0.113.77")
    keys = [key.decode() for key in real_redis.scan_iter(match=f"{token_settings.KEY_PREFIX}*")]
    assert len(keys) == 3 and all("{throttle}" in key for key in keys)
    assert not any("alice" in key or "203.0.113" in key for key in keys)
    assert all(0 < real_redis.pttl(key) <= 3600 * 1000 for key in keys)  # every counter expires by itself


def _post(url, body, address_header=None):
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", **(address_header or {})}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.mark.servers
def test_the_throttle_holds_across_four_gunicorn_workers(tmp_path):
    """40 wrong passwords for one user from one address, spread over 4 worker
    processes: exactly the limit (10) is answered 400, the rest 429."""
    client = real_redis_or_skip()
    prefix = f"rttest-{uuid.uuid4().hex[:12]}:"
    (tmp_path / "gunicorn_settings.py").write_text(
        "from demo.settings import *  # noqa\n"
        'PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]\n'
        f"REDISTOKEN = {{**REDISTOKEN, 'KEY_PREFIX': {prefix!r}}}\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        PYTHONPATH=os.pathsep.join([str(tmp_path), str(ROOT / "site"), str(ROOT)]),
        DJANGO_SETTINGS_MODULE="gunicorn_settings",
        DJANGO_DEBUG="0",
        DEMO_DB_PATH=str(tmp_path / "demo.sqlite3"),
        REDIS_URL=REDIS_URL,
    )
    python = sys.executable
    subprocess.run([python, "-m", "django", "migrate", "--verbosity", "0"], env=env, check=True, timeout=120)
    create = "from django.contrib.auth import get_user_model as g; g().objects.create_user('victim', password='pw')"
    subprocess.run([python, "-m", "django", "shell", "-c", create], env=env, check=True, timeout=60)
    port = free_port()
    server = subprocess.Popen(
        [python, "-m", "gunicorn", "demo.wsgi", "-w", "4", "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
        env=env,
        cwd=tmp_path,
    )
    url = f"http://127.0.0.1:{port}/auth/login/"
    try:
        deadline = time.monotonic() + 60
        while True:  # until gunicorn answers (a 401: no token)
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/me/", timeout=5)
            except urllib.error.HTTPError:
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        codes: list[int] = []
        start = threading.Barrier(8)

        def attempts():
            start.wait(30)
            for _ in range(5):
                codes.append(_post(url, {"username": "victim", "password": "wrong"}))

        threads = [threading.Thread(target=attempts) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert sorted(codes) == [400] * 10 + [429] * 30
    finally:
        server.terminate()
        server.wait(20)
        delete_prefix(client, prefix)
        client.close()


def test_rates_are_validated(settings):
    from redistoken.settings import problems

    settings.REDISTOKEN = {"LOGIN_FAILURES_PER_ADDRESS": "lots", "EMBEDDED_STORE": True}
    assert any("LOGIN_FAILURES_PER_ADDRESS must be a rate" in p for p in problems())
    settings.REDISTOKEN = {"LOGIN_THROTTLE_RATES": {"address": "30/min"}, "EMBEDDED_STORE": True}
    assert any("LOGIN_THROTTLE_RATES' was replaced by" in p for p in problems())
