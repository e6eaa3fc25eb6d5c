"""The fault-injection run (bench/faults) in its short mode on each
topology: the demo under gunicorn, client processes, every fault of the
topology once; the checker's verdict on the history it wrote.

Marked ``faults`` (about a minute each, several processes): ``-m "not
faults"`` leaves them out. The long runs (``--minutes 10``) are in
docs/faults.md.
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bench.faults import checker

pytestmark = [pytest.mark.faults, pytest.mark.servers]
ROOT = Path(__file__).resolve().parent.parent


Run = tuple[subprocess.CompletedProcess[str], checker.Report, list[dict]]


def run_faults(tmp_path: Path, *args: str, topology: str = "single") -> Run:
    if shutil.which("redis-server") is None or shutil.which("redis-cli") is None:
        pytest.skip("the fault run starts private redis-server processes; redis-server is not on the PATH")
    pytest.importorskip("gunicorn", reason="the fault run serves the demo with gunicorn")
    history = tmp_path / "history.jsonl"
    done = subprocess.run(
        [sys.executable, "-m", "bench.faults", "--topology", topology, "--short", "--history", str(history), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    records = [json.loads(line) for line in history.read_text().splitlines()]
    return done, checker.check(records), records


def test_single_server_kill_pause_and_frozen_proxy_break_no_rule(tmp_path):
    done, report, records = run_faults(tmp_path, "--faults", "kill-restart,pause,proxy-freeze")
    assert sorted(report.faults) == ["kill-restart", "pause", "proxy-freeze"]
    assert report.ops["me", "200"] > 100 and report.ops["login", "200"] > 10
    assert report.ops["me", "503"] > 0, "the faults were felt"
    assert sum(n for (kind, _), n in report.ops.items() if kind == "verify") > 0
    assert report.ok, report.table()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "PASS" in done.stdout


def test_a_full_redis_refuses_only_logins(tmp_path):
    done, report, _ = run_faults(tmp_path, "--faults", "maxmemory")
    assert report.ops["login", "503"] > 0, "memory was full"
    assert report.violations[checker.FULL_REDIS_REFUSED] == [], report.table()
    assert report.ok and done.returncode == 0


def test_sentinel_planned_failover_killed_and_paused_primary_break_no_rule(tmp_path):
    done, report, _ = run_faults(tmp_path, topology="sentinel")
    assert sorted(report.faults) == ["kill-primary", "pause-primary", "sentinel-failover"]
    assert report.ops["logout", "204"] > 0 and report.ops["login", "200"] > 10
    assert sum(n for (kind, status), n in report.ops.items() if status == "503") > 0, "the faults were felt"
    assert report.ok, report.table()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_cluster_killed_primaries_and_a_whole_cluster_down_break_no_rule(tmp_path):
    done, report, _ = run_faults(tmp_path, topology="cluster")
    assert sorted(report.faults) == ["cluster-down", "cluster-kill-lone-primary", "cluster-kill-primary"]
    assert report.ops["me", "200"] > 100 and report.ops["login", "200"] > 10
    assert sum(n for (kind, status), n in report.ops.items() if status == "503") > 0, "the faults were felt"
    assert report.ok, report.table()
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
