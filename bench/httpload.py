"""End to end over HTTP: the benchmark site under gunicorn (several
workers), driven from the same machine by a small load generator
(processes of threads, one keep-alive connection each), in interleaved
rounds of a few seconds per scheme."""

from __future__ import annotations

import http.client
import os
import random
import statistics
import subprocess
import sys
import threading
import time
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from .schemes import USER_AGENT, Scheme

ROOT = Path(__file__).resolve().parent.parent


def _connection_load(port: int, path: str, headers: dict[str, str], until: float, out: list[Any]) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies, errors = [], 0
    while time.perf_counter() < until:
        start = time.perf_counter()
        try:
            conn.request("GET", path, headers=headers)
            response = conn.getresponse()
            response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            ok = False
        latencies.append(time.perf_counter() - start)
        errors += not ok
    conn.close()
    out.append((latencies, errors))


def _process_load(args: tuple[int, str, str, float, int]) -> tuple[list[float], int]:
    port, path, authorization, seconds, threads = args
    headers = {"User-Agent": USER_AGENT, "Connection": "keep-alive"}
    if authorization:
        headers["Authorization"] = authorization
    until = time.perf_counter() + seconds
    out: list[Any] = []
    workers = [
        threading.Thread(target=_connection_load, args=(port, path, headers, until, out)) for _ in range(threads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return [x for latencies, _ in out for x in latencies], sum(errors for _, errors in out)


def serve(port: int, workers: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """gunicorn with ``workers`` processes serving bench.wsgi on ``port``."""
    command = [
        sys.executable, "-m", "gunicorn", "bench.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--worker-class", "gthread", "--threads", "2", "--keep-alive", "30",
        "--log-level", "warning", "--chdir", str(ROOT),
    ]  # fmt: skip
    process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/noauth/")
            if conn.getresponse().status == 200:
                return process
        except OSError:
            time.sleep(0.2)
    process.terminate()
    raise SystemExit("gunicorn did not start")


def measure(port: int, schemes: list[Scheme], rounds: int, seconds: float, processes: int, threads: int) -> dict:
    """Per scheme: median requests/s over the rounds, latency percentiles (ms)
    over all requests, and the count of non-200 answers."""
    per_round: dict[str, list[float]] = {s.name: [] for s in schemes}
    latencies: dict[str, list[float]] = {s.name: [] for s in schemes}
    errors: dict[str, int] = {s.name: 0 for s in schemes}
    with get_context("fork").Pool(processes) as pool:
        for scheme in schemes:  # warm every worker's connections and caches
            pool.map(_process_load, [(port, scheme.path, scheme.authorization, 0.3, threads)] * processes)
        shuffler = random.Random(5)
        for _ in range(rounds):
            for scheme in shuffler.sample(schemes, len(schemes)):
                args = (port, scheme.path, scheme.authorization, seconds, threads)
                results = pool.map(_process_load, [args] * processes)
                done = [x for values, _ in results for x in values]
                per_round[scheme.name].append(len(done) / seconds)
                latencies[scheme.name].extend(done)
                errors[scheme.name] += sum(e for _, e in results)
    report = {}
    for scheme in schemes:
        values = sorted(latencies[scheme.name])
        quantiles = statistics.quantiles(values, n=100) if len(values) > 1 else values * 99
        report[scheme.name] = {
            "rps": statistics.median(per_round[scheme.name]),
            "p50": quantiles[49] * 1000,
            "p90": quantiles[89] * 1000,
            "p99": quantiles[98] * 1000,
            "errors": errors[scheme.name],
            "requests": len(values),
        }
    return report
