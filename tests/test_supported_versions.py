"""The supported versions declared in pyproject.toml are the ones CI tests."""

import sys
from pathlib import Path

from packaging.requirements import Requirement

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def lower_bounds() -> dict[str, str]:
    requirements = [*PROJECT["dependencies"], *PROJECT["optional-dependencies"]["openapi"]]
    bounds = {}
    for text in requirements:
        requirement = Requirement(text)
        (bound,) = [spec.version for spec in requirement.specifier if spec.operator == ">="]
        bounds[requirement.name.lower()] = bound
    return bounds


def oldest_pins() -> dict[str, str]:
    pins = {}
    for line in (ROOT / ".ci" / "constraints-oldest.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.strip().lower()] = version.strip()
    return pins


def test_ci_tests_every_lower_bound():
    bounds, pins = lower_bounds(), oldest_pins()
    assert set(bounds) == set(pins)
    for name, bound in bounds.items():
        pinned = pins[name].removesuffix(".*")
        assert pinned == bound or pinned == bound + ".0", (name, bound, pins[name])


def test_classifiers_match_the_bounds():
    classifiers = PROJECT["classifiers"]
    assert f"Framework :: Django :: {lower_bounds()['django']}" in classifiers
    python = PROJECT["requires-python"].removeprefix(">=")
    assert f"Programming Language :: Python :: {python}" in classifiers


def test_ci_runs_lint_the_suite_and_the_oldest_versions():
    script = (ROOT / ".ci" / "run").read_text()
    assert "python3 dev.py lint" in script and "python3 dev.py test" in script
    assert "-c .ci/constraints-oldest.txt" in script
    assert script.index("dev.py lint") < script.index("dev.py test")
    assert ".venv-oldest/bin/python -m pytest" in script
