"""The house: imports point down the data path, never from a lower room to a higher one (see ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

BRIDGE = Path(__file__).resolve().parent.parent / "bridge"

ROOMS: dict[str, int] = {
    # shared tools every room may use
    "bridge.errors": 0,
    "bridge.ratelimit": 0,
    "bridge.tasks": 0,
    "bridge.logs": 0,
    "bridge.telegram.constants": 0,
    # the data path, bottom up
    "bridge.bybit": 1,
    "bridge.store": 2,
    "bridge.core": 3,
    "bridge.telegram.outgoing": 3,
    "bridge.telegram.bot": 3,
    "bridge.telegram.incoming": 4,
    # wiring
    "bridge.config": 5,
    "bridge.locks": 5,  # one bridge per database and per bot, taken by app
    "bridge.metrics": 5,  # the metrics and health endpoint, wired by app
    "bridge.telegram": 5,  # the package face (a docstring)
    "bridge.app": 6,
    "bridge.sandbox": 6,
    "bridge.healthcheck": 6,  # the Docker HEALTHCHECK: reads the settings, asks /healthz
    "bridge.demo": 7,
    "bridge.__main__": 8,
    "bridge": 0,  # the package itself: its version
}
"""Room → level: a module may import its own room and lower levels only (same level, other room: no)."""


def room_of(module: str) -> str:
    """The longest room name that ``module`` is or lies inside."""
    return max((room for room in ROOMS if module == room or module.startswith(room + ".")), key=len)


def module_name(path: Path) -> str:
    parts = path.relative_to(BRIDGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """Every ``bridge…`` module the file imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("bridge"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("bridge"))
    return found


MODULES = sorted(BRIDGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=module_name)
def test_no_import_runs_from_a_lower_room_to_a_higher_one(path: Path) -> None:
    here = room_of(module_name(path))
    for imported in imports(path):
        there = room_of(imported)
        assert there == here or ROOMS[there] < ROOMS[here], f"{module_name(path)} ({here}) imports {imported} ({there})"


def test_every_module_lives_in_a_room_with_a_public_face() -> None:
    packages = {path.parent for path in MODULES} - {BRIDGE}
    for package in packages:
        init = package / "__init__.py"
        assert init.exists(), package
        tree = ast.parse(init.read_text(encoding="utf-8"))
        names = [
            t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)
        ]
        assert "__all__" in names, f"{package} has no __all__"
