#!/usr/bin/env python3
"""The two commands a newcomer needs, with nothing but Python installed.

    python3 dev.py demo    # venv, install, migrate, demo user, serve on :8000
    python3 dev.py test    # venv, install, run the test suite
    python3 dev.py lint    # venv, install, ruff check and mypy (strict on redistoken/)

Both create ``.venv`` beside this file on first use and install
``requirements.txt`` into it. Extra arguments go to runserver / pytest.
"""

import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PYTHON = VENV / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def run(*args: str) -> None:
    subprocess.run(args, cwd=ROOT, check=True)


def ensure_venv() -> None:
    stamp = VENV / ".requirements"
    wanted = (ROOT / "requirements.txt").read_text() + (ROOT / "pyproject.toml").read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not PYTHON.exists():
        venv.create(VENV, with_pip=True)
    run(str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(str(PYTHON), "-m", "pip", "install", "--quiet", "-r", "requirements.txt")
    stamp.write_text(wanted)


def demo(extra: list[str]) -> None:
    ensure_venv()
    run(str(PYTHON), "manage.py", "migrate", "--verbosity", "0")
    run(str(PYTHON), "manage.py", "demo_user")
    run(str(PYTHON), "manage.py", "runserver", *(extra or ["127.0.0.1:8000"]))


def test(extra: list[str]) -> None:
    ensure_venv()
    run(str(PYTHON), "-m", "pytest", *extra)


def lint(extra: list[str]) -> None:
    ensure_venv()
    run(str(PYTHON), "-m", "ruff", "check", ".")
    run(str(PYTHON), "-m", "mypy")


if __name__ == "__main__":
    commands = {"demo": demo, "test": test, "lint": lint}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    try:
        commands[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
    except KeyboardInterrupt:
        sys.exit(130)
