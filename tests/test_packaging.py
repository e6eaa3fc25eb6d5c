"""``python -m build`` gives an sdist and a wheel whose install alone is a working app.

Marked ``packaging`` (it builds in isolated environments and installs into a
fresh venv, from the package index): ``pytest -m "not packaging"`` skips it.
"""

import json
import subprocess
import sys
import tarfile
import venv
import zipfile
from email.parser import Parser
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

import pytest

import redistoken

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.packaging, pytest.mark.servers]


def package_files() -> set[str]:
    """Every file of the package in the checkout (code, scripts, data)."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "redistoken").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # Default mode: the sdist first, then the wheel built from that sdist.
    result = subprocess.run(
        [sys.executable, "-m", "build", "--outdir", str(out), str(ROOT)], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def the(dist: Path, pattern: str) -> Path:
    (found,) = dist.glob(pattern)
    return found


def test_wheel_holds_the_whole_package_and_its_metadata(dist):
    wheel = zipfile.ZipFile(the(dist, f"redistoken-{redistoken.__version__}-py3-none-any.whl"))
    names = set(wheel.namelist())
    missing = package_files() - names
    assert not missing, f"left out of the wheel: {sorted(missing)}"
    assert {"redistoken/py.typed", "redistoken/store/lua/authenticate.lua"} <= names
    assert not any(name.startswith(("tests/", "demo/", "site/")) for name in names)
    info = f"redistoken-{redistoken.__version__}.dist-info"
    assert f"{info}/licenses/LICENSE" in names
    metadata = Parser().parsestr(wheel.read(f"{info}/METADATA").decode())
    assert metadata["Version"] == redistoken.__version__
    assert metadata["Requires-Python"] == ">=3.10"
    requires = {r.lower().replace(" ", "") for r in metadata.get_all("Requires-Dist")}
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert {d.lower().replace(" ", "") for d in declared} <= requires, requires
    assert "openapi" in metadata.get_all("Provides-Extra")
    assert "Typing :: Typed" in metadata.get_all("Classifier")


def test_sdist_builds_the_same_package(dist):
    with tarfile.open(the(dist, "redistoken-*.tar.gz")) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    assert package_files() <= names
    assert {"pyproject.toml", "README.md", "LICENSE"} <= names


def test_installing_the_wheel_alone_gives_a_working_app(dist, tmp_path):
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=True)
    python = environment / "bin" / "python"
    wheel = the(dist, "redistoken-*.whl")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--quiet", str(wheel)], capture_output=True, text=True, timeout=600
    )
    assert install.returncode == 0, install.stderr[-3000:]
    # Run from an empty folder so that only the installed package can be imported.
    smoke = subprocess.run(
        [str(python), str(ROOT / "tests" / "app_smoke.py")],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert smoke.returncode == 0, smoke.stderr[-3000:]
    facts = json.loads(smoke.stdout.splitlines()[-1])
    assert Path(facts["file"]).is_relative_to(environment)
    assert facts["version"] == redistoken.__version__
    assert facts["lua"] == sorted(path.name for path in (ROOT / "redistoken" / "store" / "lua").glob("*.lua"))
    assert facts["py.typed"] is True
    assert facts["schema_loaded"] is False  # drf-spectacular is an extra, not installed here
