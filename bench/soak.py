#!/usr/bin/env python3
"""Soak test: the demo under gunicorn against a private Redis, driven by a
mixed workload for a given time. Not part of the test suite.

    .venv/bin/python bench/soak.py --seconds 30 --workers 4 --clients 8

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
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
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


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(check, what: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except (OSError, subprocess.CalledProcessError):
            pass
        time.sleep(0.1)
    raise SystemExit(f"{what} did not start")


def redis_cli(port: int, *args: str) -> str:
    return subprocess.run(
        ["redis-cli", "-p", str(port), *args], capture_output=True, text=True, check=True
    ).stdout.strip()


def memory(port: int) -> int:
    info = redis_cli(port, "INFO", "memory")
    return int(next(line.split(":")[1] for line in info.splitlines() if line.startswith("used_memory:")))


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
    (work / "soak_settings.py").write_text(SETTINGS)
    redis_port, http_port = free_port(), free_port()
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(work), str(ROOT / "site"), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "soak_settings",
        "DJANGO_DEBUG": "0",
        "DEMO_DB_PATH": str(work / "soak.sqlite3"),
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
    }
    processes: list[subprocess.Popen[bytes]] = []
    try:
        processes.append(
            subprocess.Popen(
                [
                    "redis-server",
                    "--port",
                    str(redis_port),
                    "--bind",
                    "127.0.0.1",
                    "--dir",
                    str(work),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                ],
                stdout=subprocess.DEVNULL,
            )
        )
        wait_for(lambda: redis_cli(redis_port, "PING") == "PONG", "redis-server")
        python = sys.executable
        subprocess.run([python, "-m", "django", "migrate", "--verbosity", "0"], env=env, check=True)
        create = (
            "from django.contrib.auth import get_user_model as g\n"
            f"[g().objects.create_user(f'soak{{i}}', password='{PASSWORD}') for i in range({args.clients})]"
        )
        subprocess.run([python, "-m", "django", "shell", "-c", create], env=env, check=True)
        memory_before = memory(redis_port)
        processes.append(
            subprocess.Popen(
                [
                    python,
                    "-m",
                    "gunicorn",
                    "demo.wsgi",
                    "-w",
                    str(args.workers),
                    "-b",
                    f"127.0.0.1:{http_port}",
                    "--log-level",
                    "warning",
                ],
                env=env,
            )
        )
        wait_for(lambda: socket.create_connection(("127.0.0.1", http_port), 1).close() or True, "gunicorn")

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
        keys = int(redis_cli(redis_port, "DBSIZE"))
        memory_after = memory(redis_port)
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
        for process in reversed(processes):
            process.terminate()
            process.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
