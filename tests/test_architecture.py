"""The layering of docs' Architecture page, checked on the source: data flows
one way, nothing lower imports anything higher, and there is no import circle
(inside the packages too). Imports are read with ``ast``, function-level ones
included, so a deferred import cannot hide a cycle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "redistoken"

#: Floor of each module; a module may import only from lower floors, or from
#: its own package (``store.*``, ``local_cache.*``) without a circle.
FLOORS: dict[str, int] = {
    # Ground: no imports of ours.
    "redistoken": 0,
    "redistoken.settings": 0,
    "redistoken.tokens": 0,
    "redistoken.signals": 0,
    "redistoken.models": 0,
    "redistoken.cache_headers": 0,
    "redistoken.devices": 0,
    "redistoken.credentials": 0,
    # The Redis client, and HTTP pieces that read only the settings.
    "redistoken.connection": 1,
    "redistoken.keys": 1,
    "redistoken.exceptions": 1,
    "redistoken.client_address": 1,
    "redistoken.parsers": 1,
    # The local cache (below the store, which consults it), then the store:
    # the only code that talks to Redis.
    "redistoken.local_cache": 2,
    "redistoken.store": 3,
    # Loading the user behind a session; the login throttle (its counters
    # are in the store), then the HTTP shapes (the store's bounds, the throttle)
    # and reconcile (the store's sessions against the user table).
    "redistoken.users": 4,
    "redistoken.throttling": 4,
    "redistoken.serializers": 5,
    "redistoken.reconcile": 5,
    # The faces.
    "redistoken.authentication": 6,
    "redistoken.account_events": 6,
    "redistoken.imported_keys": 6,
    "redistoken.admin": 6,
    "redistoken.deploy_checks": 6,
    "redistoken.middleware": 6,
    "redistoken.management": 6,
    # HTTP endpoints (they name their authentication class), and the checks
    # (the authentication-order check looks at the class).
    "redistoken.views": 7,
    "redistoken.checks": 7,
    "redistoken.staff": 8,
    # Routes, OpenAPI, and the app config that wires it all.
    "redistoken.urls": 9,
    "redistoken.schema": 9,
    "redistoken.apps": 10,
}


def _modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _imports(name: str) -> set[str]:
    """The modules of ours that ``name`` imports."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in MODULES)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for alias in node.names:
                if f"{target}.{alias.name}" in MODULES:
                    found.add(f"{target}.{alias.name}")
                elif target in MODULES:
                    found.add(target)
    found.discard(name)
    return found


GRAPH = {name: _imports(name) for name in MODULES}


def _floor(name: str) -> int:
    """The floor of a module or of the package that holds it."""
    while name not in FLOORS:
        name = name.rpartition(".")[0]
        if name in ("", "redistoken"):  # the package's own floor is not a default for its modules
            raise KeyError(name)
    return FLOORS[name]


def _home(name: str) -> str:
    """The subpackage a module belongs to (``redistoken.store``), or itself."""
    for package in ("redistoken.store", "redistoken.local_cache", "redistoken.management"):
        if name == package or name.startswith(package + "."):
            return package
    return name


@pytest.mark.parametrize("name", sorted(MODULES))
def test_every_module_has_a_floor(name: str) -> None:
    try:
        _floor(name)
    except KeyError:
        pytest.fail(f"{name} has no floor in tests/test_architecture.py: decide where it sits in the layering")


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_go_down_only(name: str) -> None:
    upward = [target for target in GRAPH[name] if _home(target) != _home(name) and _floor(target) >= _floor(name)]
    assert not upward, f"{name} (floor {_floor(name)}) imports {upward} from its floor or above"


def test_no_import_circle() -> None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(name: str) -> None:
        state[name] = 1
        path.append(name)
        for target in sorted(GRAPH[name]):
            if state.get(target) == 1:
                cycle = path[path.index(target) :] + [target]
                pytest.fail("import circle: " + " -> ".join(cycle))
            if target not in state:
                visit(target)
        path.pop()
        state[name] = 2

    for name in sorted(GRAPH):
        if name not in state:
            visit(name)


def test_the_check_sees_imports() -> None:
    """The reader finds relative, absolute and function-level imports (or the
    tests above would pass on an empty graph)."""
    assert "redistoken.store.scripts" in GRAPH["redistoken.store.sessions"]
    assert "redistoken.local_cache" in GRAPH["redistoken.store.sessions"]
    assert "redistoken.authentication" in GRAPH["redistoken.checks"]  # imported inside a function
