"""Run the fault-injection bench on one topology and judge its history.

    .venv/bin/python -m bench.faults --topology single --short
    .venv/bin/python -m bench.faults --topology sentinel --minutes 10

Starts private Redis servers (``single``: one server with AOF ``always``
behind a freezable proxy; ``sentinel``: primary, replica and three
sentinels; ``cluster``: three primaries each with a replica), the demo under
gunicorn against them, and ``--clients`` client processes (workload.py).
Meanwhile the faults of the topology play (``--short``: each once; with
``--minutes``: at random until the time is up), each followed by a quiet
spell. Then every fault is healed, the clients verify every token they were
given, and the checker (checker.py) judges the merged history, which is
kept in ``--history``. Exits 1 on any violation.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.servers import free_port

from .. import demo_app
from . import checker, workload
from .topology import TOPOLOGIES, Topology

ROOT = Path(__file__).resolve().parent.parent.parent

#: The app's settings: the demo's, with Redis from the environment. Renewal
#: every second, so that renewals happen during every fault.
SETTINGS = """
import json, os
from demo.settings import *  # noqa
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
REDISTOKEN = {
    **json.loads(os.environ["FAULTS_REDISTOKEN"]),
    "KEY_PREFIX": "faults:",
    "IDLE_TIMEOUT": 3600,
    "ABSOLUTE_LIFETIME": 7200,
    "RENEW_INTERVAL": 1,
    "SOCKET_TIMEOUT": 0.25,  # the default, named: the checker reads it from META
    # The workload logs in from one address as fast as it can: no throttles.
    "LOGIN_FAILURES_PER_USER_AND_ADDRESS": None,
    "LOGIN_FAILURES_PER_ADDRESS": None,
    "LOGIN_FAILURES_PER_USER": None,
    "REVOKE_RATE_PER_ADDRESS": None,
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "redistoken": {"handlers": ["console"], "level": "WARNING"},
        "django.request": {"handlers": ["console"], "level": "ERROR"},  # a 500's exception
    },
}
"""
META = {"idle_timeout": 3600.0, "absolute_lifetime": 7200.0, "renew_interval": 1.0, "socket_timeout": 0.25}


def app_log_summary(text: str) -> str:
    """The app's log, counted: the outages redistoken logged, the 500s, and
    the redis-py exceptions in their tracebacks (ports left out)."""
    counts: Counter[str] = Counter()
    for line in text.splitlines():
        if line.startswith(("redistoken:", "Internal Server Error", "redis.exceptions.")):
            counts[re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:*", line)[:150]] += 1
    lines = [f"| {n} | `{line}` |" for line, n in counts.most_common(12)]
    return "\n".join(["## App log", "| lines | text |", "|---:|---|", *lines])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--topology", choices=sorted(TOPOLOGIES), required=True)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--short", action="store_true", help="every fault once (about a minute)")
    mode.add_argument("--minutes", type=float, help="faults at random for this long")
    parser.add_argument("--clients", type=int, default=4, help="client processes")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn worker processes")
    parser.add_argument("--fault-seconds", type=float, default=3, help="how long each fault lasts before healing")
    parser.add_argument("--quiet-seconds", type=float, default=3, help="healthy spell after each fault")
    parser.add_argument("--history", help="where to keep the history (default: a file in the temp directory)")
    parser.add_argument("--faults", help="comma-separated names: only these of the topology's faults")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if not shutil.which("redis-server") or not shutil.which("redis-cli"):
        raise SystemExit("redis-server and redis-cli must be on the PATH")

    stamp = time.strftime("%Y%m%d-%H%M%S")
    history_path = Path(
        args.history or Path(tempfile.gettempdir()) / f"redistoken-faults-{args.topology}-{stamp}.jsonl"
    )
    work = Path(tempfile.mkdtemp(prefix="redistoken-faults-"))
    topology: Topology = TOPOLOGIES[args.topology]()
    gunicorn: subprocess.Popen[bytes] | None = None
    clients: list[multiprocessing.Process] = []
    try:
        faults = topology.faults()
        if args.faults:
            chosen = args.faults.split(",")
            if set(chosen) - set(faults):
                raise SystemExit(
                    f"unknown faults {sorted(set(chosen) - set(faults))}; {topology.name} has {sorted(faults)}"
                )
            faults = {name: play for name, play in faults.items() if name in chosen}
        topology.start()
        http_port = free_port()
        users = [f"faults{i}" for i in range(args.clients)]
        env = demo_app.prepare(
            work, SETTINGS, users, workload.PASSWORD, FAULTS_REDISTOKEN=json.dumps(topology.settings())
        )
        app_log = open(work / "gunicorn.log", "wb")  # closed with the run
        gunicorn = demo_app.serve(env, http_port, args.workers, app_log)

        parts = [work / f"client{i}.jsonl" for i in range(args.clients)]
        stop = multiprocessing.Event()
        clients = [
            multiprocessing.Process(target=workload.run, args=(i, http_port, str(part), stop, 60.0))
            for i, part in enumerate(parts)
        ]
        records: list[dict[str, Any]] = [{"type": "meta", "topology": topology.name, **META}]
        for client in clients:
            client.start()
        rng = random.Random(args.seed)
        plan = list(faults) if args.short else None
        deadline = time.monotonic() + (args.minutes or 0) * 60
        started = time.monotonic()
        time.sleep(args.quiet_seconds)
        while plan if plan is not None else time.monotonic() < deadline:
            name = plan.pop(0) if plan is not None else rng.choice(list(faults))
            t0 = time.monotonic()
            print(f"[{t0 - started:6.1f} s] fault {name}", flush=True)
            faults[name](args.fault_seconds)
            t1 = time.monotonic()
            records.append({"type": "fault", "name": name, "t0": t0, "t1": t1})
            print(f"[{t1 - started:6.1f} s] healed {name} after {t1 - t0:.1f} s", flush=True)
            time.sleep(args.quiet_seconds)
        stop.set()
        print(f"[{time.monotonic() - started:6.1f} s] workload stopped; verifying every token", flush=True)
        for client in clients:
            client.join(120)
            if client.is_alive():
                client.terminate()
        for part in parts:
            if part.exists():
                records += [json.loads(line) for line in part.read_text().splitlines() if line]
        history_path.write_text("".join(json.dumps(record) + "\n" for record in records))
        report = checker.check(records)
        print(
            f"\n# Fault run: {topology.name}, {args.clients} clients, {args.workers} gunicorn workers, "
            f"{time.monotonic() - started:.0f} s\n"
        )
        print(report.table())
        print(f"\nhistory: {history_path}")
        print(app_log_summary((work / "gunicorn.log").read_text(errors="replace")))
        return 0 if report.ok else 1
    finally:
        for client in clients:  # an interrupted run leaves no client behind
            if client.is_alive():
                client.terminate()
        if gunicorn is not None:
            gunicorn.terminate()
            gunicorn.wait(20)
            app_log.close()
        topology.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
