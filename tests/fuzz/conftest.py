"""Hostile-input suites: the `fuzz` marker, the session's case count, and the login handler wired
to the Auth0 emulator and moto exactly as template.yaml configures it."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from benchmarks.loopback_extension import Fetch, LoopbackExtension
from tests.fixtures.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_USERS, EmulatorHandle
from tests.fixtures.login import ROOT, FakeLambdaContext, load_login_app
from tests.fuzz.support import CASES, CI_TARGET, PASSWORD_CANARY, PROFILE, STATUSES, Answer, Invoke
from tests.offline.conftest import read, spec_of


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not CASES:
        return
    per_suite = ", ".join(f"{name}: {count}" for name, count in sorted(CASES.items()))
    total = sum(CASES.values())
    terminalreporter.write_line(
        f"fuzz: {total} generated cases run (profile {PROFILE}; {per_suite}); ci target >= {CI_TARGET}"
    )
    statuses = ", ".join(f"{status}: {count}" for status, count in sorted(STATUSES.items()))
    terminalreporter.write_line(f"fuzz: answers by status: {statuses}")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "fuzz: property-based and schema-driven hostile input (make fuzz)")


SERVER_FIXTURES = frozenset({"fuzz_login", "offline_stack"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """`fuzz` on everything here; `integration` and `slow` on what talks to loopback servers."""
    for item in items:
        if not item.nodeid.replace("\\", "/").startswith("tests/fuzz/"):
            continue
        item.add_marker(pytest.mark.fuzz)
        # Thousands of cases per test: the session-wide 120 s hang guard is too tight on a busy CI.
        item.add_marker(pytest.mark.timeout(900))
        if SERVER_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.integration)
            item.add_marker(pytest.mark.slow)


# -- the login handler against the emulator and moto -------------------------------------------


class _Collect(logging.Handler):
    def __init__(self, sink: io.StringIO) -> None:
        super().__init__(level=logging.DEBUG)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.write(f"{record.name} {record.getMessage()} {record.__dict__}\n")


EXTENSION_TOKEN = "session-token-fuzz-never-log-me"


def moto_secrets(client: Any) -> Fetch:
    """The extension stand-in's source: GetSecretValue on moto's server (None when not found)."""

    def fetch(secret_id: str, stage: str) -> dict[str, Any] | None:
        try:
            answer = client.get_secret_value(SecretId=secret_id, VersionStage=stage)
        except client.exceptions.ResourceNotFoundException:
            return None
        return {"Name": answer["Name"], "SecretString": answer["SecretString"], "VersionStages": [stage]}

    return fetch


def template_login_environment(auth0_url: str) -> dict[str, str]:
    """LoginFunction's variables as template.yaml sets them, for a stack whose Auth0 is ``auth0_url``."""
    return dict(spec_of(read(ROOT / "template.yaml", Auth0Domain=auth0_url), "LoginFunction").environment)


@pytest.fixture
def fuzz_login(
    auth0_emulator: EmulatorHandle,
    boto_session: boto3.session.Session,
    monkeypatch: pytest.MonkeyPatch,
    secret_registry: Any,
) -> Iterator[Invoke]:
    """``lambda_handler`` configured by template.yaml, its secret, topic and queue on moto's server,
    its Auth0 the emulator. Each call captures what the handler printed (logs, EMF metrics) and
    logged, so a test can look for the password in exactly that invocation's output."""
    # First: reading the template in an in-process moto resets moto's state, this server's included.
    template_env = template_login_environment(auth0_emulator.base_url)
    secret_registry.add("client secret", DEMO_CLIENT_SECRET)
    secret_registry.add("password", PASSWORD_CANARY, *(password for _, password in DEMO_USERS.values()))
    secret_arn = boto_session.client("secretsmanager").create_secret(
        Name="ropguard/fuzz-auth0-client",
        SecretString=json.dumps({"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET}),
    )["ARN"]
    env = {
        **template_env,
        "AUTH0_SECRET_ID": secret_arn,
        "SECURITY_EVENTS_TOPIC_ARN": boto_session.client("sns").create_topic(Name="fuzz-security-events")[
            "TopicArn"
        ],
        "PASSWORD_RESET_QUEUE_URL": boto_session.client("sqs").create_queue(QueueName="fuzz-password-reset")[
            "QueueUrl"
        ],
        "POWERTOOLS_TRACE_DISABLED": "1",
    }
    # template.yaml attaches the Parameters and Secrets extension : a loopback
    # stand-in backed by moto serves it with its token check, so the fuzzed handler takes that path.
    extension = contextlib.ExitStack()
    if "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT" in env:
        secret_registry.add("session token", EXTENSION_TOKEN)
        stand_in = extension.enter_context(
            LoopbackExtension(moto_secrets(boto_session.client("secretsmanager")), token=EXTENSION_TOKEN)
        )
        env["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] = str(stand_in.port)
        env["AWS_SESSION_TOKEN"] = EXTENSION_TOKEN
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = load_login_app()
    app.service.drop()  # a fresh container
    cold_start.reset_cold_start_flag()  # type: ignore[no-untyped-call]
    handler = app.logger.registered_handler
    assert isinstance(handler, logging.StreamHandler)
    original_stream = handler.stream

    def invoke(event: dict[str, Any]) -> Answer:
        sink = io.StringIO()
        collector = _Collect(sink)
        root = logging.getLogger()
        handler.stream = sink
        root.addHandler(collector)
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
                response: dict[str, Any] = app.lambda_handler(event, FakeLambdaContext())
        finally:
            root.removeHandler(collector)
            handler.stream = original_stream
        return Answer(response, sink.getvalue())

    try:
        yield invoke
    finally:
        handler.stream = sys.stdout
        app.service.drop()
        extension.close()
