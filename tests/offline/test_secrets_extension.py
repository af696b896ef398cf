"""The Parameters and Secrets extension's stand-in, as a function whose template attaches the
extension's layer by ARN reaches it: through the offline stack, from a worker, on its port."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest

from ropguard_offline.lambda_runtime import LocalFunction
from ropguard_offline.stack import OfflineStack, Ports, StackConfig
from tests.fixtures.secret_hygiene import SecretRegistry

from .conftest import FIXTURE_PARAMETERS, FIXTURE_TEMPLATE

pytestmark = pytest.mark.integration

SECRET_VALUE = json.dumps({"client_id": "fixture-client", "client_secret": "fixture-secret-value-42"})


@pytest.fixture(scope="module")
def stack() -> Iterator[OfflineStack]:
    config = StackConfig(
        template_path=FIXTURE_TEMPLATE,
        tenant_path=None,
        parameter_overrides=FIXTURE_PARAMETERS,
        secret_strings={"ClientSecret": SECRET_VALUE},
    )
    with OfflineStack.start(config, ports=Ports.free()) as started:
        yield started


@pytest.fixture
def runtime(stack: OfflineStack, secret_registry: SecretRegistry) -> LocalFunction:
    secret_registry.add("client_secret", "fixture-secret-value-42")
    return stack.functions["RuntimeFunction"]


def read(function: LocalFunction, query: str, **event: Any) -> dict[str, Any]:
    answer: dict[str, Any] = function.invoke({"action": "secret", "query": query, **event})
    return answer


def test_a_function_with_the_layer_reads_its_secret_with_its_session_token(
    stack: OfflineStack, runtime: LocalFunction
) -> None:
    arn = stack.physical("ClientSecret")
    answer = read(runtime, f"secretId={arn}")
    assert answer["status"] == 200
    body = answer["body"]
    assert set(body) == {"ARN", "Name", "VersionId", "SecretString", "VersionStages", "CreatedDate"}
    assert (body["ARN"], body["SecretString"], body["VersionStages"]) == (arn, SECRET_VALUE, ["AWSCURRENT"])
    assert isinstance(body["CreatedDate"], float)
    by_name = read(runtime, f"secretId={body['Name']}&versionStage=AWSCURRENT")
    assert by_name["body"]["VersionId"] == body["VersionId"]


def test_the_worker_gets_the_stand_ins_port_and_not_the_templates(runtime: LocalFunction) -> None:
    variables = ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "AWS_SESSION_TOKEN"]
    environment = runtime.invoke({"variables": variables})["environment"]
    assert environment["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] not in (None, "2773")
    assert environment["AWS_SESSION_TOKEN"] not in (None, "testing")


def test_a_missing_stage_or_secret_is_secrets_managers_not_found(
    stack: OfflineStack, runtime: LocalFunction
) -> None:
    arn = stack.physical("ClientSecret")
    for query in (f"secretId={arn}&versionStage=AWSPREVIOUS", "secretId=no-such-secret"):
        answer = read(runtime, query)
        assert (answer["status"], answer["body"]["__type"]) == (400, "ResourceNotFoundException")


def test_a_missing_or_wrong_token_is_refused(stack: OfflineStack, runtime: LocalFunction) -> None:
    arn = stack.physical("ClientSecret")
    assert read(runtime, f"secretId={arn}", token="")["status"] == 401
    wrong = read(runtime, f"secretId={arn}", token="not-the-session-token")
    assert wrong["status"] == 403
    assert "SecretString" not in wrong["body"]


def test_the_functions_output_reaches_the_captured_log(
    runtime: LocalFunction, caplog: pytest.LogCaptureFixture
) -> None:
    """Without any set_level here: the secret-hygiene scan reads the same captured records."""
    runtime.invoke({"action": "print", "text": "a line from the worker"})
    assert (logging.INFO, "printed by the handler: a line from the worker") in [
        (record.levelno, record.getMessage()) for record in caplog.records
    ]


def test_only_functions_that_attach_the_layer_get_the_stand_in(stack: OfflineStack) -> None:
    """The reader refuses any other layer given by ARN (tests/offline/test_template.py)."""
    assert stack.functions["RuntimeFunction"].spec.secrets_extension
    echo = stack.functions["EchoFunction"]
    assert not echo.spec.secrets_extension
    answer = json.loads(echo.invoke({"rawPath": "/echo"})["body"])
    assert answer["environment"]["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] is None
