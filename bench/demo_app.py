"""The demo under gunicorn, for the runs that drive it over HTTP
(``bench.soak``, ``bench.faults``): one place that writes the run's settings
module, migrates a fresh SQLite database, creates the run's users and serves
the app, so the two runs start the same app the same way."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent


def prepare(work: Path, settings: str, users: list[str], password: str, **environ: str) -> dict[str, str]:
    """The environment of an app whose settings module is ``settings`` (written
    to ``work``, beside its database), migrated, with ``users`` created."""
    (work / "bench_settings.py").write_text(settings)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(work), str(ROOT / "site"), str(ROOT)]),
        "DJANGO_SETTINGS_MODULE": "bench_settings",
        "DJANGO_DEBUG": "0",
        "DEMO_DB_PATH": str(work / "bench.sqlite3"),
        **environ,
    }
    subprocess.run([sys.executable, "-m", "django", "migrate", "--verbosity", "0"], env=env, check=True)
    create = (
        "from django.contrib.auth import get_user_model as g\n"
        f"[g().objects.create_user(name, password={password!r}) for name in {users!r}]"
    )
    subprocess.run([sys.executable, "-m", "django", "shell", "-c", create], env=env, check=True)
    return env


def serve(env: dict[str, str], port: int, workers: int, log: IO[bytes] | None = None) -> subprocess.Popen[bytes]:
    """gunicorn serving the demo on ``port``, once it accepts connections."""
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "demo.wsgi", "-w", str(workers), "-b", f"127.0.0.1:{port}"]
        + ["--log-level", "warning", "--timeout", "30"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT if log is not None else None,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if gunicorn.poll() is not None:
            raise SystemExit(f"gunicorn exited with {gunicorn.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), 1).close()
            return gunicorn
        except OSError:
            time.sleep(0.1)
    gunicorn.terminate()
    raise SystemExit("gunicorn did not start")
