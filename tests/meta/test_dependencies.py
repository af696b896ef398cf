"""pyproject.toml declares what each installable part needs, and the requirement files agree:
the layer's requirements.txt (what ``sam build`` installs) is exactly the project's runtime
dependencies, the tenant-check function's adds the doctor's, and requirements/dev.txt pins a
version of every declared dependency that satisfies it."""

from __future__ import annotations

import ast
import sys
import tomllib
from collections.abc import Iterable
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
NAME = canonicalize_name(PROJECT["name"])

#: Each part: its package directory and the extra that declares what it needs ("" = the core).
PARTS = {
    "": ROOT / "layers" / "ropguard" / "ropguard",
    "emulator": ROOT / "auth0_emulator",
    "offline": ROOT / "ropguard_offline",
    "doctor": ROOT / "ropguard_doctor",
    "tools": ROOT / "ropguard_tools",
}
#: Imports that come with a declared distribution (its own dependency), and what brings them.
BROUGHT_BY = {"botocore": "boto3", "werkzeug": "moto", "certifi": "httpx", "cryptography": "pyjwt"}
#: The Lambda runtime's own boto3, which the layer does not ship; type stubs used under TYPE_CHECKING.
NOT_SHIPPED = {"": {"boto3", "botocore"}}
TYPING_ONLY = ("mypy_boto3_",)


def requirements_file(path: Path) -> list[Requirement]:
    """Requirement lines of a pip requirements file, following ``-r``."""
    found: list[Requirement] = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("-r"):
            found += requirements_file((path.parent / line[2:].strip()).resolve())
        elif line:
            found.append(Requirement(line))
    return found


def declared(extra: str, seen: frozenset[str] = frozenset()) -> list[Requirement]:
    """The part's requirements: the core's, the extra's, and those of the extras it names."""
    own = [Requirement(text) for text in PROJECT["dependencies"]]
    if not extra:
        return own
    for requirement in map(Requirement, PROJECT["optional-dependencies"][extra]):
        if canonicalize_name(requirement.name) == NAME:
            own += [r for e in sorted(requirement.extras - seen) for r in declared(e, seen | {extra})]
        else:
            own.append(requirement)
    return own


def key(requirement: Requirement) -> tuple[str, frozenset[str], str]:
    return canonicalize_name(requirement.name), frozenset(requirement.extras), str(requirement.specifier)


def names(requirements: Iterable[Requirement]) -> set[str]:
    return {canonicalize_name(requirement.name) for requirement in requirements}


LOCK = requirements_file(ROOT / "requirements" / "dev.txt")


def test_the_layers_requirements_are_exactly_the_runtime_dependencies() -> None:
    layer = requirements_file(ROOT / "layers" / "ropguard" / "requirements.txt")
    assert sorted(map(key, layer)) == sorted(key(Requirement(text)) for text in PROJECT["dependencies"])


def test_the_tenant_check_function_ships_the_doctors_dependencies() -> None:
    """The function's requirements.txt plus the layer (and the runtime's boto3) are the doctor's."""
    function = requirements_file(ROOT / "functions" / "tenant_check" / "requirements.txt")
    doctor = {canonicalize_name(r.name): r for r in declared("doctor")}
    assert names(function) | names(declared("")) | {"boto3"} == set(doctor)
    for requirement in function:
        (exact,) = requirement.specifier
        assert doctor[canonicalize_name(requirement.name)].specifier.contains(exact.version), requirement


@pytest.mark.parametrize("extra", sorted(PROJECT["optional-dependencies"]))
def test_every_declared_dependency_is_pinned_to_a_version_it_accepts(extra: str) -> None:
    pins = {canonicalize_name(r.name): r for r in LOCK}
    for requirement in declared(extra):
        pinned = pins.get(canonicalize_name(requirement.name))
        assert pinned is not None, f"requirements/dev.txt pins no {requirement.name}"
        assert set(requirement.extras) <= set(pinned.extras), requirement
        if requirement.specifier:  # an exact pin, checked against what the part accepts
            (exact,) = pinned.specifier
            assert exact.operator == "==", pinned
            assert requirement.specifier.contains(exact.version), (requirement, pinned)


def test_everything_pinned_is_declared_by_some_part() -> None:
    everything = names(r for extra in PROJECT["optional-dependencies"] for r in declared(extra))
    assert names(LOCK) - everything == set()


def _third_party_imports(package: Path) -> set[str]:
    first_party = {path.name for path in PARTS.values()}
    found: set[str] = set()
    for source in package.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    return {
        name
        for name in found - first_party - set(sys.stdlib_module_names)
        if not name.startswith(TYPING_ONLY) and name != "__future__"
    }


@pytest.mark.parametrize("extra", sorted(PARTS))
def test_each_part_declares_what_it_imports(extra: str) -> None:
    from importlib.metadata import packages_distributions  # noqa: PLC0415 - only this test

    distributions = packages_distributions()
    needs = names(declared(extra)) | NOT_SHIPPED.get(extra, set())
    missing = {}
    for module in _third_party_imports(PARTS[extra]):
        brought = {canonicalize_name(d) for d in distributions.get(module, [module])}
        if not brought & needs and BROUGHT_BY.get(module) not in needs:
            missing[module] = sorted(brought)
    assert missing == {}, f"{PARTS[extra].name} imports what {extra or 'the core'} does not declare"
