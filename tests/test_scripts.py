"""The store's scripts as declared objects (store/scripts.py), and the
decisions that have one home: ours-or-DRF, user by pk, the device bound."""

from typing import Any

import pytest
import redis
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from redistoken import connection, store, tokens
from redistoken.settings import token_settings
from redistoken.store import scripts
from redistoken.store.scripts import Script, build_source, documented
from redistoken.users import user_by_pk

HEADER = "-- Test script.\n--\n-- KEYS[1]  a key\n-- ARGV[1]  a number\n--\n-- Returns it.\n"


def test_every_declared_script_matches_its_header_comment():
    declared = [
        scripts.authenticate,
        scripts.issue,
        scripts.sessions,
        scripts.revoke,
        scripts.recredential,
        scripts.census,
        scripts.roster,
        scripts.revoke_listed,
        scripts.import_,
        scripts.throttle,
    ]
    files = sorted(path.stem for path in scripts.LUA_DIR.glob("*.lua") if path.stem != "common")
    assert sorted(script.name for script in declared) == files
    for script in declared:
        keys, argv = documented((scripts.LUA_DIR / f"{script.name}.lua").read_text())
        assert (script.numkeys, script.arity) == (keys, keys + argv)
        # one user hash (and revoke's receipt beside it), or the throttle's four keys
        assert keys == {scripts.throttle: 4, scripts.revoke: 2}.get(script, 1)


def test_a_declaration_that_disagrees_with_the_header_fails_when_declared(tmp_path):
    (tmp_path / "probe.lua").write_text(HEADER + "return ARGV[1]\n")

    def probe(key: str, number: int, extra: int, /) -> Any: ...

    with pytest.raises(TypeError, match="documents"):
        Script(probe, numkeys=1, directory=tmp_path)

    def keywords(key: str, number: int) -> Any: ...

    (tmp_path / "keywords.lua").write_text(HEADER)
    with pytest.raises(TypeError, match="positional-only"):
        Script(keywords, numkeys=1, directory=tmp_path)


@pytest.mark.parametrize("backend", ["fakeredis", "redis"], indirect=True)
def test_a_call_with_the_wrong_arity_or_keywords_fails_before_redis(counting_client):
    with pytest.raises(TypeError, match="takes 4 positional arguments"):
        scripts.sessions("rt:{x}", "1")  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        scripts.census("rt:{x}", idle_ms=1)  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        scripts.census.args("rt:{x}")  # type: ignore[call-arg]
    assert counting_client.calls == []


def test_a_flags_line_stays_first_before_the_common_helpers():
    source = build_source("-- common\nlocal x = 1\n", "#!lua flags=allow-oom\n-- KEYS[1] k\nreturn 1\n")
    assert source.splitlines() == ["#!lua flags=allow-oom", "-- common", "local x = 1", "-- KEYS[1] k", "return 1"]
    assert documented("#!lua flags=allow-oom\n" + HEADER + "return 1") == (1, 1)
    assert build_source("C\n", "return 1\n") == "C\nreturn 1\n"


def test_a_script_with_flags_runs_on_redis_7_by_evalsha_and_after_a_lost_cache(real_redis, tmp_path):
    # no-writes: Redis refuses a write from this script, which proves it read the flags.
    (tmp_path / "flagged.lua").write_text("#!lua flags=no-writes\n" + HEADER + "return {now_ms(), ARGV[1]}\n")

    def flagged(key: str, number: int, /) -> Any: ...

    script = Script(flagged, numkeys=1, directory=tmp_path)
    client = connection.get_client()
    client.script_flush()
    now, echoed = script(token_settings.KEY_PREFIX + "probe", 7)  # NOSCRIPT, then EVAL
    assert echoed == b"7" and now > 1_600_000_000_000
    assert client.script_exists(script.sha) == [True]
    (tmp_path / "writer.lua").write_text("#!lua flags=no-writes\n" + HEADER + "return redis.call('SET', KEYS[1], 1)\n")

    def writer(key: str, number: int, /) -> Any: ...

    # a script error is a bug, not an outage: it propagates as itself (a 500), never "no token"
    with pytest.raises(redis.exceptions.ResponseError, match="not allowed from read-only scripts"):
        Script(writer, numkeys=1, directory=tmp_path)(token_settings.KEY_PREFIX + "probe", 1)
    assert not real_redis.exists(token_settings.KEY_PREFIX + "probe")


@pytest.mark.parametrize("backend", ["fakeredis", "redis"], indirect=True)
@pytest.mark.django_db
def test_batches_load_the_script_inside_their_pipeline_instead_of_retrying(counting_client):
    store.issue_token("7")
    counting_client.inner.script_flush()  # as after a restart or a failover
    counting_client.calls.clear()
    assert store.stats().sessions == 1
    assert counting_client.calls.count("pipeline") == 1 and "script_load" not in counting_client.calls
    counting_client.inner.script_flush()
    counting_client.calls.clear()
    assert store.revoke_everything() == 1
    assert counting_client.calls.count("pipeline") == 1 and "script_load" not in counting_client.calls


@pytest.mark.parametrize("backend", ["fakeredis"], indirect=True)
def test_resolve_token_decides_ours_drf_or_foreign(backend):
    issued = store.issue_token("8")
    assert store.resolve_token(issued.token) == tokens.parse("rtk", issued.token)
    with pytest.raises(tokens.MalformedToken):
        store.resolve_token(issued.token[:-1] + ("A" if issued.token[-1] != "A" else "B"))
    drf_key = "0123456789abcdef0123456789abcdef01234567"
    assert store.resolve_token(drf_key) is None  # ACCEPT_DRF_TOKENS is off: not even looked up
    assert store.resolve_token("knox-or-jwt.token") is None


@pytest.mark.django_db
def test_user_by_pk_is_none_for_unknown_and_malformed_ids():
    user = get_user_model().objects.create_user("pk-user", password="pw")
    assert user_by_pk(str(user.pk)) == user
    for bad in ("999999", "abc", "", "1" * 40, "1.5"):
        assert user_by_pk(bad) is None


@pytest.mark.django_db
@pytest.mark.usefixtures("backend")
def test_the_login_device_bound_follows_the_setting(settings):
    get_user_model().objects.create_user("dev", password="pw")

    def login(device: str) -> Any:
        return APIClient().post("/auth/login/", {"username": "dev", "password": "pw", "device": device}, format="json")

    assert login("d" * 32).json()["session"]["device"] == "d" * 32  # the default, and the stored budget
    assert login("d" * 33).status_code == 400
    assert login("é" * 17).status_code == 400  # 34 bytes: the store keeps 32
    assert login("é" * 16).json()["session"]["device"] == "é" * 16
    settings.REDISTOKEN = {**settings.REDISTOKEN, "DEVICE_NAME_MAX_LENGTH": 10}
    assert login("d" * 11).status_code == 400
    assert login("d" * 10).json()["session"]["device"] == "d" * 10
