"""``manage.py redistoken``: every subcommand, human and JSON output."""

import io
import json
import time
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command

from redistoken import connection, store, tokens
from redistoken.management.commands.redistoken import ProgressBar
from redistoken.settings import token_settings

from . import layouts
from .servers import free_port

pytestmark = [pytest.mark.django_db]

User = get_user_model()


def run(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("redistoken", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def run_json(*args):
    out, err = run(*args, "--json")
    return json.loads(out), err


def alive(issued):
    return store.authenticate(tokens.parse(token_settings.TOKEN_PREFIX, issued.token)) is not None


@pytest.fixture
def alice():
    return User.objects.create_user("alice", password="pw")


@pytest.mark.usefixtures("backend")
def test_sessions_human_and_json(alice):
    phone = store.issue_token(alice, device="Pixel 8", ip="203.0.113.9", user_agent="App/1")
    time.sleep(0.01)  # distinct "last used" times: the listing is most recent first
    store.issue_token(alice, device="iPad")
    data, _ = run_json("sessions", "alice")
    assert data["user"] == "alice" and data["user_id"] == str(alice.pk)
    assert [s["device"] for s in data["sessions"]] == ["iPad", "Pixel 8"]
    assert data["sessions"][1]["ip"] == "203.0.113.9" and data["sessions"][1]["id"] == phone.session.id
    out, _ = run("sessions", "alice")
    assert out.startswith("2 live session(s) of 'alice'")
    assert phone.session.id in out and "device=Pixel 8" in out and phone.token not in out


@pytest.mark.usefixtures("backend")
def test_revoke_one_user(alice):
    bob = User.objects.create_user("bob", password="pw")
    alices = [store.issue_token(alice) for _ in range(3)]
    bobs = store.issue_token(bob)
    data, _ = run_json("revoke", "alice")
    assert data == {"user": "alice", "revoked": 3}
    assert not any(alive(i) for i in alices) and alive(bobs)
    out, _ = run("revoke", "alice")
    assert out.strip() == "Revoked 0 session(s) of 'alice'."


@pytest.mark.usefixtures("backend")
def test_unknown_user_and_bad_arguments_are_command_errors(alice):
    for args in (("sessions", "nobody"), ("revoke", "nobody"), ("revoke",), ("revoke", "alice", "--all")):
        with pytest.raises(CommandError):
            run(*args)
    with pytest.raises(CommandError, match="batch-size"):
        run("stats", "--batch-size", "0")


def test_revoke_all_scans_in_batches_and_touches_only_the_store(backend, counting_client):
    users = [str(n) for n in range(60)]
    issued = [store.issue_token(user) for user in users for _ in range(2)]
    client = counting_client.inner
    stranger = f"rttest-stranger-{uuid.uuid4().hex}:{{x}}"  # another prefix on the same server
    client.hset(stranger, "a", "b")
    try:
        counting_client.calls.clear()
        data, err = run_json("revoke", "--all", "--noinput", "--batch-size", "7")
        assert data["revoked"] == 120 and data["keys_scanned"] == 60
        assert not any(alive(i) for i in issued)
        assert client.exists(stranger)
        assert "keys" not in counting_client.calls
        if backend != "cluster":  # on a cluster the scans go through each primary's own client
            assert counting_client.calls.count("scan") >= 60 // 7  # batches, never one big load
        assert err.splitlines()[-1] == "revoking [" + "#" * 30 + "] 60/60"
    finally:
        client.delete(stranger)


@pytest.mark.usefixtures("backend")
def test_revoke_all_asks_first_on_a_terminal(alice, monkeypatch):
    issued = store.issue_token(alice)
    monkeypatch.setattr("sys.stdin.isatty", lambda: True)
    monkeypatch.setattr("builtins.input", lambda prompt="": "no")
    with pytest.raises(CommandError, match="Cancelled"):
        run("revoke", "--all")
    assert alive(issued)
    monkeypatch.setattr("builtins.input", lambda prompt="": "yes")
    assert run("revoke", "--all")[0].strip() == "Revoked 1 session(s)."
    assert not alive(issued)


def test_stats(backend, alice):
    bob = User.objects.create_user("bob", password="pw")
    for _ in range(3):
        store.issue_token(alice)
    store.issue_token(bob)
    data, err = run_json("stats", "--batch-size", "1")
    assert (data["sessions"], data["users"], data["user_hashes"], data["drf_aliases"]) == (4, 2, 2, 0)
    if backend in ("redis", "cluster"):
        assert data["memory_bytes"] > 100  # MEMORY USAGE summed over the store's keys
    else:
        assert data["memory_bytes"] is None  # fakeredis has no MEMORY USAGE
    assert "scanning [" in err
    out, _ = run("stats", "--no-progress")
    assert "live sessions:        4" in out and "users with sessions:  2" in out


def test_stats_count_only_live_sessions(backend, alice, settings):
    store.issue_token(alice)
    stale = store.issue_token(alice)
    layouts.rewind(stale.token, token_settings.ABSOLUTE_LIFETIME + 1)  # long dead, not pruned yet
    data, _ = run_json("stats")
    assert (data["sessions"], data["users"]) == (1, 1)


def test_redis_down_is_a_clean_command_error(alice, settings):
    settings.REDISTOKEN = {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "SOCKET_TIMEOUT": 0.2}
    for args in (("stats",), ("sessions", "alice"), ("revoke", "--all", "--noinput")):
        with pytest.raises(CommandError, match="Redis cannot answer"):
            run(*args)
    connection.reset_client()


def test_progress_bar_redraws_on_a_terminal_and_prints_lines_otherwise():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    terminal = Terminal()
    bar = ProgressBar(terminal, "work", 10)
    bar(5)
    bar(10)
    bar.finish()
    assert terminal.getvalue().count("\r") == 3 and "[" + "#" * 15 + " " * 15 + "] 5/10" in terminal.getvalue()
    log = io.StringIO()
    bar = ProgressBar(log, "work", 1000)
    for done in range(0, 1000, 10):
        bar(done)
    bar(1000)
    bar.finish()
    assert "\r" not in log.getvalue() and log.getvalue().splitlines()[-1].endswith("1000/1000")
    assert len(log.getvalue().splitlines()) == 2  # throttled: first update and the final line


def test_batches_reload_scripts_lost_by_a_restart(backend, alice):
    issued = store.issue_token(alice)
    connection.get_client().script_flush()  # as after a restart or failover
    assert store.stats().sessions == 1
    connection.get_client().script_flush()
    assert store.revoke_everything() == 1
    assert not alive(issued)
