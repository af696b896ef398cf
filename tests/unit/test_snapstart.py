"""ropguard.snapstart: hooks registered with the runtime's module when it exists, no-ops otherwise."""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Iterator

import pytest

from ropguard import snapstart


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
        assert not snapstart.available()

        def hook() -> None: ...

        assert snapstart.after_restore(hook) is hook
        assert snapstart.before_snapshot(hook) is hook
    finally:
        monkeypatch.undo()
        importlib.reload(snapstart)


def test_with_the_runtime_module_hooks_are_registered(
    runtime_module: dict[str, list[Callable[[], None]]],
) -> None:
    assert snapstart.available()

    def before() -> None: ...

    def after() -> None: ...

    snapstart.before_snapshot(before)
    snapstart.after_restore(after)
    assert runtime_module == {"before": [before], "after": [after]}


def test_first_call_imports_depend_on_the_extension() -> None:
    with_extension = snapstart.import_for_first_call({"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": "2773"})
    assert with_extension == ["certifi"]
    without = snapstart.import_for_first_call({})
    assert without == ["certifi", "boto3", "aws_lambda_powertools.utilities.parameters"]


def test_the_login_handler_drops_its_service_after_a_restore(monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.fixtures.login import load_login_app  # noqa: PLC0415

    app = load_login_app()
    closed: list[bool] = []

    class Service:
        def close(self) -> None:
            closed.append(True)

    monkeypatch.setattr(app, "_service", Service())
    app._after_restore()
    assert app._service is None
    assert closed == [True]
