#!/usr/bin/env python3
"""The two commands a newcomer needs, with nothing but Python installed.

    python3 dev.py demo    # venv, install, migrate, demo user (its password), serve on :8000
    python3 dev.py test    # venv, install, run the test suite
    python3 dev.py lint    # venv, install, ruff check and mypy (strict on redistoken/)
    python3 dev.py docs    # venv, install docs/requirements.txt, serve the docs site on :8001

They create ``.venv`` beside this file on first use and install
``requirements.txt`` into it. Extra arguments go to runserver / pytest /
``mkdocs`` (``python3 dev.py docs build --strict`` builds instead of serving).
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


def ensure_venv(requirements: str = "requirements.txt") -> None:
    """Install ``requirements`` into ``.venv`` unless it (and what it names) is unchanged."""
    stamp = VENV / f".{requirements.replace('/', '-')}"
    wanted = "".join(
        (ROOT / name).read_text()
        for name in (requirements, "requirements.txt", "site/requirements.txt", "pyproject.toml")
    )
    if stamp.exists() and stamp.read_text() == wanted:
        return
    if not PYTHON.exists():
        venv.create(VENV, with_pip=True)
    run(str(PYTHON), "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(str(PYTHON), "-m", "pip", "install", "--quiet", "-r", requirements)
    stamp.write_text(wanted)


def demo(extra: list[str]) -> None:
    ensure_venv()
    run(str(PYTHON), "manage.py", "migrate", "--verbosity", "0")
    run(str(PYTHON), "manage.py", "demo_user", "--show")
    run(str(PYTHON), "manage.py", "runserver", *(extra or ["127.0.0.1:8000"]))


def test(extra: list[str]) -> None:
    ensure_venv()
    run(str(PYTHON), "-m", "pytest", *extra)


def lint(extra: list[str]) -> None:
    ensure_venv()
    run(str(PYTHON), "-m", "ruff", "check", ".")
    run(str(PYTHON), "-m", "mypy")


def docs(extra: list[str]) -> None:
    ensure_venv()
    ensure_venv("docs/requirements.txt")
    run(str(PYTHON), "-m", "mkdocs", *(extra or ["serve", "--dev-addr", "127.0.0.1:8001"]))


if __name__ == "__main__":
    commands = {"demo": demo, "test": test, "lint": lint, "docs": docs}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    try:
        commands[sys.argv[1]](sys.argv[2:])
    except subprocess.CalledProcessError as exc:
        sys.exit(exc.returncode)
    except KeyboardInterrupt:
        sys.exit(130)
