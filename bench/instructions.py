"""Instructions per request, counted by valgrind's callgrind: figures that
repeat on a shared machine, where timings move by tens of percent.

The parent (``bench/run.py --instructions``) runs this module as a child
under ``valgrind --tool=callgrind``. Only the child's own instructions are
counted: the Redis server (and PostgreSQL with ``--postgres``) is another
process, not run under valgrind, so its work is excluded; SQLite runs inside
the child and is counted.

How a region is cut: callgrind dumps its counters each time the C function
``math_lgamma`` is entered (``--dump-before``); the child calls
``math.lgamma`` around each region and nothing else in a request calls it.
Each item (every scheme, and one plain ``client.get()``) gets fresh
credentials, a warm-up, a region of n calls and one of 2n calls (each after
a collection and ``gc.freeze()``, outside the regions); per call is the
difference divided by n, so the loop's and the marker's fixed costs cancel.
The hash seed is fixed and the inputs are the same on every run; a fresh
credential per item keeps each item's regions inside the 60 s before a
renewal (redistoken's RENEW_INTERVAL, knox's MIN_REFRESH_INTERVAL) falls due.

    python -m bench.instructions compare A.txt B.txt   # ratios of two saved runs
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MARKER = "math_lgamma"  # the C function behind math.lgamma
FLOOR, OURS, STATELESS, GET = "no auth (floor)", "redistoken (lazy user)", "simplejwt stateless", "GET"
HEADING = "## Instructions per request, in process (callgrind)"


def available() -> bool:
    return shutil.which("valgrind") is not None


def measure(n: int, warm: int) -> dict[str, float]:
    """Instructions per call of every item, from a child run under callgrind."""
    work = Path(tempfile.mkdtemp(prefix="redistoken-callgrind-"))
    try:
        order = work / "order.json"
        command = ["valgrind", "--tool=callgrind", f"--dump-before={MARKER}",
                   f"--callgrind-out-file={work}/callgrind.out", sys.executable, "-m", "bench.instructions",
                   "child", str(order), "--requests", str(n), "--warm", str(warm)]  # fmt: skip
        env = {**os.environ, "PYTHONHASHSEED": "0"}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
        if done.returncode != 0 or not order.exists():
            raise SystemExit(f"callgrind run failed ({done.returncode}):\n{done.stderr[-3000:]}")
        names = json.loads(order.read_text())
        parts = _parts(work)
        if len(parts) != 4 * len(names):
            raise SystemExit(f"expected {4 * len(names)} callgrind dumps at {MARKER}, got {len(parts)}: "
                             "is Python built without symbols, or does something else call math.lgamma?")  # fmt: skip
        return {name: (parts[4 * i + 3] - parts[4 * i + 1]) / n for i, name in enumerate(names)}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _parts(work: Path) -> list[int]:
    """Instruction totals of the dumps made at the marker, in order."""
    totals: dict[int, int] = {}
    for path in work.glob("callgrind.out.*"):
        head: dict[str, str] = {}
        with path.open() as lines:
            for line in lines:
                key, _, value = line.partition(": ")
                head[key] = value.strip()
                if key == "summary":
                    break
        if MARKER in head.get("desc", ""):
            totals[int(head["part"])] = int(head["summary"])
    return [totals[part] for part in sorted(totals)]


def report(size: dict[str, Any], targets: list[tuple[str, str, bool]]) -> None:
    """The instruction table and the instruction-count target."""
    n, warm = size["instr_requests"], size["instr_warm"]
    per = measure(n, warm)
    floor = per[FLOOR]
    database = "PostgreSQL's server work excluded too" if "://" in os.environ["BENCH_DATABASE"] else "SQLite counted"
    print(f"\n{HEADING}\n")
    print(f"valgrind --tool=callgrind on this process only: Redis server time excluded (another process, "
          f"not under valgrind); {database}. Per call = (instructions of {2 * n} calls - of {n}) / {n}, after "
          f"{warm} warm-up calls, gc.collect() and gc.freeze() before each region, fresh credentials per item, "
          f"PYTHONHASHSEED=0.\n")  # fmt: skip
    from bench.run import table

    rows = [[name, f"{value:,.0f}", f"{value / floor:.3f}x"] for name, value in per.items() if name != GET]
    rows.append([f"{GET} (one plain client.get(), client side)", f"{per[GET]:,.0f}", f"{per[GET] / floor:.3f}x"])
    print(table(["scheme", "instructions/request", "vs floor"], rows))
    ours, bound = per[OURS], 1.10 * (per[STATELESS] + per[GET])
    targets.append(("instructions: redistoken <= 1.10 x (stateless simplejwt + one plain GET's client side)",
                    f"{ours:,.0f} <= 1.10 x ({per[STATELESS]:,.0f} + {per[GET]:,.0f}) = {bound:,.0f}",
                    ours <= bound))  # fmt: skip


def child(order: Path, n: int, warm: int) -> None:
    """Run under callgrind: every item's regions, cut at ``math.lgamma``."""
    import random

    import django

    random.seed(0)
    django.setup()
    from knox.settings import knox_settings

    from bench import inprocess
    from bench.schemes import schemes
    from redistoken import connection
    from redistoken.settings import token_settings

    window = min(token_settings.RENEW_INTERVAL, knox_settings.MIN_REFRESH_INTERVAL)
    client = connection.get_client()
    names = [s.name for s in schemes()] + [GET]
    for scheme in schemes():
        inprocess.check(scheme)  # lazy imports and first-request caches, outside every region
    for name in names:
        started = time.monotonic()
        fresh = {s.name: s for s in schemes()}
        scheme = fresh.get(name)
        action = (lambda s=scheme: inprocess.request(s)) if scheme else (lambda: client.get("rtb:absent"))
        with inprocess.configured(scheme):
            for _ in range(warm):
                action()
            for calls in (n, 2 * n):
                _settle()
                math.lgamma(1.0)
                for _ in range(calls):
                    action()
                math.lgamma(1.0)
        if time.monotonic() - started >= window:
            raise SystemExit(f"{name}: took over {window:g} s, so a renewal may have fallen in a region")
    order.write_text(json.dumps(names))


def _settle() -> None:
    """Outside the regions: collect, then freeze what survives, so that each
    region starts at the same point of the collector's cycle and no region
    pays a full collection of the objects Django set up."""
    gc.collect()
    gc.freeze()


_ROW = re.compile(r"^\| (.+?) +\| +([\d,]+) \| +([\d.]+)x \|$")


def ratios(text: str) -> dict[str, float]:
    """The ratios to the floor in a saved run's instruction table, from the counts."""
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    counts = {m[1]: int(m[2].replace(",", "")) for m in map(_ROW.match, section.splitlines()) if m}
    return {name: count / counts[FLOOR] for name, count in counts.items()}


def compare(a: Path, b: Path) -> float:
    """Print each ratio of two saved runs and their difference; the largest."""
    first, second = ratios(a.read_text()), ratios(b.read_text())
    worst = 0.0
    for name, x in first.items():
        change = abs(second[name] - x) / x
        worst = max(worst, change)
        print(f"{name}: {x:.4f}x vs {second[name]:.4f}x ({100 * change:.3f}%)")
    print(f"largest difference of a ratio: {100 * worst:.3f}%")
    return worst


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("child", help="the measured process (run by measure() under callgrind)")
    run.add_argument("order", type=Path)
    run.add_argument("--requests", type=int, default=20)
    run.add_argument("--warm", type=int, default=5)
    both = commands.add_parser("compare", help="the ratios of two saved runs side by side")
    both.add_argument("first", type=Path)
    both.add_argument("second", type=Path)
    args = parser.parse_args()
    if args.command == "child":
        sys.path.insert(0, str(ROOT))
        child(args.order, args.requests, args.warm)
    else:
        sys.exit(0 if compare(args.first, args.second) <= 0.01 else 1)
