#!/usr/bin/env python3
"""Benchmark redistoken against its peers, and check the performance targets.

    .venv/bin/pip install -r bench/requirements.txt     # the peers, once
    .venv/bin/python bench/run.py                       # SQLite, in-process + store scale
    .venv/bin/python bench/run.py --postgres postgresql://user@host/db  # PostgreSQL instead
    .venv/bin/python bench/run.py --http                # also end to end under gunicorn
    .venv/bin/python bench/run.py --quick               # a short smoke run (smaller figures)
    .venv/bin/python bench/run.py --instructions        # also instructions per request (valgrind)
    .venv/bin/python bench/run.py --instructions-only   # only those

Redis is always a private ``redis-server`` started on free ports (and
stopped) by the benchmark: it never touches another server. SQLite is a
temporary file; ``--postgres`` migrates the given database and writes a
benchmark user and its tokens there, so give it a database of its own.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.schemes import Scheme  # noqa: E402
from tests.servers import RedisServer, free_port  # noqa: E402  (private redis-server processes)

FULL = {"rounds": 51, "per_round": 60, "users": 10_000, "per_user": 10, "shape_sessions": 6000, "repeats": 3,
        "writes": 1000, "http_rounds": 3, "http_seconds": 3.0, "instr_requests": 20, "instr_warm": 5}  # fmt: skip
QUICK = {"rounds": 3, "per_round": 30, "users": 1_000, "per_user": 10, "shape_sessions": 1200, "repeats": 1,
         "writes": 100, "http_rounds": 1, "http_seconds": 0.5, "instr_requests": 2, "instr_warm": 2}  # fmt: skip


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--postgres", metavar="URL", help="PostgreSQL database URL instead of SQLite")
    parser.add_argument("--http", action="store_true", help="also measure end to end under gunicorn")
    parser.add_argument("--quick", action="store_true", help="a short run: fewer rounds, 10,000 sessions")
    parser.add_argument("--instructions", action="store_true", help="also count instructions per request (valgrind)")
    parser.add_argument("--instructions-only", action="store_true", help="only the instruction counts")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="gunicorn workers (one per CPU)")
    return parser.parse_args()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _row(cells: list[Any], widths: list[int]) -> str:
    """The first column left-aligned, the figures right-aligned."""
    first, *rest = (str(cell) for cell in cells)
    aligned = [first.ljust(widths[0])] + [cell.rjust(width) for cell, width in zip(rest, widths[1:], strict=True)]
    return "| " + " | ".join(aligned) + " |"


def table(header: list[str], rows: list[list[Any]]) -> str:
    """A Markdown table, aligned for the terminal too."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    rule = "|" + "|".join("-" * (w + 2) if i == 0 else "-" * (w + 1) + ":" for i, w in enumerate(widths)) + "|"
    return "\n".join([_row(header, widths), rule, *(_row(r, widths) for r in rows)])


def _number(x: float) -> str:
    return f"{x:g}" if x == int(x) else f"{x:.2f}"


Targets = list[tuple[str, str, bool]]


def main() -> int:
    args = _arguments()
    size = QUICK if args.quick else FULL
    work = Path(tempfile.mkdtemp(prefix="redistoken-bench-"))
    servers = [RedisServer().start(), RedisServer().start()]
    main_redis, scale_redis = servers
    os.environ["BENCH_DATABASE"] = args.postgres or str(work / "bench.sqlite3")
    os.environ["BENCH_REDIS_URL"] = main_redis.url
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.settings"
    try:
        import django

        django.setup()
        from bench.schemes import schemes

        _header(main_redis)
        all_schemes = schemes()
        targets: Targets = []
        if not args.instructions_only:
            per_request(size, all_schemes, targets)
        if not args.instructions_only:
            replicated_writes(size, all_schemes, main_redis)
            store_scale(size, scale_redis, targets)
        if args.http and not args.instructions_only:
            end_to_end(args, size, all_schemes)
        if args.instructions or args.instructions_only:  # last: its child issues credentials of its own
            from bench import instructions

            instructions.report(size, targets)
        print("\n## Targets\n")
        print(table(["target", "measured", "result"], [[t, m, "PASS" if ok else "MISS"] for t, m, ok in targets]))
        print(f"\nload average at end: {_load()}")
        return 0
    finally:
        for server in servers:
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


def _header(main_redis: RedisServer) -> None:
    import django
    import rest_framework
    from django.core.management import call_command
    from django.db import connection as db

    call_command("migrate", verbosity=0)
    redis_version = main_redis.client().info("server")["redis_version"]
    print(f"# redistoken benchmark, {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"command: {' '.join(['python', 'bench/run.py', *sys.argv[1:]])}")
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs ({_cpu()}), {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}, Django {django.get_version()}, DRF {rest_framework.__version__}, "
        f"Redis {redis_version} (private server, localhost TCP), database {db.vendor} {_db_version(db)}"
    )
    print(f"load average at start: {_load()}")


def per_request(size: dict[str, Any], all_schemes: list[Scheme], targets: Targets) -> None:
    """Every scheme through the WSGI handler, plus a plain GET to Redis."""
    from bench import inprocess
    from redistoken import connection

    for scheme in all_schemes:
        inprocess.check(scheme)
    client = connection.get_client()
    items = [inprocess.Timed(s.name, lambda s=s: inprocess.request(s), s) for s in all_schemes]
    items.append(inprocess.Timed("GET", lambda: client.get("rtb:absent")))
    counts = {s.name: inprocess.count(s) for s in all_schemes}
    micro = inprocess.time_interleaved(items, size["rounds"], size["per_round"])
    floor, rtt = micro["no auth (floor)"], micro["GET"]
    rounds = f"{size['rounds']} rounds of {size['per_round']} requests, schemes in random order"
    print(f"\n## Per request, in process ({rounds}; median of every request)\n")
    rows = []
    for s in all_schemes:
        c = counts[s.name]
        rows.append([s.name, f"{micro[s.name]:.0f}", f"{micro[s.name] / floor:.2f}x", _number(c.queries),
                     _number(c.writes), _number(c.round_trips)])  # fmt: skip
    print(table(["scheme", "µs/request", "vs floor", "DB queries", "DB writes", "Redis round trips"], rows))

    ours, stateless = micro["redistoken (lazy user)"], micro["simplejwt stateless"]
    paid = micro["simplejwt stateless + 1 GET"]
    print(_round_trip_report(ours, stateless, paid, rtt, floor))
    for peer in ("DRF TokenAuthentication", "knox (AUTO_REFRESH)", "simplejwt, user from DB"):
        targets.append((f"redistoken cheaper than {peer}", f"{ours:.0f} vs {micro[peer]:.0f} µs", ours < micro[peer]))
    targets.append(("redistoken <= 1.10 x (stateless simplejwt + one Redis GET, both per request)",
                    f"{ours:.0f} <= 1.10 x {paid:.0f} = {1.10 * paid:.0f} µs", ours <= 1.10 * paid))  # fmt: skip
    default = counts["redistoken (lazy user)"]
    targets.append(("0 DB queries and 0 DB writes per request (defaults)",
                    f"{_number(default.queries)} queries, {_number(default.writes)} writes",
                    default.queries == 0 and default.writes == 0))  # fmt: skip
    malformed = counts["redistoken, malformed token"]
    targets.append(("1 Redis round trip per request, 0 for a malformed token",
                    f"{_number(default.round_trips)} and {_number(malformed.round_trips)}",
                    default.round_trips == 1 and malformed.round_trips == 0))  # fmt: skip


def _round_trip_report(ours: float, stateless: float, paid: float, rtt: float, floor: float) -> str:
    """What one Redis round trip costs a request, measured two ways.

    The target prices a round trip as a request pays it: the same plain GET
    made inside the stateless simplejwt view. A GET repeated in a tight loop
    is cheaper (the Redis server and the client's code stay hot between
    calls, which no request sees), so a bound built on it is missed even by
    the reference it describes; both are printed, so the reader can judge.
    """
    tight_bound = 1.10 * (stateless + rtt)
    return "\n".join([
        "\nOne Redis round trip, two ways (same client, same server):\n",
        f"* a plain GET as a request pays it (stateless simplejwt + 1 GET, minus stateless simplejwt): "
        f"{paid - stateless:.0f} µs",
        f"* a plain GET in a tight loop: {rtt:.0f} µs",
        f"* authentication over the no-auth floor: stateless simplejwt {stateless - floor:.0f} µs (a JWT "
        f"signature check), redistoken {ours - floor:.0f} µs (a token check and one script round trip)",
        f"* 1.10 x (stateless simplejwt + the tight-loop GET) = {tight_bound:.0f} µs: redistoken {ours:.0f} µs, "
        f"and the reference itself (stateless simplejwt + 1 GET) {paid:.0f} µs "
        f"({'within' if paid <= tight_bound else 'over'} that bound)",
    ])  # fmt: skip


def replicated_writes(size: dict[str, Any], all_schemes: list[Scheme], main_redis: RedisServer) -> None:
    """Writes per request with RENEW_INTERVAL 0 and 60 s (the default), a replica attached."""
    from bench import storescale

    replica = RedisServer("--replicaof", "127.0.0.1", str(main_redis.port)).start()
    try:
        storescale.wait_for_replica(replica.client())
        print(f"\n## Writes per authenticated request ({size['writes']} requests each, one replica attached)\n")
        rows = []
        for name, label in (("redistoken RENEW_INTERVAL=0", "0"), ("redistoken (lazy user)", "60 s (default)")):
            scheme = next(s for s in all_schemes if s.name == name)
            w = storescale.replicated_writes(main_redis.client(), replica.client(), scheme, size["writes"])
            rows.append([f"RENEW_INTERVAL {label}", _number(w["primary_writes"]),
                         _number(w["replicated_writes"]), f"{w['replicated_bytes']:.0f}"])  # fmt: skip
        print(table(["setting", "write commands run", "write commands replicated", "bytes replicated"], rows))
    finally:
        replica.cleanup()


def store_scale(size: dict[str, Any], scale_redis: RedisServer, targets: Targets) -> None:
    """Memory per session, and one user's 1,000 sessions listed and revoked."""
    from bench import storescale

    shaped = {
        shape: storescale.memory_per_session(scale_redis.url, size["shape_sessions"] // shape[0], *shape)
        for shape in storescale.SHAPES
    }
    mem = storescale.memory_per_session(scale_redis.url, size["users"], size["per_user"])
    many = storescale.one_user_many_sessions(scale_redis.url, 1000, size["repeats"])
    print(
        f'\n## Memory per session by shape ({size["shape_sessions"]:,} sessions each, device "devN", '
        "one IPv4 address, default settings)\n"
    )
    print(table(["sessions per user", "22-char app UA", "120-char browser UA"], [
        [str(n), f"{shaped[(n, 'app')]['bytes']:.0f} B", f"{shaped[(n, 'browser')]['bytes']:.0f} B"]
        for n in (1, 2, 10)
    ]))  # fmt: skip
    print("\n## Store scale\n")
    print(table(["figure", "value"], [
        [f"Redis memory per session ({mem['sessions']:,} sessions over {mem['users']:,} users, {mem['keys']:,} keys)",
         f"{mem['bytes']:.0f} bytes"],
        ["list 1,000 sessions of one user", f"{many['list_ms']:.1f} ms, {many['list_round_trips']} round trip(s)"],
        ["revoke all 1,000 sessions of one user",
         f"{many['revoke_ms']:.1f} ms, {many['revoke_round_trips']} round trip(s)"],
    ]))  # fmt: skip
    worst = max([mem["bytes"]] + [m["bytes"] for m in shaped.values()])
    targets.append(
        ("<= 250 bytes of Redis memory per session, every shape", f"{worst:.0f} bytes at most", worst <= 250)
    )
    targets.append(("logout-all of 1,000 sessions in one round trip",
                    f"{many['revoke_round_trips']} round trip(s)", many["revoke_round_trips"] == 1))  # fmt: skip


def end_to_end(args: argparse.Namespace, size: dict[str, Any], all_schemes: list[Scheme]) -> None:
    """The authenticated schemes over HTTP, under gunicorn."""
    from bench import httpload

    port = free_port()
    env = {k: os.environ[k] for k in ("BENCH_DATABASE", "BENCH_REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    server = httpload.serve(port, args.workers, env)
    try:
        chosen = [s for s in all_schemes if s.http and s.expect == 200]
        processes, threads = 2, 4
        report = httpload.measure(port, chosen, size["http_rounds"], size["http_seconds"], processes, threads)
    finally:
        server.terminate()
        server.wait(10)
    floor = report[chosen[0].name]["rps"]
    print(f"\n## End to end over HTTP (gunicorn, {args.workers} gthread workers; load generator on the same machine: "
          f"{processes} processes x {threads} keep-alive connections; {size['http_rounds']} rounds in random order of "
          f"{size['http_seconds']:g} s per scheme)\n")  # fmt: skip
    rows = [[s.name, f"{r['rps']:.0f}", f"{r['rps'] / floor:.2f}", f"{r['p50']:.2f}", f"{r['p90']:.2f}",
             f"{r['p99']:.2f}", r["errors"]] for s in chosen for r in [report[s.name]]]  # fmt: skip
    print(table(["scheme", "requests/s", "vs no auth", "p50 ms", "p90 ms", "p99 ms", "errors"], rows))


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _db_version(db: Any) -> str:
    if db.vendor == "sqlite":
        import sqlite3

        return sqlite3.sqlite_version
    with db.cursor() as cursor:
        cursor.execute("SHOW server_version")
        return str(cursor.fetchone()[0])


if __name__ == "__main__":
    sys.exit(main())
