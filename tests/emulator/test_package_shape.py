"""The emulator stays readable: small modules, no import cycle among them, no HTTP in the model."""

from __future__ import annotations

import ast
from pathlib import Path

import auth0_emulator

PACKAGE = Path(auth0_emulator.__file__).parent
MAX_LINES = 400
HTTP_SIDE = {"responses", "management_responses", "server", "http_types", "params", "__main__", "__init__"}


def imports_of(path: Path) -> set[str]:
    """The package modules a module imports, including those behind ``if TYPE_CHECKING``."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("auth0_emulator"):
            if node.module == "auth0_emulator":
                found.update(alias.name for alias in node.names)
            else:
                found.add(node.module.split(".")[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split(".")[1] for a in node.names if a.name.startswith("auth0_emulator."))
    return found


def graph() -> dict[str, set[str]]:
    return {path.stem: imports_of(path) for path in PACKAGE.glob("*.py")}


def test_no_module_is_over_400_lines() -> None:
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.glob("*.py")}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}


def test_no_import_cycle() -> None:
    edges = graph()
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        for target in sorted(edges.get(module, ())):
            if target in path:
                cycles.append([*path[path.index(target) :], target])
            elif target in edges and not cycles:
                visit(target, [*path, target])

    for module in sorted(edges):
        visit(module, [module])
    assert cycles == []


def test_the_model_imports_nothing_of_the_http_side() -> None:
    edges = graph()
    model = {name: deps for name, deps in edges.items() if name not in HTTP_SIDE}
    assert {name: deps & HTTP_SIDE for name, deps in model.items() if deps & HTTP_SIDE} == {}
