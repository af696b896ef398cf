"""ropguard.snapstart: hooks registered with the runtime's module when it exists, no-ops otherwise."""

from __future__ import annotations

import ast
import importlib
import sys
import types
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from ropguard import snapstart
from ropguard.errors import ConfigurationError
from ropguard.settings import SecretStoreSettings


class Service:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def runtime_module(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[Callable[[], None]]]]:
    """A stand-in for the Lambda runtime's snapshot_restore_py, then ropguard.snapstart reloaded."""
    registered: dict[str, list[Callable[[], None]]] = {"before": [], "after": []}
    module = types.ModuleType("snapshot_restore_py")
    module.register_before_snapshot = registered["before"].append  # type: ignore[attr-defined]
    module.register_after_restore = registered["after"].append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", module)
    importlib.reload(snapstart)
    yield registered
    monkeypatch.delitem(sys.modules, "snapshot_restore_py")
    importlib.reload(snapstart)


def test_without_the_runtime_module_registering_is_a_no_op(monkeypatch: pytest.MonkeyPatch) -> None:
    # awslambdaric (the offline stack's runtime client) ships a snapshot_restore_py too: hide it.
    monkeypatch.setitem(sys.modules, "snapshot_restore_py", None)
    importlib.reload(snapstart)
    try:

        def hook() -> None: ...

        assert snapstart.after_restore(hook) is hook
        assert snapstart.before_snapshot(hook) is hook
    finally:
        monkeypatch.undo()
        importlib.reload(snapstart)


def test_with_the_runtime_module_hooks_are_registered(
    runtime_module: dict[str, list[Callable[[], None]]],
) -> None:
    def before() -> None: ...

    def after() -> None: ...

    snapstart.before_snapshot(before)
    snapstart.after_restore(after)
    assert runtime_module == {"before": [before], "after": [after]}


def test_first_call_imports_depend_on_the_extension() -> None:
    with_extension = snapstart.import_for_first_call(SecretStoreSettings(extension_port=2773))
    assert with_extension == ["certifi"]
    without = snapstart.import_for_first_call(SecretStoreSettings())
    assert without == ["certifi", "boto3", "aws_lambda_powertools.utilities.parameters"]


def test_per_container_builds_once_and_drops_after_a_restore(
    runtime_module: dict[str, list[Callable[[], None]]],
) -> None:
    built: list[Service] = []
    service = snapstart.per_container(lambda: built.append(Service()) or built[-1])
    assert (len(runtime_module["before"]), len(runtime_module["after"])) == (1, 1)
    first = service()
    assert service() is first
    runtime_module["before"][0]()  # imports only: nothing is built before a snapshot
    assert len(built) == 1
    runtime_module["after"][0]()  # a restore
    assert first.closed
    assert service() is not first
    assert len(built) == 2


def test_a_service_without_close_is_dropped_too() -> None:
    service = snapstart.per_container(object)
    first = service()
    service.drop()
    assert service() is not first


def test_a_configuration_error_is_not_kept() -> None:
    """Each invocation tries again (and answers the error again) until the configuration is fixed."""
    attempts: list[int] = []

    def build() -> Service:
        attempts.append(1)
        raise ConfigurationError("AUTH0_DOMAIN", "is required")

    service = snapstart.per_container(build)
    for _ in range(2):
        with pytest.raises(ConfigurationError):
            service()
    assert len(attempts) == 2


FUNCTIONS = Path(__file__).resolve().parents[2] / "functions"


@pytest.mark.parametrize("app", sorted(FUNCTIONS.glob("*/app.py")), ids=lambda path: path.parent.name)
def test_every_function_builds_its_service_per_container_and_its_handler_is_one_call(app: Path) -> None:
    tree = ast.parse(app.read_text(encoding="utf-8"))
    calls = [
        node.value.func.id
        for node in tree.body
        if isinstance(node, ast.Assign)
        and isinstance(node.value, ast.Call)
        and isinstance(node.value.func, ast.Name)
    ]
    assert "per_container" in calls
    handler = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "lambda_handler")
    assert len(handler.body) == 1
    assert isinstance(handler.body[0], ast.Return)
    assert isinstance(handler.body[0].value, ast.Call)
    assert handler.decorator_list  # Powertools' context and metrics (and tracing when on)
