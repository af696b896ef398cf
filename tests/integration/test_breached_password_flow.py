"""Breached password, end to end on real loopback servers.

The template's own resources (KMS key, topic, reset queue + DLQ, raw-delivery subscription with its
filter policy, idempotency table, secret) are created in moto's server by the offline stack's
template reader, and each function gets exactly the environment template.yaml gives it. The real
login handler answers a breached login from the Auth0 emulator; its publisher sends the event
through SNS; a small event-source loop feeds the queue to the real reset handler, which asks the
emulator for the reset email. Emails are counted in the emulator's outbox.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from benchmarks.loopback_extension import LoopbackExtension
from functions.password_reset import app as reset_app
from ropguard.security_events import SecurityEventPublisher
from ropguard_offline.aws_resources import AwsEndpoint, create_resources
from ropguard_offline.queue_runner import sqs_event
from tests.emf import metric_totals
from tests.fixtures.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_USERS, EmulatorHandle
from tests.fixtures.login import FakeLambdaContext, http_api_event, load_login_app

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
REGION = "us-east-1"
EXTENSION_TOKEN = "session-token-breach-flow-never-log-me"
RESOURCES = ("SecurityEventsTopic", "PasswordResetQueue", "PasswordResetDeadLetterQueue", "IdempotencyTable")
BOB_EMAIL, BOB_PASSWORD = DEMO_USERS["bob"]  # the demo tenant's breached user
ALICE_EMAIL, ALICE_PASSWORD = DEMO_USERS["alice"]


class ResetContext:
    function_name = "PasswordResetFunction"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:PasswordResetFunction"
    aws_request_id = "reset-invocation"

    def get_remaining_time_in_millis(self) -> int:
        return 90_000


@dataclass
class Stack:
    """The template's resources in moto, the two functions' environments, and the emulator."""

    resources: dict[str, str]
    login_env: dict[str, str]
    reset_env: dict[str, str]
    auth0: EmulatorHandle
    monkeypatch: pytest.MonkeyPatch
    login_app: ModuleType
    sqs: Any = field(repr=False)
    sns: Any = field(repr=False)

    @property
    def queue_url(self) -> str:
        return self.resources["PasswordResetQueue"]

    @property
    def dlq_url(self) -> str:
        return self.resources["PasswordResetDeadLetterQueue"]

    @contextlib.contextmanager
    def running(self, environment: dict[str, str]) -> Iterator[None]:
        """One function's environment, as Lambda gives it (the other function's is absent)."""
        with pytest.MonkeyPatch.context() as patch:
            for name in set(self.login_env) | set(self.reset_env):
                patch.delenv(name, raising=False)
            for name, value in environment.items():
                patch.setenv(name, value)
            patch.setenv("POWERTOOLS_TRACE_DISABLED", "1")
            yield

    def login(self, username: str, password: str, *, source_ip: str, request_id: str) -> dict[str, Any]:
        event = http_api_event(
            json.dumps({"username": username, "password": password}),
            source_ip=source_ip,
            request_id=request_id,
        )
        with self.running(self.login_env):
            response: dict[str, Any] = self.login_app.lambda_handler(event, FakeLambdaContext())
        return response

    def queued(self) -> list[dict[str, Any]]:
        """Receive what is visible now (each receive counts, as in SQS)."""
        answer = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=int(self.reset_batch_size),
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages", []))

    @property
    def reset_batch_size(self) -> int:
        return 5  # asserted against the template in tests/template/test_events_template.py

    def deliver(self, messages: list[dict[str, Any]]) -> list[str]:
        """What the event source mapping does with one batch: invoke, delete the successes, and make
        the failures visible again at once (standing in for the visibility timeout running out)."""
        queue_arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        with self.running(self.reset_env):
            answer = reset_app.lambda_handler(sqs_event(messages, queue_arn, REGION), ResetContext())
        failed = {item["itemIdentifier"] for item in answer["batchItemFailures"]}
        for message in messages:
            if message["MessageId"] in failed:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        return sorted(failed)

    def drain(self, max_batches: int = 50) -> None:
        for _ in range(max_batches):
            messages = self.queued()
            if not messages:
                return
            self.deliver(messages)
        pytest.fail("the reset queue did not drain")

    def reset_emails(self, to: str | None = None) -> list[dict[str, Any]]:
        return [
            email
            for email in self.auth0.outbox()
            if email["kind"] == "reset_password" and (to is None or email["to"] == to)
        ]

    def dead_letters(self) -> list[dict[str, Any]]:
        answer = self.sqs.receive_message(
            QueueUrl=self.dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
        )
        return list(answer.get("Messages", []))


@pytest.fixture
def stack(
    aws: str, auth0_emulator: EmulatorHandle, monkeypatch: pytest.MonkeyPatch, secret_registry: Any
) -> Iterator[Stack]:
    secret_registry.add("password", BOB_PASSWORD, ALICE_PASSWORD)
    secret_registry.add("client secret", DEMO_CLIENT_SECRET)
    secret_registry.add("session token", EXTENSION_TOKEN)
    client = json.dumps({"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET})
    template = create_resources(
        ROOT / "template.yaml",
        AwsEndpoint(aws, REGION),
        {"Auth0Domain": auth0_emulator.base_url},
        secret_strings=lambda _: {"Auth0ClientSecret": client},
    )
    functions = {spec.logical_id: spec for spec in template.functions}
    login_env = dict(functions["LoginFunction"].environment)
    reset_env = dict(functions["PasswordResetFunction"].environment)
    # The template attaches the Parameters and Secrets extension : a loopback
    # stand-in backed by moto serves it, with the token check, as Lambda's layer would.
    session = boto3.session.Session(region_name=REGION)
    secrets = session.client("secretsmanager")

    def from_moto(secret_id: str, stage: str) -> dict[str, Any] | None:
        answer = secrets.get_secret_value(SecretId=secret_id, VersionStage=stage)
        return {"Name": answer["Name"], "SecretString": answer["SecretString"], "VersionStages": [stage]}

    extension = LoopbackExtension(from_moto, token=EXTENSION_TOKEN).__enter__()
    for env in (login_env, reset_env):
        if "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT" in env:
            env["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] = str(extension.port)
            env["AWS_SESSION_TOKEN"] = EXTENSION_TOKEN
    with pytest.MonkeyPatch.context() as patch:  # the login module reads its namespace at import
        patch.setenv("POWERTOOLS_METRICS_NAMESPACE", login_env["POWERTOOLS_METRICS_NAMESPACE"])
        login_app = load_login_app()
    monkeypatch.setattr(login_app.metrics, "namespace", login_env["POWERTOOLS_METRICS_NAMESPACE"])
    monkeypatch.setattr(reset_app.metrics, "namespace", reset_env["POWERTOOLS_METRICS_NAMESPACE"])
    login_app.service.drop()
    reset_app.service.drop()
    reset_app.metrics.clear_metrics()  # one metric set per process: count only this test's
    cold_start.reset_cold_start_flag()
    try:
        yield Stack(
            resources={logical_id: template.physical(logical_id) for logical_id in RESOURCES},
            login_env=login_env,
            reset_env=reset_env,
            auth0=auth0_emulator,
            monkeypatch=monkeypatch,
            login_app=login_app,
            sqs=session.client("sqs"),
            sns=session.client("sns"),
        )
    finally:
        login_app.service.drop()
        reset_app.service.drop()
        extension.__exit__(None, None, None)


def assert_password_leaked(response: dict[str, Any]) -> None:
    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "password_leaked"


def closed_loopback_port() -> int:
    """A port nothing listens on (bound to port 0, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --- the story --------------------------------------------------------------------------------------


def test_one_breached_login_sends_exactly_one_reset_email(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_password_leaked(
        stack.login(BOB_EMAIL, BOB_PASSWORD, source_ip="198.51.100.10", request_id="req-bob-1")
    )
    [message] = stack.queued()  # delivered by SNS through the template's subscription
    body = json.loads(message["Body"])  # raw delivery: the body is the event
    assert set(body) == {
        "type",
        "version",
        "id",
        "occurred_at",
        "username",
        "realm",
        "source_ip",
        "request_id",
    }
    assert (body["username"], body["source_ip"], body["request_id"]) == (
        BOB_EMAIL,
        "198.51.100.10",
        "req-bob-1",
    )
    assert message["MessageAttributes"]["type"]["StringValue"] == "password.breached"

    assert stack.deliver([message]) == []
    stack.drain()
    assert [email["to"] for email in stack.reset_emails()] == [BOB_EMAIL]
    assert stack.dead_letters() == []
    out = capsys.readouterr().out
    assert BOB_PASSWORD not in out
    assert DEMO_CLIENT_SECRET not in out
    metrics = metric_totals(out)
    assert metrics["SecurityEventPublished"] == 1
    assert metrics["ResetRequested"] == 1
    assert "SecurityEventFallbackUsed" not in metrics


def test_ten_breached_logins_of_one_user_in_the_window_send_one_email(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    for attempt in range(10):  # ten addresses: brute-force protection counts per user and IP
        response = stack.login(
            BOB_EMAIL, BOB_PASSWORD, source_ip=f"198.51.100.{20 + attempt}", request_id=f"req-bob-{attempt}"
        )
        assert_password_leaked(response)
    stack.drain()
    assert len(stack.reset_emails(BOB_EMAIL)) == 1
    metrics = metric_totals(capsys.readouterr().out)
    assert metrics["SecurityEventPublished"] == 10
    assert (metrics["ResetRequested"], metrics["ResetDeduplicated"]) == (1, 9)


def test_a_good_login_publishes_nothing(stack: Stack) -> None:
    assert (
        stack.login(ALICE_EMAIL, ALICE_PASSWORD, source_ip="198.51.100.5", request_id="r")["statusCode"]
        == 200
    )
    assert stack.queued() == []


def test_a_login_from_an_address_bot_detection_finds_risky_is_passed_on_and_publishes_nothing(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    """Bot Detection by the end user's address (the demo tenant lists 192.0.2.66): the handler
    forwards it, Auth0 answers 401 ``requires_verification``, the client gets it as is. The offline
    stack's clients cannot send from that address (its API sees loopback peers), this event can."""
    response = stack.login(ALICE_EMAIL, ALICE_PASSWORD, source_ip="192.0.2.66", request_id="req-bot")

    assert response["statusCode"] == 401
    assert json.loads(response["body"])["error"] == "requires_verification"
    [record] = stack.auth0.token_requests()
    assert (record["attributed_ip"], record["error"]) == ("192.0.2.66", "requires_verification")
    assert metric_totals(capsys.readouterr().out).get("LoginVerificationRequired") == 1
    assert stack.queued() == []


def test_the_filter_policy_keeps_other_event_types_out_of_the_reset_queue(stack: Stack) -> None:
    topic = stack.resources["SecurityEventsTopic"]
    stack.sns.publish(
        TopicArn=topic,
        Message="{}",
        MessageAttributes={"type": {"DataType": "String", "StringValue": "password.changed"}},
    )
    stack.sns.publish(TopicArn=topic, Message="{}")
    assert stack.queued() == []


# --- SNS down ---------------------------------------------------------------------------------------


def test_sns_missing_topic_still_delivers_through_the_fallback(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.login_env["SECURITY_EVENTS_TOPIC_ARN"] = stack.resources["SecurityEventsTopic"] + "-deleted"
    assert_password_leaked(
        stack.login(BOB_EMAIL, BOB_PASSWORD, source_ip="198.51.100.30", request_id="req-fb")
    )
    stack.drain()
    assert len(stack.reset_emails(BOB_EMAIL)) == 1
    metrics = metric_totals(capsys.readouterr().out)
    assert metrics["SecurityEventFallbackUsed"] == 1
    assert "SecurityEventPublished" not in metrics


def test_sns_unreachable_is_retried_within_the_budget_then_falls_back(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # SNS alone points at a dead loopback endpoint; SQS (the fallback) still reaches moto.
    stack.login_env["AWS_ENDPOINT_URL_SNS"] = f"http://127.0.0.1:{closed_loopback_port()}"
    assert_password_leaked(
        stack.login(BOB_EMAIL, BOB_PASSWORD, source_ip="198.51.100.31", request_id="req-dead")
    )
    stack.drain()
    assert len(stack.reset_emails(BOB_EMAIL)) == 1
    out = capsys.readouterr().out
    assert out.count('"message":"SNS publish failed"') == 3  # PublishPolicy.sns_attempts
    assert metric_totals(out)["SecurityEventFallbackUsed"] == 1


# --- failures on the reset side --------------------------------------------------------------------


def test_auth0_5xx_on_change_password_is_retried_and_delivered(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stack.auth0.inject_fault(route="/dbconnections/change_password", status=503)
    assert_password_leaked(
        stack.login(BOB_EMAIL, BOB_PASSWORD, source_ip="198.51.100.40", request_id="req-5xx")
    )
    [message] = stack.queued()
    assert stack.deliver([message]) == [message["MessageId"]]  # back to the queue
    assert stack.reset_emails() == []
    stack.drain()  # the redelivery; the idempotency record of the failure did not block it
    assert len(stack.reset_emails(BOB_EMAIL)) == 1
    assert stack.dead_letters() == []
    metrics = metric_totals(capsys.readouterr().out)
    assert (metrics["ResetRetried"], metrics["ResetRequested"]) == (1, 1)


def test_a_poison_message_reaches_the_dlq_and_its_neighbour_is_served(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    poison = json.dumps(
        {"type": "password.breached", "version": 1, "username": BOB_EMAIL, "password": BOB_PASSWORD}
    )
    stack.sns.publish(
        TopicArn=stack.resources["SecurityEventsTopic"],
        Message=poison,
        MessageAttributes={"type": {"DataType": "String", "StringValue": "password.breached"}},
    )
    assert_password_leaked(
        stack.login(BOB_EMAIL, BOB_PASSWORD, source_ip="198.51.100.50", request_id="req-ok")
    )
    messages = stack.queued()
    assert len(messages) == 2
    assert stack.deliver(messages) == []  # the poison is dead-lettered, not retried
    [dead] = stack.dead_letters()
    assert dead["Body"] == poison
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith("invalid_event:")
    assert len(stack.reset_emails(BOB_EMAIL)) == 1
    out = capsys.readouterr().out
    assert BOB_PASSWORD not in out  # the poison carried one; no log line repeats it
    assert metric_totals(out)["ResetDeadLettered"] == 1


def test_a_username_that_is_not_an_email_is_skipped_without_a_management_credential(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    # The emulator's users are all emails, so the publisher the login function uses reports one.
    with stack.running(stack.login_env):
        SecurityEventPublisher.from_env().report_password_breached(
            username="bob", realm=None, source_ip="198.51.100.60", request_id="req-name"
        )
    stack.drain()
    assert stack.dead_letters() == []  # not dead-lettered: a redrive would fail the same way
    assert stack.reset_emails() == []
    assert metric_totals(capsys.readouterr().out)["ResetSkipped"] == 1


def test_a_transient_failure_that_never_ends_is_dead_lettered_on_the_last_receive(stack: Stack) -> None:
    max_receives = int(stack.reset_env["PASSWORD_RESET_MAX_RECEIVE_COUNT"])
    stack.auth0.inject_fault(route="/dbconnections/change_password", status=503, count=max_receives)
    assert_password_leaked(
        stack.login(BOB_EMAIL, BOB_PASSWORD, source_ip="198.51.100.70", request_id="req-x")
    )
    stack.drain()
    [dead] = stack.dead_letters()
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "retries_exhausted:auth0_status_503"
    assert stack.reset_emails() == []


def test_a_duplicate_delivery_of_one_sqs_message_sends_no_second_email(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    assert_password_leaked(
        stack.login(BOB_EMAIL, BOB_PASSWORD, source_ip="198.51.100.80", request_id="req-dup")
    )
    [message] = stack.queued()
    assert stack.deliver([message]) == []
    assert stack.deliver([message]) == []  # SQS is at-least-once: the same message again
    assert len(stack.reset_emails(BOB_EMAIL)) == 1
    metrics = metric_totals(capsys.readouterr().out)
    assert (metrics["ResetRequested"], metrics["ResetDeduplicated"]) == (1, 1)


def test_the_lambda_context_bounds_the_in_progress_record(stack: Stack) -> None:
    """A crashed invocation must not block the user for the whole window (Powertools docs)."""
    assert_password_leaked(
        stack.login(BOB_EMAIL, BOB_PASSWORD, source_ip="198.51.100.90", request_id="req-ctx")
    )
    stack.drain()
    table = boto3.resource("dynamodb", region_name=REGION).Table(stack.resources["IdempotencyTable"])
    [item] = table.scan()["Items"]
    assert item["status"] == "COMPLETED"
    assert "in_progress_expiration" in item
    assert BOB_EMAIL.lower() not in json.dumps(item, default=str).lower()  # the key is a hash
