"""Benchmark of the opt-in zero-round-trip mode (``LOCAL_CACHE``).

    .venv/bin/python bench/local_cache.py

Starts a private redis-server (never touches another) and prints, in one run:

* microseconds per authenticated request through the DRF authentication
  class: redistoken's normal path (one round trip), a LOCAL_CACHE hit, and
  stateless simplejwt (``JWTStatelessUserAuthentication``) when installed;
* the fraction of requests served from the cache under a mixed load
  (threads picking sessions with a skewed popularity while other sessions
  log in and are revoked);
* the revocation delay: from a revoking call's return until every one of
  several threads hammering that session is refused (median, 99th
  percentile, worst), on a healthy channel and on a silently dead one.
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "site")]

import django  # noqa: E402
from django.conf import settings  # noqa: E402

settings.configure(
    SECRET_KEY="bench-" + "x" * 50,
    INSTALLED_APPS=["django.contrib.auth", "django.contrib.contenttypes", "rest_framework", "redistoken"],
    DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
    REDISTOKEN={},
    LOGGING_CONFIG=None,
)
django.setup()

from django.test import override_settings  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.test import APIRequestFactory  # noqa: E402

from redistoken import local_cache, store, tokens  # noqa: E402
from redistoken.authentication import RedisTokenAuthentication  # noqa: E402
from tests.proxy import FreezingProxy  # noqa: E402
from tests.servers import RedisServer  # noqa: E402

D = 0.05
CALLS = 20_000
ROUNDS = 5


def request_with(header: str) -> Request:
    return Request(APIRequestFactory().get("/", HTTP_AUTHORIZATION=header))


def per_call_us(function: Any, calls: int = CALLS) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        function()
    return (time.perf_counter() - started) / calls * 1e6


def ready() -> local_cache.LocalCache[Any]:
    cache = local_cache.active()
    assert cache is not None
    while not cache.fresh():
        time.sleep(0.001)
    return cache


def login(user_id: str) -> tokens.ParsedToken:
    return tokens.parse("rtk", store.issue_token(user_id).token)


def settings_for(url: str, **extra: Any) -> dict[str, Any]:
    return {"REDIS_URL": url, "KEY_PREFIX": "bench:", "RENEW_INTERVAL": 60, "SOCKET_TIMEOUT": 2, **extra}


def cost_per_request(url: str) -> dict[str, float]:
    """Median over interleaved rounds, µs per call of the DRF classes."""
    results: dict[str, list[float]] = {"one round trip": [], "LOCAL_CACHE hit": [], "simplejwt stateless": []}
    auth = RedisTokenAuthentication()
    jwt: Any = None
    try:
        from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication
        from rest_framework_simplejwt.tokens import AccessToken

        access = AccessToken()
        access["user_id"] = "1"
        jwt = (JWTStatelessUserAuthentication(), request_with(f"Bearer {access}"))
    except ImportError:
        del results["simplejwt stateless"]
    with override_settings(REDISTOKEN=settings_for(url)):
        token = store.issue_token("1").token
    request = request_with(f"Token {token}")
    for _ in range(ROUNDS):
        with override_settings(REDISTOKEN=settings_for(url)):
            results["one round trip"].append(per_call_us(lambda: auth.authenticate(request), CALLS // 4))
        with override_settings(REDISTOKEN=settings_for(url, LOCAL_CACHE=True)):
            cache = ready()
            auth.authenticate(request)
            hits = cache.hits
            results["LOCAL_CACHE hit"].append(per_call_us(lambda: auth.authenticate(request)))
            assert cache.hits - hits > CALLS * 0.9, "not served from the cache"
        if jwt is not None:
            results["simplejwt stateless"].append(per_call_us(lambda: jwt[0].authenticate(jwt[1])))
    return {name: statistics.median(values) for name, values in results.items()}


def hit_fraction(url: str, seconds: float = 3.0, workers: int = 4) -> dict[str, float]:
    """Skewed reads over 2,000 sessions of 1,000 users, while a writer logs
    someone in every 5 ms and revokes someone every 50 ms."""
    with override_settings(REDISTOKEN=settings_for(url, LOCAL_CACHE=True)):
        sessions = [login(f"mix{i % 1000}") for i in range(2000)]
        weights = [1 / (rank + 1) for rank in range(len(sessions))]
        cache = ready()
        stop = threading.Event()
        served = [0] * workers

        def work(index: int) -> None:
            rng = random.Random(index)
            while not stop.is_set():
                for token in rng.choices(sessions, weights, k=100):
                    store.authenticate(token)
                served[index] += 100

        def write() -> None:
            rng = random.Random(99)
            tick = 0
            while not stop.is_set():
                store.issue_token(f"mix{rng.randrange(1000)}", device=f"d{tick % 50}")
                if tick % 10 == 0:
                    victim = rng.choice(sessions[1000:])  # the less popular half
                    store.revoke_token(victim)
                tick += 1
                time.sleep(0.005)

        hits, misses = cache.hits, cache.misses
        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        threads.append(threading.Thread(target=write))
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        stop.set()
        for thread in threads:
            thread.join()
        hits, misses = cache.hits - hits, cache.misses - misses
        return {
            "requests": sum(served),
            "hit fraction": hits / max(1, hits + misses),
            "per second": sum(served) / seconds,
        }


def hammer(token: tokens.ParsedToken, accepted: list[float], refused: list[float], index: int) -> None:
    """Authenticate until refused, noting when the last accepted and the
    refused call started."""
    while True:
        started = time.monotonic()
        if store.authenticate(token) is None:
            refused[index] = started
            return
        accepted[index] = started


def revocation_delays(url: str, trials: int, threads: int, proxy: FreezingProxy | None = None) -> dict[str, float]:
    """Per trial: time from the revoking call's return until all threads are
    refused, and the start of the latest call still accepted."""
    delays, latest_accepted = [], []
    with override_settings(REDISTOKEN=settings_for(url, LOCAL_CACHE=True)):
        for trial in range(trials):
            cache = ready()
            token = login(f"rev{trial}")
            while True:  # until served from the cache
                hits = cache.hits
                store.authenticate(token)
                if cache.hits > hits:
                    break
            accepted = [0.0] * threads
            refused = [0.0] * threads
            workers = [threading.Thread(target=hammer, args=(token, accepted, refused, i)) for i in range(threads)]
            for worker in workers:
                worker.start()
            time.sleep(0.003)
            if proxy is not None:
                proxy.freeze()
            store.revoke_all(f"rev{trial}")
            revoked = time.monotonic()
            for worker in workers:
                worker.join()
            delays.append(max(0.0, max(refused) - revoked))
            latest_accepted.append(max(accepted) - revoked)
            if proxy is not None:
                proxy.thaw()
    delays.sort()
    return {
        "median ms": statistics.median(delays) * 1e3,
        "p99 ms": delays[min(len(delays) - 1, int(len(delays) * 0.99))] * 1e3,
        "worst ms": delays[-1] * 1e3,
        "latest accepted call started, ms after": max(latest_accepted) * 1e3,
    }


def main() -> None:
    server = RedisServer().start()
    proxy = FreezingProxy(server.port)
    try:
        print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, Redis on 127.0.0.1 (private server)")
        print(f"\nµs per authenticated request, DRF authentication class, median of {ROUNDS} interleaved rounds:")
        costs = cost_per_request(server.url)
        for name, value in costs.items():
            print(f"  {name:24} {value:8.1f}")
        if "simplejwt stateless" in costs:
            below = costs["LOCAL_CACHE hit"] < costs["simplejwt stateless"]
            print(f"  target: LOCAL_CACHE hit below simplejwt stateless: {'PASS' if below else 'MISS'}")
        print("\nmixed load, 4 threads, 3 s, RENEW_INTERVAL 60 s:")
        for name, value in hit_fraction(server.url).items():
            print(f"  {name:24} {value:10.3f}" if value < 1 else f"  {name:24} {value:10.0f}")
        for threads in (4, 8):
            print(f"\nrevocation delay, {threads} threads hammering the session, 100 trials, D = {D * 1e3:.0f} ms:")
            for name, value in revocation_delays(server.url, 100, threads).items():
                print(f"  {name:40} {value:7.2f}")
        print(
            f"\nrevocation delay on a silently dead channel (frozen proxy), 4 threads, 3 trials, D = {D * 1e3:.0f} ms:"
        )
        for name, value in revocation_delays(proxy.url, 3, 4, proxy).items():
            print(f"  {name:40} {value:7.2f}")
    finally:
        local_cache.reset()
        proxy.close()
        server.cleanup()


if __name__ == "__main__":
    main()
