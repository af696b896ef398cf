"""Unit tests of the reset function: the real handler and layer, AWS in moto (in-process), Auth0 on
a loopback pytest-httpserver."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import httpcore
import pytest
from moto import mock_aws
from pytest_httpserver import HTTPServer

from functions.password_reset import app
from ropguard.change_password import (
    CHANGE_PASSWORD_PATH,
    ChangePasswordClient,
    PermanentResetError,
    TransientResetError,
)
from ropguard.outbound import Origin, Timeouts
from ropguard.password_reset import address_of, parse_event
from tests.emf import metric_totals
from tests.fixtures.raw_http import FlakyNetwork

REGION = "us-east-1"
CONNECTION = "Username-Password-Authentication"
CLIENT_ID = "reset-client-id-123"
CLIENT_SECRET = "reset-client-secret-0123456789abcdef"
PASSWORD = "AUTH0-TEST-breached-Passw0rd!"
MAX_RECEIVES = 3
SENT = "We've just sent you an email to reset your password."


@dataclass
class Env:
    table: str
    dlq_url: str
    auth0: HTTPServer


class FakeContext:
    """What the Lambda runtime passes; only the fields Powertools reads."""

    function_name = "PasswordResetFunction"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:PasswordResetFunction"
    aws_request_id = "lambda-request-1"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


@pytest.fixture(autouse=True)
def _register_secrets(secret_registry: Any) -> None:
    secret_registry.add("password", PASSWORD)
    secret_registry.add("client_secret", CLIENT_SECRET)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, httpserver: HTTPServer) -> Iterator[Env]:
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(app.metrics, "namespace", "RopguardTest")
    app.metrics.clear_metrics()  # the set is shared process-wide; start from nothing
    with mock_aws():
        secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
            Name="auth0", SecretString=json.dumps({"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
        )["ARN"]
        dynamodb = boto3.client("dynamodb", region_name=REGION)
        dynamodb.create_table(
            TableName="idempotency",
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            BillingMode="PAY_PER_REQUEST",
        )
        dlq = boto3.client("sqs", region_name=REGION).create_queue(QueueName="password-reset-dlq")["QueueUrl"]
        for key, value in {
            "AUTH0_DOMAIN": f"http://127.0.0.1:{httpserver.port}",
            "AUTH0_SECRET_ID": secret,
            "AUTH0_CONNECTION": CONNECTION,
            "IDEMPOTENCY_TABLE_NAME": "idempotency",
            "RESET_WINDOW_SECONDS": "3600",
            "PASSWORD_RESET_DLQ_URL": dlq,
            "PASSWORD_RESET_MAX_RECEIVE_COUNT": str(MAX_RECEIVES),
        }.items():
            monkeypatch.setenv(key, value)
        app.service.drop()
        try:
            yield Env(table="idempotency", dlq_url=dlq, auth0=httpserver)
        finally:
            app.service.drop()


def breach(username: str = "Breached.User@example.com", **overrides: Any) -> dict[str, Any]:
    body = {
        "type": "password.breached",
        "version": 1,
        "id": str(uuid.uuid4()),
        "occurred_at": datetime.now(UTC).isoformat(),
        "username": username,
        "realm": CONNECTION,
        "source_ip": "203.0.113.9",
        "request_id": f"req-{uuid.uuid4()}",
    }
    body.update(overrides)
    return body


def record(
    body: dict[str, Any] | str, *, receive_count: int = 1, message_id: str | None = None
) -> dict[str, Any]:
    """An SQS record as Lambda's event source mapping delivers it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "handle",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": "1700000000000",
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": "1700000000001",
        },
        "messageAttributes": {"type": {"stringValue": "password.breached", "dataType": "String"}},
        "md5OfBody": "0" * 32,
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:password-reset",
        "awsRegion": REGION,
    }


def invoke(*records: dict[str, Any]) -> list[str]:
    """Runs the real handler; returns the ids of the records reported as failed."""
    answer = app.lambda_handler({"Records": list(records)}, FakeContext())
    return [item["itemIdentifier"] for item in answer["batchItemFailures"]]


def auth0_answers(server: HTTPServer, *statuses: int) -> None:
    """Auth0 answers the given statuses once each, in order, then 200 for ever."""
    for status in statuses:
        server.expect_ordered_request(CHANGE_PASSWORD_PATH, method="POST").respond_with_data(
            "boom", status=status
        )
    server.expect_request(CHANGE_PASSWORD_PATH, method="POST").respond_with_data(SENT)


def reset_calls(server: HTTPServer) -> list[dict[str, Any]]:
    return [
        json.loads(request.get_data()) for request, _ in server.log if request.path == CHANGE_PASSWORD_PATH
    ]


def dead_letters(dlq_url: str) -> list[dict[str, Any]]:
    answer = boto3.client("sqs", region_name=REGION).receive_message(
        QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    )
    return answer.get("Messages", [])


def outcome_metrics(out: str) -> dict[str, float]:
    """The reset outcomes' metrics; ``ColdStart`` comes with whichever test runs the handler first."""
    return {name: value for name, value in metric_totals(out).items() if name != "ColdStart"}


def logs(caplog: pytest.LogCaptureFixture) -> str:
    """Every log record with its structured extras, as one string to search."""
    return json.dumps(
        [{k: v for k, v in vars(r).items() if k not in ("args", "exc_info")} for r in caplog.records],
        default=str,
    )


# --- the happy path and the window ----------------------------------------------------------------


def test_one_event_asks_auth0_for_one_reset_email(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    auth0_answers(env.auth0)
    assert invoke(record(breach())) == []
    assert reset_calls(env.auth0) == [
        {"email": "Breached.User@example.com", "connection": CONNECTION, "client_id": CLIENT_ID}
    ]
    assert outcome_metrics(capsys.readouterr().out) == {"ResetRequested": 1}


def test_ten_events_for_one_user_send_one_email(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    auth0_answers(env.auth0)
    users = ["breached.user@example.com", "BREACHED.USER@example.com", " breached.user@EXAMPLE.com "]
    assert invoke(*(record(breach(users[i % 3])) for i in range(10))) == []
    assert len(reset_calls(env.auth0)) == 1
    assert outcome_metrics(capsys.readouterr().out) == {"ResetRequested": 1, "ResetDeduplicated": 9}


def test_a_duplicate_delivery_sends_nothing_twice(env: Env, capsys: pytest.CaptureFixture[str]) -> None:
    auth0_answers(env.auth0)
    same = record(breach(), message_id="sqs-message-1")
    assert invoke(same) == []
    assert invoke(same) == []
    assert len(reset_calls(env.auth0)) == 1
    assert outcome_metrics(capsys.readouterr().out) == {"ResetRequested": 1, "ResetDeduplicated": 1}


def test_different_users_each_get_their_email(env: Env) -> None:
    auth0_answers(env.auth0)
    assert invoke(record(breach("a@example.com")), record(breach("b@example.com"))) == []
    assert sorted(call["email"] for call in reset_calls(env.auth0)) == ["a@example.com", "b@example.com"]


def test_after_the_window_a_new_email_is_sent(env: Env) -> None:
    auth0_answers(env.auth0)
    assert invoke(record(breach())) == []
    # Let the window pass: age the idempotency record as time would.
    table = boto3.resource("dynamodb", region_name=REGION).Table(env.table)
    [item] = table.scan()["Items"]
    table.update_item(
        Key={"id": item["id"]},
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": 1},
    )
    assert invoke(record(breach())) == []
    assert len(reset_calls(env.auth0)) == 2


def test_the_idempotency_key_is_a_hash_not_the_email(env: Env) -> None:
    auth0_answers(env.auth0)
    invoke(record(breach()))
    items = boto3.resource("dynamodb", region_name=REGION).Table(env.table).scan()["Items"]
    assert "breached.user" not in json.dumps(items, default=str).lower()


# --- transient failures: retried by SQS, never blocked by the idempotency record ------------------


@pytest.mark.parametrize("status", [500, 503, 429])
def test_transient_auth0_failure_is_retried_then_delivered(
    env: Env, status: int, capsys: pytest.CaptureFixture[str]
) -> None:
    auth0_answers(env.auth0, status)
    failing = record(breach(), message_id="m-transient")
    neighbour = record(breach("other@example.com"))
    assert invoke(failing, neighbour) == ["m-transient"]  # only it goes back to the queue
    redelivered = record(json.loads(failing["body"]), message_id="m-transient", receive_count=2)
    assert invoke(redelivered) == []  # Powertools deleted the in-progress record on failure
    emails = [call["email"] for call in reset_calls(env.auth0)]
    assert emails == ["Breached.User@example.com", "other@example.com", "Breached.User@example.com"]
    assert outcome_metrics(capsys.readouterr().out) == {"ResetRetried": 1, "ResetRequested": 2}
    assert dead_letters(env.dlq_url) == []


def test_transient_failure_on_the_last_receive_is_dead_lettered_with_its_reason(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    auth0_answers(env.auth0, 503)
    assert invoke(record(breach(), receive_count=MAX_RECEIVES)) == []
    [dead] = dead_letters(env.dlq_url)
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "retries_exhausted:auth0_status_503"
    assert dead["MessageAttributes"]["type"]["StringValue"] == "password.breached"
    assert outcome_metrics(capsys.readouterr().out) == {"ResetDeadLettered": 1}


def test_a_missing_secret_is_transient(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    auth0_answers(env.auth0)
    monkeypatch.setenv("AUTH0_SECRET_ID", "no-such-secret")
    app.service.drop()
    assert invoke(record(breach(), message_id="m-secret")) == ["m-secret"]
    assert reset_calls(env.auth0) == []


# --- permanent failures: straight to the DLQ with a reason, neighbours unaffected -----------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("not json at all", "invalid_event:not_json"),
        ("[]", "invalid_event:body:model_type"),
        (json.dumps(breach(password=PASSWORD)), "invalid_event:password:extra_forbidden"),
        (json.dumps(breach(version=2)), "invalid_event:version:literal_error"),
        ("[" * 100_000, "invalid_event:nested_too_deep"),
        (json.dumps({"Type": "Notification", "Message": "[" * 100_000}), "invalid_event:nested_too_deep"),
        (json.dumps(breach(realm="other-connection")), "realm_not_reset_connection"),
    ],
)
def test_poison_records_are_dead_lettered_and_never_fail_their_neighbours(
    env: Env, body: str, reason: str, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    auth0_answers(env.auth0)
    assert invoke(record(body), record(breach("good@example.com"))) == []
    [dead] = dead_letters(env.dlq_url)
    assert dead["Body"] == body
    assert dead["MessageAttributes"]["reason"]["StringValue"] == reason
    assert [call["email"] for call in reset_calls(env.auth0)] == ["good@example.com"]
    assert outcome_metrics(capsys.readouterr().out) == {"ResetDeadLettered": 1, "ResetRequested": 1}
    assert f'"reason": "{reason}"' in logs(caplog)


def test_auth0_rejecting_the_request_is_permanent(env: Env) -> None:
    env.auth0.expect_request(CHANGE_PASSWORD_PATH, method="POST").respond_with_json(
        {"error": "bad.connection", "error_description": "echoes Breached.User@example.com"}, status=400
    )
    assert invoke(record(breach())) == []
    [dead] = dead_letters(env.dlq_url)
    assert dead["MessageAttributes"]["reason"]["StringValue"] == "auth0_status_400:bad.connection"


def test_if_the_dlq_is_unreachable_the_record_returns_to_the_queue(
    env: Env, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PASSWORD_RESET_DLQ_URL", env.dlq_url + "-gone")
    app.service.drop()
    assert invoke(record("garbage", message_id="m-poison")) == ["m-poison"]  # SQS redrive takes over
    assert outcome_metrics(capsys.readouterr().out) == {"ResetRetried": 1}


def test_an_sns_envelope_body_is_unwrapped(env: Env) -> None:
    auth0_answers(env.auth0)
    envelope = {"Type": "Notification", "MessageId": "n-1", "Message": json.dumps(breach("sns@example.com"))}
    assert invoke(record(envelope)) == []
    assert [call["email"] for call in reset_calls(env.auth0)] == ["sns@example.com"]


def test_logs_carry_no_password_or_secret(
    env: Env, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    auth0_answers(env.auth0)
    invoke(record(json.dumps(breach(password=PASSWORD))), record(breach()))
    printed = capsys.readouterr().out + logs(caplog)
    assert "password reset dead-lettered" in printed
    assert "password reset email requested" in printed
    assert PASSWORD not in printed
    assert CLIENT_SECRET not in printed


# --- building blocks ------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["a@b.co", "first.last+tag@sub.example.org", " a@b.co "])
def test_email_addresses_are_accepted(username: str) -> None:
    assert address_of(username) == username.strip()


@pytest.mark.parametrize("username", ["alice", "a@b", "@b.co", "a@.co", "a b@c.co", "a@b.co."])
def test_usernames_that_are_not_addresses_are_told_apart(username: str) -> None:
    assert address_of(username) is None


def test_parse_event_accepts_the_raw_body() -> None:
    body = breach()
    assert str(parse_event(json.dumps(body)).id) == body["id"]


def _client(base_url: str, **options: Any) -> ChangePasswordClient:
    return ChangePasswordClient(Origin(base_url, Timeouts(2, 0.05), **options))


@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        ("silent", "auth0_timeout"),
        (httpcore.ConnectTimeout, "auth0_timeout"),
        (httpcore.ConnectError, "auth0_unreachable:ConnectError"),
    ],
)
def test_network_failures_are_transient(failure: Any, reason: str) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:
        base_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        network = None if failure == "silent" else FlakyNetwork(failures=1, error=failure)
        with pytest.raises(TransientResetError) as caught:
            _client(base_url, network=network).request_reset(
                email="a@b.co", connection=CONNECTION, client_id=CLIENT_ID
            )
    assert caught.value.reason == reason


@pytest.mark.parametrize(
    ("status", "permanent"), [(400, True), (401, True), (403, True), (429, False), (502, False)]
)
def test_status_classification(status: int, permanent: bool, httpserver: HTTPServer) -> None:
    httpserver.expect_request(CHANGE_PASSWORD_PATH).respond_with_data("no", status=status)
    client = _client(httpserver.url_for("").rstrip("/"))
    expected = PermanentResetError if permanent else TransientResetError
    with pytest.raises(expected):
        client.request_reset(email="a@b.co", connection=CONNECTION, client_id=CLIENT_ID)


def test_the_sam_local_invoke_payload_is_a_valid_breach_event(env: Env) -> None:
    """events/sqs-password-breached.json (for `sam local invoke PasswordResetFunction`) works as is."""
    auth0_answers(env.auth0)
    event = json.loads(
        (Path(__file__).resolve().parents[2] / "events/sqs-password-breached.json").read_text()
    )
    answer = app.lambda_handler(event, FakeContext())
    assert answer["batchItemFailures"] == []
    assert [call["email"] for call in reset_calls(env.auth0)] == ["bob@example.com"]


def test_a_misconfigured_function_returns_every_record_without_a_stack_trace(
    env: Env,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("IDEMPOTENCY_TABLE_NAME")
    app.service.drop()
    assert invoke(record(breach(), message_id="m-1"), record(breach(), message_id="m-2")) == ["m-1", "m-2"]
    assert outcome_metrics(capsys.readouterr().out) == {"ConfigurationInvalid": 1}
    assert '"variable": "IDEMPOTENCY_TABLE_NAME"' in logs(caplog)
    assert reset_calls(env.auth0) == []


# --- finished without an email: no such user, or a username nobody can look up --------------------


MANAGEMENT_ID = "management-client-id"
MANAGEMENT_SECRET = "management-client-secret-never-log"
MANAGEMENT_TOKEN = "management-token-never-log"


def test_user_not_found_is_finished_without_retry_or_dlq(
    env: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    env.auth0.expect_request(CHANGE_PASSWORD_PATH, method="POST").respond_with_json(
        {"error": "user_not_found", "error_description": "User not found"}, status=404
    )
    assert invoke(record(breach(), receive_count=1)) == []
    assert dead_letters(env.dlq_url) == []
    assert len(reset_calls(env.auth0)) == 1
    assert outcome_metrics(capsys.readouterr().out) == {"ResetUserNotFound": 1}


def test_a_username_without_a_management_credential_is_skipped_not_dead_lettered(
    env: Env, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    auth0_answers(env.auth0)
    assert invoke(record(breach("not-an-email")), record(breach("good@example.com"))) == []
    assert dead_letters(env.dlq_url) == []
    assert [call["email"] for call in reset_calls(env.auth0)] == ["good@example.com"]
    assert outcome_metrics(capsys.readouterr().out) == {"ResetSkipped": 1, "ResetRequested": 1}
    assert "no management credential is configured" in logs(caplog)


@pytest.fixture
def management(env: Env, monkeypatch: pytest.MonkeyPatch, secret_registry: Any) -> HTTPServer:
    """A management credential configured, and the tenant's token and user search on the stand-in."""
    secret_registry.add("management secret", MANAGEMENT_SECRET, MANAGEMENT_TOKEN)
    secret = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="auth0-management",
        SecretString=json.dumps({"client_id": MANAGEMENT_ID, "client_secret": MANAGEMENT_SECRET}),
    )["ARN"]
    monkeypatch.setenv("AUTH0_MANAGEMENT_SECRET_ID", secret)
    app.service.drop()
    env.auth0.expect_request("/oauth/token", method="POST").respond_with_json(
        {"access_token": MANAGEMENT_TOKEN, "token_type": "Bearer", "expires_in": 86400}
    )
    return env.auth0


def test_a_username_is_looked_up_through_the_management_api(
    env: Env, management: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    management.expect_request("/api/v2/users", method="GET").respond_with_json([{"email": "bob@example.com"}])
    auth0_answers(env.auth0)
    assert invoke(record(breach("bob")), record(breach('eve"quoted'))) == []

    searches = [request for request, _ in management.log if request.path == "/api/v2/users"]
    assert [request.args["q"] for request in searches] == [
        f'username:"bob" AND identities.connection:"{CONNECTION}"',
        f'username:"eve\\"quoted" AND identities.connection:"{CONNECTION}"',
    ]
    assert {request.args["search_engine"] for request in searches} == {"v3"}
    assert {request.headers["Authorization"] for request in searches} == {f"Bearer {MANAGEMENT_TOKEN}"}
    [token_request] = [request for request, _ in management.log if request.path == "/oauth/token"]
    assert json.loads(token_request.get_data())["audience"] == f"http://127.0.0.1:{management.port}/api/v2/"
    # Both names found bob's address: one email in the window.
    assert [call["email"] for call in reset_calls(env.auth0)] == ["bob@example.com"]
    assert outcome_metrics(capsys.readouterr().out) == {"ResetRequested": 1, "ResetDeduplicated": 1}


def test_a_username_the_connection_does_not_know_is_finished(
    env: Env, management: HTTPServer, capsys: pytest.CaptureFixture[str]
) -> None:
    management.expect_request("/api/v2/users", method="GET").respond_with_json([])
    assert invoke(record(breach("nobody"))) == []
    assert reset_calls(env.auth0) == []
    assert dead_letters(env.dlq_url) == []
    assert outcome_metrics(capsys.readouterr().out) == {"ResetUserNotFound": 1}


def test_a_failing_lookup_is_retried(env: Env, management: HTTPServer) -> None:
    management.expect_request("/api/v2/users", method="GET").respond_with_data("busy", status=503)
    assert invoke(record(breach("bob"), message_id="m-lookup")) == ["m-lookup"]
    assert reset_calls(env.auth0) == []
