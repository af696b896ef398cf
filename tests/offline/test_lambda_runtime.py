"""Functions run in-process with exactly their own environment, a Lambda context and fresh modules."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from local.lambda_runtime import (
    EnvironmentPatch,
    FunctionTimeoutError,
    LocalFunction,
    function_environments,
)
from local.template import FunctionSpec, StackTemplate

from .conftest import spec_of


def spec_with(environment: dict[str, str], logical_id: str = "Fn") -> FunctionSpec:
    return FunctionSpec(
        logical_id=logical_id,
        function_name=f"local-{logical_id}",
        handler="app.handler",
        handler_file=Path("app.py"),
        code_dir=Path("."),
        layer_dirs=(),
        environment=environment,
        timeout_seconds=3,
        memory_mb=128,
        http_routes=(),
        sqs_sources=(),
    )


def test_each_function_gets_its_variables_and_unsets_the_others() -> None:
    login = spec_with({"DOMAIN": "d", "SERVICE": "login", "AUDIENCE": "api"}, "Login")
    reset = spec_with({"DOMAIN": "d", "SERVICE": "reset", "TABLE": "t"}, "Reset")
    environments = function_environments(
        [login, reset], {"AWS_ENDPOINT_URL": "http://moto", "DOMAIN": "local"}
    )
    assert environments["Login"] == {
        "AUDIENCE": "api",
        "DOMAIN": "local",
        "SERVICE": "login",
        "TABLE": None,
        "AWS_ENDPOINT_URL": "http://moto",
    }
    assert environments["Reset"] == {
        "AUDIENCE": None,
        "DOMAIN": "local",
        "SERVICE": "reset",
        "TABLE": "t",
        "AWS_ENDPOINT_URL": "http://moto",
    }


def test_environment_patch_sets_unsets_and_restores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OFFLINE_TEST_KEEP", "before")
    monkeypatch.delenv("OFFLINE_TEST_NEW", raising=False)
    patch = EnvironmentPatch({"OFFLINE_TEST_KEEP": None, "OFFLINE_TEST_NEW": "set"})
    patch.apply()
    assert "OFFLINE_TEST_KEEP" not in os.environ
    assert os.environ["OFFLINE_TEST_NEW"] == "set"
    patch.restore()
    assert os.environ["OFFLINE_TEST_KEEP"] == "before"
    assert "OFFLINE_TEST_NEW" not in os.environ


def load(fixture_template: StackTemplate, logical_id: str, **changes: object) -> LocalFunction:
    spec = replace(spec_of(fixture_template, logical_id), **changes)  # type: ignore[arg-type]
    return LocalFunction(spec, dict(spec.environment), "us-east-1", "123456789012")


def test_handler_sees_its_environment_only_while_it_runs(fixture_template: StackTemplate) -> None:
    echo = load(fixture_template, "EchoFunction")
    assert "SERVICE_NAME" not in os.environ
    result = echo.invoke({"rawPath": "/echo"})
    body = json.loads(result["body"])
    assert body["environment"]["SERVICE_NAME"] == "echo"
    assert body["seen_at_import"] == "echo"
    assert body["layer"] == "from-the-layer"
    assert body["context"]["function_name"] == "ropguard-local-EchoFunction"
    assert body["context"]["memory_limit_in_mb"] == 256
    assert 0 < body["context"]["remaining_ms"] <= 7000
    assert "SERVICE_NAME" not in os.environ


def test_two_functions_from_one_file_are_separate_modules(fixture_template: StackTemplate) -> None:
    echo = load(fixture_template, "EchoFunction")
    shapes = load(fixture_template, "ShapesFunction")
    assert echo.load() is not shapes.load()
    assert shapes.invoke({"pathParameters": {"shape": "plain-dict"}}) == {
        "hello": "world",
        "service": "shapes",
    }


def test_cold_start_imports_the_module_again(fixture_template: StackTemplate) -> None:
    worker = load(fixture_template, "WorkerFunction")
    first = worker.load()
    worker.cold_start()
    assert worker.load() is not first


def test_a_handler_running_past_its_timeout_is_an_error(fixture_template: StackTemplate) -> None:
    shapes = load(fixture_template, "ShapesFunction", timeout_seconds=-1)
    with pytest.raises(FunctionTimeoutError, match="ran past its Timeout"):
        shapes.invoke({"pathParameters": {"shape": "plain-dict"}})


def test_handler_exceptions_propagate(fixture_template: StackTemplate) -> None:
    echo = load(fixture_template, "EchoFunction")
    with pytest.raises(RuntimeError, match="on purpose"):
        echo.invoke({"rawPath": "/files/boom"})
