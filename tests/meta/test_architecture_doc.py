"""docs/architecture.md is the module map a newcomer reads first, so it must match the tree.

Two checks, on what the doc names in backticks: a path ending in ``.py`` whose first directory is one
of this repository's (``…/x.py`` is the layer's ``layers/ropguard/ropguard/x.py``), or a dotted name
starting with a product package (``ropguard.outbound``, ``ropguard_doctor.scheduled``):

* every module it names exists (a rename or removal that left the doc behind fails);
* every product module is named by its path: each ``functions/*/app.py``, and every ``.py`` under
  the layer, ``auth0_emulator/``, ``ropguard_offline/``, ``ropguard_doctor/`` and ``ropguard_tools/``.

An ``__init__.py`` that holds nothing but its docstring is exempt: it only marks a package, and
the package's row already says what the package is. An ``__init__.py`` that runs code (the layer's
hides botocore from Powertools) and every ``__main__.py`` (what ``python -m`` runs) must be named.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
LAYER = "layers/ropguard/ropguard"
LAYER_SHORTHAND = "…/"
#: Product packages as imported, and where each lives in the tree.
PACKAGES = {
    "ropguard": LAYER,
    "auth0_emulator": "auth0_emulator",
    "ropguard_offline": "ropguard_offline",
    "ropguard_doctor": "ropguard_doctor",
    "ropguard_tools": "ropguard_tools",
}

_SPAN = re.compile(r"`([^`\n]+)`")
_PATH = re.compile(r"(?:…/|\b)[\w.-]+(?:/[\w.-]+)*\.py\b")
_DOTTED = re.compile(r"\b(" + "|".join(PACKAGES) + r")\.([a-z_][a-z0-9_]*)\b")


def _only_docstring(path: Path) -> bool:
    body = ast.parse(path.read_text(encoding="utf-8")).body
    return all(isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) for node in body)


def product_modules(root: Path) -> set[str]:
    """Every product module's path from the repository root (exempt package markers left out)."""
    paths = set(root.glob("functions/*/app.py"))
    for directory in PACKAGES.values():
        paths.update((root / directory).rglob("*.py"))
    return {
        path.relative_to(root).as_posix()
        for path in paths
        if not (path.name == "__init__.py" and _only_docstring(path))
    }


def named_paths(text: str, root: Path) -> set[str]:
    """The ``.py`` paths the doc names in backticks that point into this repository."""
    named = set()
    for span in _SPAN.findall(text):
        for path in _PATH.findall(span):
            if path.startswith(LAYER_SHORTHAND):
                named.add(f"{LAYER}/{path.removeprefix(LAYER_SHORTHAND)}")
            elif "/" in path and (root / path.split("/")[0]).is_dir():
                named.add(path)
    return named


def named_modules(text: str) -> set[tuple[str, str]]:
    """``(package, module)`` for every dotted name in backticks that starts with a product package."""
    return {match for span in _SPAN.findall(text) for match in _DOTTED.findall(span)}


def missing(text: str, root: Path) -> list[str]:
    """What the doc names that the tree does not have."""
    gone = [path for path in named_paths(text, root) if not (root / path).is_file()]
    for package, module in named_modules(text):
        base = root / PACKAGES[package] / module
        if not (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()):
            gone.append(f"{package}.{module}")
    return sorted(gone)


def unnamed(text: str, root: Path) -> list[str]:
    """Product modules the doc does not name by their path."""
    return sorted(product_modules(root) - named_paths(text, root))


def test_every_module_the_doc_names_exists() -> None:
    assert missing(DOC.read_text(encoding="utf-8"), ROOT) == []


def test_the_doc_names_every_product_module() -> None:
    assert unnamed(DOC.read_text(encoding="utf-8"), ROOT) == []


def test_the_tree_has_the_packages_the_check_reads() -> None:
    """A moved package would make the check above vacuous; it must find the modules it guards."""
    modules = product_modules(ROOT)
    for directory in [*PACKAGES.values(), "functions"]:
        assert any(module.startswith(f"{directory}/") for module in modules), directory


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A tiny repository: one function, one layer module, a marker and a package that runs code."""
    files = {
        "functions/login/app.py": "x = 1\n",
        f"{LAYER}/__init__.py": '"""Runs code."""\nimport os\n',
        f"{LAYER}/edge.py": "",
        "ropguard_offline/__init__.py": '"""Only a docstring."""\n',
        "ropguard_offline/stack.py": "",
    }
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    for directory in ("auth0_emulator", "ropguard_doctor", "ropguard_tools"):
        (tmp_path / directory).mkdir()
    return tmp_path


def test_the_checks_see_an_unnamed_and_a_missing_module(tree: Path) -> None:
    complete = (
        "`functions/login/app.py`, `…/__init__.py`, `…/edge.py` (`ropguard.edge`), "
        "`ropguard_offline/stack.py`"
    )
    assert missing(complete, tree) == []
    assert unnamed(complete, tree) == []

    assert unnamed(complete.replace("`…/edge.py`", "the edge"), tree) == [f"{LAYER}/edge.py"]
    stale = complete + ", `ropguard_offline/http_pool.py`, `ropguard.tls`, `moto/core/models.py`"
    assert missing(stale, tree) == ["ropguard.tls", "ropguard_offline/http_pool.py"]
