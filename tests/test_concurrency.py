"""Many threads and processes on one user: revocations hold, the cap holds,
listings never show a dead session. Real servers only (fakeredis is one process)."""

import multiprocessing
import random
import threading

import pytest

from redistoken import store, tokens
from redistoken.settings import token_settings

pytestmark = pytest.mark.parametrize("backend", ["redis", "cluster"], indirect=True)


def parse(raw: str) -> tokens.ParsedToken:
    return tokens.parse(token_settings.TOKEN_PREFIX, raw)


def _churn(user_id: int, rounds: int, seed: int) -> list[str]:
    """Log in, authenticate, list and log out at random; the ids revoked."""
    rng = random.Random(seed)
    mine: list[store.IssuedToken] = []
    revoked: list[str] = []
    for _ in range(rounds):
        action = rng.random()
        if action < 0.3 or not mine:
            mine.append(store.issue_token(user_id, device=f"p{seed}-{rng.randrange(5)}"))
        elif action < 0.8:
            store.authenticate(parse(rng.choice(mine).token))
        elif action < 0.9:
            store.list_sessions(user_id)
        else:
            victim = mine.pop(rng.randrange(len(mine)))
            if store.revoke_session(user_id, victim.session.id):
                revoked.append(victim.session.id)
    return revoked


def _churn_in_process(args: tuple[int, int, int], queue) -> None:
    queue.put(_churn(*args))


def test_processes_and_threads_churning_one_user_keep_the_cap_and_the_index(backend, settings):
    settings.REDISTOKEN = {**settings.REDISTOKEN, "MAX_SESSIONS_PER_USER": 6}
    store.revoke_all(7)  # the client exists before forking (redis-py pools are per process)
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=_churn_in_process, args=((7, 60, seed), queue)) for seed in range(3)]
    threads = [threading.Thread(target=_churn, args=(7, 60, seed)) for seed in range(10, 13)]
    for worker in [*processes, *threads]:
        worker.start()
    revoked = {sid for _ in processes for sid in queue.get(timeout=60)}
    for worker in [*processes, *threads]:
        worker.join(60)
    assert all(process.exitcode == 0 for process in processes)
    listed = store.list_sessions(7)
    assert 1 <= len(listed) <= 6  # the cap held through racing logins
    assert not revoked & {session.id for session in listed}  # no dead session listed


def test_after_logout_all_returns_no_later_request_authenticates(backend):
    issued = [store.issue_token(7, device=f"d{i}") for i in range(8)]
    parsed = [parse(i.token) for i in issued]
    stop = threading.Event()

    def renew() -> None:
        while not stop.is_set():
            for token in parsed:
                store.authenticate(token)

    threads = [threading.Thread(target=renew) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        assert sorted(store.revoke_all(7)) == sorted(i.session.id for i in issued)
        after = [store.authenticate(token) for _ in range(5) for token in parsed]
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert after == [None] * len(after)
    assert store.list_sessions(7) == []  # no renewal brought one back
