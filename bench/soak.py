#!/usr/bin/env python3
"""Soak test: the demo under gunicorn against a private Redis, driven by a
mixed workload for a given time. Not part of the test suite.

    .venv/bin/python -m bench.soak --seconds 30 --workers 4 --clients 8

Starts its own redis-server (on a free port, no persistence) and gunicorn.
Each virtual client is its own user (so another client's logout-all never
turns its requests into expected 401s) and, over and over, logs in, makes
authenticated requests, lists its sessions and logs out (every fifth time:
logout-all). At the end every client logs out of everything, and the store
must be empty. Reports requests, errors (must be 0), latency percentiles and
Redis memory before and after. Exits non-zero on any error or leftover key.

Password hashing is MD5 here (the soak measures the store, not PBKDF2), and
the login throttles are off (every client shares one address).
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

from tests.servers import RedisServer, free_port

from . import demo_app

PASSWORD = "soak-password"

SETTINGS = """
from demo.settings import *  # noqa
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REDISTOKEN = {
    **REDISTOKEN,
    "LOGIN_FAILURES_PER_USER_AND_ADDRESS": None,
    "LOGIN_FAILURES_PER_ADDRESS": None,
    "LOGIN_FAILURES_PER_USER": None,
    "REVOKE_RATE_PER_ADDRESS": None,
}
LOGGING = {"version": 1, "disable_existing_loggers": False}
"""


def memory(server: RedisServer) -> int:
    return int(server.client().info("memory")["used_memory"])


class Client:
    """One virtual user: a thread with its own counters."""

    def __init__(self, port: int, username: str, deadline: float, seed: int) -> None:
        self.port, self.username, self.deadline = port, username, deadline
        self.rng = random.Random(seed)
        self.latencies: list[float] = []
        self.errors: list[str] = []

    def call(self, method: str, path: str, expect: int, token: str = "", body: dict | None = None) -> dict | list:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Token {token}"
        started = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
            response = conn.getresponse()
            data = response.read()
        except OSError as exc:
            self.errors.append(f"{method} {path}: {type(exc).__name__}")
            return {}
        finally:
            conn.close()
        self.latencies.append(time.perf_counter() - started)
        if response.status != expect:
            self.errors.append(f"{method} {path}: {response.status}")
            return {}
        return json.loads(data) if data else {}

    def login(self) -> str:
        body = {"username": self.username, "password": PASSWORD, "device": f"dev{self.rng.randrange(4)}"}
        return str(self.call("POST", "/auth/login/", 200, body=body).get("token", ""))

    def run(self) -> None:
        rounds = 0
        while time.monotonic() < self.deadline:
            token = self.login()
            if not token:
                continue
            for _ in range(self.rng.randrange(10, 30)):
                self.call("GET", "/api/me/", 200, token)
            self.call("GET", "/auth/sessions/", 200, token)
            rounds += 1
            if rounds % 5 == 0:
                self.call("POST", "/auth/logout-all/", 204, token)
            else:
                self.call("POST", "/auth/logout/", 204, token)
        token = self.login()  # finally: end every session this user may still have
        if token:
            self.call("POST", "/auth/logout-all/", 204, token)


def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--clients", type=int, default=8, help="concurrent virtual clients (threads)")
    args = parser.parse_args()
    if not shutil.which("redis-server"):
        raise SystemExit("redis-server is not on the PATH")

    work = Path(tempfile.mkdtemp(prefix="redistoken-soak-"))
    server = RedisServer().start()
    gunicorn = None
    try:
        users = [f"soak{i}" for i in range(args.clients)]
        env = demo_app.prepare(work, SETTINGS, users, PASSWORD, REDIS_URL=server.url)
        memory_before = memory(server)
        http_port = free_port()
        gunicorn = demo_app.serve(env, http_port, args.workers)

        deadline = time.monotonic() + args.seconds
        clients = [Client(http_port, f"soak{i}", deadline, i) for i in range(args.clients)]
        threads = [threading.Thread(target=client.run) for client in clients]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started

        latencies = sorted(value for client in clients for value in client.latencies)
        errors = [error for client in clients for error in client.errors]
        keys = int(server.client().dbsize())
        memory_after = memory(server)
        print(
            f"requests served   {len(latencies)} in {elapsed:.1f} s ({len(latencies) / elapsed:.0f}/s), "
            f"{args.workers} gunicorn workers, {args.clients} clients"
        )
        print(f"errors            {len(errors)}" + (f"  e.g. {errors[:5]}" if errors else ""))
        if latencies:
            print(
                f"latency ms        p50 {percentile(latencies, 0.50):.1f}  p95 {percentile(latencies, 0.95):.1f}  "
                f"p99 {percentile(latencies, 0.99):.1f}  max {latencies[-1] * 1000:.1f}"
            )
        print(
            f"redis memory      before {memory_before} B, after {memory_after} B (used_memory; includes the"
            " script cache and client buffers)"
        )
        print(f"keys left         {keys} (must be 0: everyone logged out)")
        return 0 if not errors and keys == 0 else 1
    finally:
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(20)
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
