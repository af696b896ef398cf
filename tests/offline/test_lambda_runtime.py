"""Functions run in awslambdaric worker processes, each with its own environment, as Lambda runs them."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ropguard_offline.aws_resources import OfflineResources
from ropguard_offline.lambda_runtime import FunctionError, LocalFunction

from .conftest import spec_of

pytestmark = pytest.mark.integration

MISSING = "a_dependency_nobody_installed"  # what fixture_app/functions/runtime/broken.py imports
LOCAL = {"AWS_ENDPOINT_URL": "http://127.0.0.1:9", "SHARED_GREETING": "overridden locally"}


@pytest.fixture
def functions(fixture_template: OfflineResources) -> Iterator[Any]:
    started: list[LocalFunction] = []

    def start(logical_id: str = "RuntimeFunction", **changes: Any) -> LocalFunction:
        max_workers = changes.pop("max_workers", 4)
        spec = replace(spec_of(fixture_template, logical_id), **changes)
        function = LocalFunction(spec, LOCAL, "eu-west-1", "123456789012", max_workers=max_workers)
        started.append(function)
        function.load()
        return function

    yield start
    for function in started:
        function.stop()


def test_a_worker_has_its_functions_environment_and_nothing_of_the_parents(functions: Any) -> None:
    runtime = functions()
    names = [
        "SERVICE_NAME",
        "SHARED_GREETING",
        "AWS_ENDPOINT_URL",
        "AWS_REGION",
        "_HANDLER",
        "AWS_EXECUTION_ENV",
        "PYTEST_CURRENT_TEST",
    ]
    answer = runtime.invoke({"variables": names}, request_id="req-1")
    assert answer["environment"] == {
        "SERVICE_NAME": "runtime",  # the function's own value over Globals'
        "SHARED_GREETING": "overridden locally",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        "AWS_REGION": "eu-west-1",
        "_HANDLER": "app.handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",  # the template's Runtime, as Lambda names it
        "PYTEST_CURRENT_TEST": None,  # the test process's environment stays out
    }
    assert answer["pid"] != os.getpid()
    assert Path(answer["cwd"]) == runtime.spec.code_dir
    assert answer["layer"] == "from-the-layer"
    assert runtime.arn == f"arn:aws:lambda:eu-west-1:123456789012:function:{runtime.spec.function_name}"
    assert runtime.spec.function_name.startswith("ropguard-local-RuntimeFunction-")  # moto's name
    assert answer["context"] == {
        "function_name": runtime.spec.function_name,
        "memory_limit_in_mb": "128",  # a string, as Lambda's Python runtime gives it
        "invoked_function_arn": runtime.arn,
        "aws_request_id": "req-1",
        "remaining_ms": answer["context"]["remaining_ms"],
    }
    assert 0 < answer["context"]["remaining_ms"] <= 2000
    assert "SERVICE_NAME" not in os.environ


def test_two_functions_never_see_each_others_variables(functions: Any) -> None:
    echo_only = ["TOPIC_ARN", "FIRST_ZONE"]
    assert set(functions().invoke({"variables": echo_only})["environment"].values()) == {None}


def test_handler_errors_come_back_as_lambda_answers_them(functions: Any) -> None:
    echo = functions("EchoFunction")
    with pytest.raises(FunctionError) as raised:
        echo.invoke({"rawPath": "/files/boom"}, request_id="req-boom")
    payload = raised.value.payload
    assert (payload["errorType"], payload["errorMessage"]) == (
        "RuntimeError",
        "the fixture handler failed on purpose",
    )
    assert payload["requestId"] == "req-boom"
    assert "app.py" in payload["stackTrace"][0]


def test_an_import_error_is_lambdas_import_module_error_on_every_invocation(functions: Any) -> None:
    broken = functions(handler="broken.handler")
    for _ in range(2):  # each invocation tries the init again, as Lambda does
        with pytest.raises(FunctionError) as raised:
            broken.invoke({})
        assert raised.value.payload == {
            "errorType": "Runtime.ImportModuleError",
            "errorMessage": f"Unable to import module 'broken': No module named '{MISSING}'",
            "requestId": "",
            "stackTrace": [],
        }


def test_a_timeout_kills_the_worker_and_the_next_invocation_gets_a_new_one(functions: Any) -> None:
    runtime = functions(timeout_seconds=1)
    first = runtime.invoke({})["pid"]
    with pytest.raises(FunctionError) as raised:
        runtime.invoke({"action": "sleep", "seconds": 30}, request_id="req-slow")
    assert raised.value.payload == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: req-slow Error: Task timed out after 1.00 seconds",
    }
    assert not _alive(first)
    assert runtime.invoke({})["pid"] != first


@pytest.mark.parametrize(
    ("how", "status"), [({"status": 3}, "exit status 3"), ({"signal": signal.SIGKILL}, "signal: killed")]
)
def test_a_worker_that_ends_mid_invocation_is_lambdas_exit_error_and_is_replaced(
    functions: Any, how: dict[str, int], status: str
) -> None:
    runtime = functions()
    first = runtime.invoke({})["pid"]
    with pytest.raises(FunctionError) as raised:
        runtime.invoke({"action": "exit", **how}, request_id="req-exit")
    assert raised.value.payload == {
        "errorType": "Runtime.ExitError",
        "errorMessage": f"RequestId: req-exit Error: Runtime exited with error: {status}",
    }
    assert not _alive(first)
    assert runtime.invoke({})["pid"] != first


def test_the_pool_grows_on_demand_up_to_its_limit(functions: Any, tmp_path: Path) -> None:
    runtime = functions(max_workers=3)
    with ThreadPoolExecutor(3) as pool:  # each waits until all three run at once
        answers = list(
            pool.map(runtime.invoke, [{"action": "rendezvous", "directory": str(tmp_path), "parties": 3}] * 3)
        )
    assert len({answer["pid"] for answer in answers}) == 3
    with ThreadPoolExecutor(6) as pool:
        pids = {
            answer["pid"] for answer in pool.map(runtime.invoke, [{"action": "sleep", "seconds": 0.05}] * 12)
        }
    assert len(pids) <= 3


def test_cold_start_replaces_every_worker(functions: Any) -> None:
    runtime = functions()
    first = runtime.invoke({})["pid"]
    runtime.cold_start()
    assert not _alive(first)
    assert runtime.invoke({})["pid"] != first


def test_what_a_handler_prints_is_logged_before_invoke_returns(
    functions: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="ropguard_offline.functions")
    functions().invoke({"action": "print", "text": "hello from the worker"})
    assert [
        record.getMessage()
        for record in caplog.records
        if record.name == "ropguard_offline.functions.RuntimeFunction"
    ] == ["printed by the handler: hello from the worker"]


def test_a_worker_started_while_nobody_logs_writes_to_dev_null(
    functions: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ropguard_offline.functions")
    runtime = functions()
    pid = runtime.invoke({"action": "print", "text": "heard by nobody"})["pid"]
    assert os.readlink(f"/proc/{pid}/fd/1") == os.devnull
    assert not [record for record in caplog.records if record.name.startswith("ropguard_offline.functions")]


def test_stop_ends_the_workers(functions: Any) -> None:
    runtime = functions()
    pid = runtime.invoke({})["pid"]
    runtime.stop()
    assert not _alive(pid)
    with pytest.raises(FunctionError, match=r"Runtime\.Stopped"):
        runtime.invoke({})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
