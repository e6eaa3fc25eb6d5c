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
