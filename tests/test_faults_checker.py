"""The fault run's checker on hand-made histories: each rule fires on the
history that breaks it, and stays quiet on the ones that merely look alike."""

import itertools

from bench.faults import checker

_clock = itertools.count()


OK = object()  # the kind's success status


def op(kind, status=OK, *, session="s1", target=None, user="u1", t0=None, t1=None, retry_after=None, error=None):
    """One operation; by default in the order written, each 1 s long."""
    if t0 is None:
        t0 = float(next(_clock)) * 10
    if status is OK:
        status = checker.SUCCESS[kind][0]
    return {
        "type": "op",
        "kind": kind,
        "process": 0,
        "user": user,
        "session": session,
        "target": target,
        "t0": t0,
        "t1": t0 + 1 if t1 is None else t1,
        "status": status,
        "retry_after": status == 503 if retry_after is None else retry_after,
        "error": error,
    }


META = {"type": "meta", "idle_timeout": 1000.0, "absolute_lifetime": 10000.0, "renew_interval": 10.0}


def violations(*records) -> dict[str, int]:
    report = checker.check([META, *records])
    assert report.table()  # renders
    return {rule: len(found) for rule, found in report.violations.items() if found}


def test_a_clean_history_passes_and_is_tabled():
    history = [META, op("login"), op("me"), op("logout"), op("me", 401), op("verify", 401)]
    report = checker.check(history)
    assert report.ok
    assert report.ops["me", "200"] == 1 and report.ops["me", "401"] == 1
    assert "PASS" in report.table()


def test_a_request_after_an_acknowledged_logout_that_is_accepted():
    assert violations(op("login"), op("logout"), op("me", 200), op("verify", 401)) == {checker.STALE_ACCEPT: 1}


def test_a_request_concurrent_with_the_logout_may_be_accepted():
    history = [op("login", t0=0), op("logout", t0=10, t1=12), op("me", 200, t0=11, t1=13)]
    assert violations(*history, op("verify", 401)) == {}


def test_logout_all_revokes_the_users_earlier_sessions_only():
    history = [
        op("login", session="a"),
        op("login", session="b"),
        op("logout_all", session="a"),
        op("login", session="c"),
        op("me", 200, session="c"),
        op("me", 200, session="b"),
        op("verify", 401, session="a"),
        op("verify", 401, session="b"),
        op("verify", 200, session="c"),
    ]
    found = checker.check([META, *history]).violations[checker.STALE_ACCEPT]
    assert len(found) == 1 and " b " in found[0]


def test_logout_others_spares_the_callers_session():
    history = [
        op("login", session="a"),
        op("login", session="b"),
        op("logout_others", session="a"),
        op("me", 200, session="a"),
        op("me", 200, session="b"),
        op("verify", 200, session="a"),
        op("verify", 401, session="b"),
    ]
    assert violations(*history) == {checker.STALE_ACCEPT: 1}


def test_revoke_and_delete_revoke_their_target():
    history = [
        op("login", session="a"),
        op("login", session="b"),
        op("login", session="c"),
        op("revoke", session=None, target="b"),
        op("delete", session="a", target="c"),
        op("me", 200, session="b"),
        op("me", 200, session="c"),
        op("delete", 204, session="a", target="b"),
        op("verify", 200, session="a"),
        op("verify", 401, session="b"),
        op("verify", 401, session="c"),
    ]
    assert violations(*history) == {checker.STALE_ACCEPT: 3}


def test_a_500_is_a_violation():
    assert violations(op("login", 500, session=None)) == {checker.SERVER_ERROR: 1}


def test_a_401_for_a_live_session_is_a_violation():
    assert violations(op("login"), op("me", 401), op("verify", 200)) == {checker.LIVE_REFUSED: 1}


def test_a_404_deleting_a_live_session_is_a_violation():
    history = [op("login", session="a"), op("login", session="b"), op("delete", 404, session="a", target="b")]
    history += [op("verify", 200, session="a"), op("verify", 200, session="b")]
    assert violations(*history) == {checker.LIVE_REFUSED: 1}


def test_a_401_after_a_failed_revocation_is_not_a_violation():
    """A 503 logout may still have happened: the later 401 is excused (and
    the session need not work in the end), but it is no acknowledgement."""
    history = [op("login"), op("logout", 503), op("me", 401), op("me", 200), op("verify", 401)]
    assert violations(*history) == {}


def test_a_401_after_the_session_may_have_expired_is_not_a_violation():
    meta = {**META, "idle_timeout": 30.0}
    history = [meta, op("login", t0=0), op("me", 200, t0=5), op("me", 401, t0=100), op("verify", 401, t0=200)]
    assert checker.check(history).ok
    history = [meta, op("login", t0=0), op("me", 200, t0=5), op("me", 401, t0=10), op("verify", 200, t0=20)]
    assert not checker.check(history).ok


def test_an_acknowledged_login_that_does_not_work_after_healing():
    assert violations(op("login"), op("verify", 503), op("verify", 401)) == {checker.LOST_LOGIN: 1}
    assert violations(op("login")) == {checker.LOST_LOGIN: 1}  # never verified
    assert violations(op("login"), op("verify", 503), op("verify", 200)) == {}


def test_errors_must_be_503_with_retry_after():
    history = [
        op("login"),
        op("me", 503, retry_after=False),
        op("me", None, error="timed out"),
        op("logout", 502),
        op("me", 503),
        op("verify", 200),
    ]
    assert violations(*history) == {checker.BAD_ERROR: 3}


def test_a_full_redis_refuses_logins_only():
    fault = {"type": "fault", "name": "maxmemory", "t0": 100.0, "t1": 200.0}
    other = {"type": "fault", "name": "kill", "t0": 150.0, "t1": 160.0}
    history = [
        fault,
        other,
        op("login", t0=0),
        op("login", 503, session=None, t0=110),
        op("me", 503, t0=120),
        op("me", 503, t0=155),
        op("logout", 503, t0=170),
        op("verify", 401, t0=300),
    ]
    assert violations(*history) == {checker.FULL_REDIS_REFUSED: 2}
    # A 503 that took a socket timeout met a slow server, not the full one.
    timed = [{**META, "socket_timeout": 0.5}, fault, op("login", t0=0), op("me", 503, t0=120, t1=120.6)]
    fast = [*timed[:3], op("me", 503, t0=120, t1=120.1)]
    assert not checker.check([*timed, op("verify", 401, t0=300)]).violations[checker.FULL_REDIS_REFUSED]
    assert len(checker.check([*fast, op("verify", 401, t0=300)]).violations[checker.FULL_REDIS_REFUSED]) == 1
