"""The benchmark runs end to end in its quickest mode and prints its tables.

Skipped unless the benchmark's own dependencies are installed
(``pip install -r bench/requirements.txt``); never asserts a timing, only
the counts the benchmark reports, which do not depend on the machine.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.servers
def test_quick_benchmark_prints_every_table_and_the_count_targets_pass():
    for module in ("knox", "rest_framework_simplejwt"):
        pytest.importorskip(module, reason="benchmark-only dependency; pip install -r bench/requirements.txt")
    if shutil.which("redis-server") is None:
        pytest.skip("the benchmark starts a private redis-server, which is not on the PATH")
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    for heading in (
        "## Per request, in process",
        "## Writes per authenticated request",
        "## Store scale",
        "## Targets",
    ):
        assert heading in out
    rows = {cells[0]: cells for cells in map(_cells, (line for line in out.splitlines() if line.startswith("| ")))}
    assert rows["redistoken (lazy user)"][3:] == ["0", "0", "1"]  # DB queries, DB writes, Redis round trips
    assert rows["redistoken, malformed token"][3:] == ["0", "0", "0"]
    assert rows["no auth (floor)"][3:] == ["0", "0", "0"]
    section = out.split("## Targets")[1]
    lines = [line for line in section.splitlines() if line.startswith("| ")]
    results = {cells[0]: cells[-1] for cells in map(_cells, lines[1:])}
    assert len(results) == 8 and set(results.values()) <= {"PASS", "MISS"}
    assert "One Redis round trip, two ways" in out
    for target in ("0 DB queries", "1 Redis round trip", "logout-all of 1,000", "250 bytes"):
        assert next(result for name, result in results.items() if target in name) == "PASS", target


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("|")[1:-1]]


@pytest.mark.servers
def test_instruction_count_mode_prints_every_scheme_with_positive_ratios_and_its_target():
    for module in ("knox", "rest_framework_simplejwt"):
        pytest.importorskip(module, reason="benchmark-only dependency; pip install -r bench/requirements.txt")
    for program in ("redis-server", "valgrind"):
        if shutil.which(program) is None:
            pytest.skip(f"the instruction-count mode needs {program}, which is not on the PATH")
    done = subprocess.run(
        [sys.executable, "bench/run.py", "--quick", "--instructions-only"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "Redis server time excluded" in out
    section = out.split("## Instructions per request, in process (callgrind)")[1].split("## Targets")[0]
    rows = {cells[0]: cells for cells in map(_cells, (line for line in section.splitlines() if line.startswith("| ")))}
    expected = {
        "no auth (floor)", "DRF TokenAuthentication", "knox (AUTO_REFRESH)", "simplejwt, user from DB",
        "simplejwt stateless", "simplejwt stateless + 1 GET", "redistoken (lazy user)",
        "redistoken RENEW_INTERVAL=0", "redistoken, malformed token", "GET (one plain client.get(), client side)",
    }  # fmt: skip
    assert expected <= set(rows)
    for name in expected:
        count, ratio = rows[name][1], rows[name][2]
        assert int(count.replace(",", "")) > 0 and float(ratio.rstrip("x")) > 0, name
    assert rows["no auth (floor)"][2] == "1.000x"
    targets = out.split("## Targets")[1]
    line = next(line for line in targets.splitlines() if line.startswith("| instructions: redistoken <= 1.10"))
    assert _cells(line)[-1] in {"PASS", "MISS"}


@pytest.mark.servers
def test_reconcile_benchmark_runs_small_and_revokes_exactly_the_changed_accounts():
    if shutil.which("redis-server") is None:
        pytest.skip("the benchmark starts a private redis-server, which is not on the PATH")
    done = subprocess.run(
        [sys.executable, "-m", "bench.reconcile", "--users", "40", "--per-user", "3"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lines = (line for line in done.stdout.splitlines() if line.startswith("| "))
    rows = {cells[0]: cells for cells in map(_cells, lines)}
    assert rows["dry run"][2:5] == ["120", "40", "30"]  # sessions, users, would revoke (the last batch size's row)
    assert rows["revoking"][2:5] == ["120", "40", "30"]
    assert rows["nothing left to revoke"][2:5] == ["90", "30", "0"]
    assert "revoked by reason: {'deleted': 6, 'deactivated': 12, 'credential-changed': 12}" in done.stdout
    assert "user hashes left: 30" in done.stdout
