"""Unit tests of the breach event schema and its publisher (moto in-process, botocore Stubber)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from aws_lambda_powertools import Metrics
from botocore.exceptions import ClientError, EndpointConnectionError
from botocore.stub import Stubber
from moto import mock_aws

from ropguard.errors import InvalidEventError
from ropguard.security_events import (
    PASSWORD_BREACHED,
    PasswordBreachedEvent,
    PublishPolicy,
    SecurityEventPublisher,
    is_retryable,
)
from tests.emf import metric_totals

REGION = "us-east-1"
USER = "breached.user@example.com"
PASSWORD = "AUTH0-TEST-hunter2-correct-horse"  # never given to the publisher; must never be printed
EXPECTED_KEYS = {"type", "version", "id", "occurred_at", "username", "realm", "source_ip", "request_id"}


@pytest.fixture(autouse=True)
def _register_password(secret_registry: Any) -> None:
    secret_registry.add("password", PASSWORD)


def emitted_metrics(capsys: pytest.CaptureFixture[str]) -> dict[str, float]:
    """Flush the shared Powertools metric set and read the names and values back from the EMF line."""
    Metrics(namespace="RopguardTest").flush_metrics()
    return metric_totals(capsys.readouterr().out)


@pytest.fixture(autouse=True)
def _clean_metrics() -> Iterator[None]:
    """Powertools shares one metric set per process: start empty, leave nothing for the next test."""
    Metrics(namespace="RopguardTest").clear_metrics()
    yield
    Metrics(namespace="RopguardTest").clear_metrics()


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """A topic, the reset queue subscribed with raw delivery and the filter policy, in moto."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        sns = boto3.client("sns", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        topic = sns.create_topic(Name="security-events")["TopicArn"]
        queue = sqs.create_queue(QueueName="password-reset")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        sns.subscribe(
            TopicArn=topic,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes={
                "RawMessageDelivery": "true",
                "FilterPolicyScope": "MessageAttributes",
                "FilterPolicy": json.dumps({"type": [PASSWORD_BREACHED]}),
            },
        )
        yield {"topic": topic, "queue": queue}


def ropguard_logs(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The layer's log records with their structured extras, as Powertools would print them."""
    return [
        {key: value for key, value in vars(record).items() if key not in ("args", "exc_info")}
        for record in caplog.records
        if ".ropguard." in record.name or record.name.startswith("ropguard")
    ]


def received(queue_url: str) -> list[dict[str, Any]]:
    sqs = boto3.client("sqs", region_name=REGION)
    answer = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    return answer.get("Messages", [])


def report(publisher: SecurityEventPublisher, **overrides: Any) -> None:
    fields = {"username": USER, "realm": "Username-Password-Authentication", "source_ip": "203.0.113.7"}
    fields.update(overrides)
    publisher.report_password_breached(request_id="req-1", **fields)


# --- schema ---------------------------------------------------------------------------------------


def test_event_carries_exactly_the_design_fields() -> None:
    event = PasswordBreachedEvent.new(username=USER, realm=None, source_ip="2001:db8::1", request_id="r")
    body = json.loads(event.to_message())
    assert set(body) == EXPECTED_KEYS
    assert body["type"] == "password.breached"
    assert body["version"] == 1
    assert body["source_ip"] == "2001:db8::1"
    assert body["realm"] is None
    assert PasswordBreachedEvent.from_json(event.to_message()) == event


@pytest.mark.parametrize("extra", ["password", "client_secret", "access_token"])
def test_event_refuses_any_other_field(extra: str) -> None:
    body = json.loads(
        PasswordBreachedEvent.new(
            username=USER, realm=None, source_ip="192.0.2.1", request_id="r"
        ).to_message()
    )
    body[extra] = PASSWORD
    with pytest.raises(InvalidEventError):
        PasswordBreachedEvent.from_dict(body)


@pytest.mark.parametrize(
    ("field", "value"),
    [("source_ip", "not-an-ip"), ("username", ""), ("version", 2), ("type", "password.changed")],
)
def test_event_rejects_invalid_values(field: str, value: Any) -> None:
    body = json.loads(
        PasswordBreachedEvent.new(
            username=USER, realm=None, source_ip="192.0.2.1", request_id="r"
        ).to_message()
    )
    body[field] = value
    with pytest.raises(InvalidEventError):
        PasswordBreachedEvent.from_dict(body)


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("source_ip", "not-an-ip", "ip_any_address"),
        ("source_ip", 5, "ip_any_address"),
        ("username", "", "string_too_short"),
        ("username", "u" * 513, "string_too_long"),
        ("username", 5, "string_type"),
        ("realm", "", "string_too_short"),
        ("realm", "r" * 129, "string_too_long"),
        ("request_id", "", "string_too_short"),
        ("request_id", "q" * 257, "string_too_long"),
        ("id", "not-a-uuid", "uuid_parsing"),
        ("occurred_at", "2026-01-01T00:00:00", "timezone_aware"),
        ("occurred_at", "yesterday", "datetime_from_date_parsing"),
        ("version", True, "literal_error"),
        ("version", "1", "literal_error"),
        ("type", "password.changed", "literal_error"),
    ],
)
def test_each_check_names_the_field_and_the_problem(field: str, value: Any, error: str) -> None:
    body = PasswordBreachedEvent.new(
        username=USER, realm="db", source_ip="192.0.2.1", request_id="r"
    ).to_dict()
    body[field] = value
    with pytest.raises(InvalidEventError) as raised:
        PasswordBreachedEvent.from_dict(body)
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [((field,), error)]
    assert str(value) not in str(raised.value) or str(value) in ("", "1", "5", "True")


def test_every_problem_is_reported_at_once() -> None:
    body = PasswordBreachedEvent.new(
        username=USER, realm=None, source_ip="192.0.2.1", request_id="r"
    ).to_dict()
    del body["request_id"]
    body["password"] = PASSWORD
    with pytest.raises(InvalidEventError) as raised:
        PasswordBreachedEvent.from_dict(body)
    assert sorted((e["loc"], e["type"]) for e in raised.value.errors()) == [
        (("password",), "extra_forbidden"),
        (("request_id",), "missing"),
    ]
    assert PASSWORD not in str(raised.value)


def test_only_an_object_is_an_event() -> None:
    with pytest.raises(InvalidEventError) as raised:
        PasswordBreachedEvent.from_dict([])
    assert [(e["loc"], e["type"]) for e in raised.value.errors()] == [((), "model_type")]


def test_the_wire_format_is_unchanged() -> None:
    """The same JSON the pydantic model wrote: field order, compact separators, a "Z" UTC suffix."""
    event = PasswordBreachedEvent.from_dict(
        {
            "id": "259c8230-e0fe-45ab-b105-6ab359cb979c",
            "occurred_at": "2026-12-01T16:20:18.061853Z",
            "username": "u@example.com",
            "realm": None,
            "source_ip": "2001:db8::1",
            "request_id": "r",
        }
    )
    assert event.to_message() == (
        '{"type":"password.breached","version":1,"id":"259c8230-e0fe-45ab-b105-6ab359cb979c",'
        '"occurred_at":"2026-12-01T16:20:18.061853Z","username":"u@example.com","realm":null,'
        '"source_ip":"2001:db8::1","request_id":"r"}'
    )


def test_no_boto3_is_loaded_before_the_first_publish() -> None:
    """A fresh interpreter: importing the publisher and building an event loads neither boto3 nor pydantic."""
    code = (
        "import sys; from ropguard.security_events import PasswordBreachedEvent, SecurityEventPublisher;"
        "SecurityEventPublisher(topic_arn='arn:t', fallback_queue_url='https://q');"
        "PasswordBreachedEvent.new(username='u', realm=None, source_ip='192.0.2.1', request_id='r');"
        "print(sorted(m for m in ('boto3', 'botocore', 'pydantic') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)  # noqa: S603
    assert result.stdout.strip() == "[]"


# --- publisher ------------------------------------------------------------------------------------


def test_publishes_to_sns_with_the_type_attribute(account: dict[str, str], capsys: Any) -> None:
    publisher = SecurityEventPublisher(topic_arn=account["topic"], fallback_queue_url=account["queue"])
    report(publisher)
    [message] = received(account["queue"])
    body = json.loads(message["Body"])  # raw delivery: the body is the event itself
    assert set(body) == EXPECTED_KEYS
    assert body["username"] == USER
    assert body["request_id"] == "req-1"
    assert message["MessageAttributes"]["type"]["StringValue"] == PASSWORD_BREACHED
    assert emitted_metrics(capsys) == {"SecurityEventPublished": 1}


def test_sns_failure_falls_back_to_the_reset_queue(account: dict[str, str], capsys: Any) -> None:
    missing_topic = account["topic"] + "-gone"
    publisher = SecurityEventPublisher(topic_arn=missing_topic, fallback_queue_url=account["queue"])
    assert publisher.publish(
        PasswordBreachedEvent.new(username=USER, realm=None, source_ip="192.0.2.1", request_id="r")
    ) == ("fallback")
    [message] = received(account["queue"])
    assert json.loads(message["Body"])["username"] == USER
    assert message["MessageAttributes"]["type"]["StringValue"] == PASSWORD_BREACHED
    assert emitted_metrics(capsys) == {"SecurityEventFallbackUsed": 1}


def test_both_failing_logs_the_full_event_once_and_counts_it_lost(
    account: dict[str, str], capsys: Any
) -> None:
    publisher = SecurityEventPublisher(
        topic_arn=account["topic"] + "-gone", fallback_queue_url=account["queue"] + "-gone"
    )
    report(publisher)
    assert received(account["queue"]) == []
    metrics = emitted_metrics(capsys)  # reads stdout: Powertools logs are there too
    assert metrics == {"SecurityEventLost": 1}


def test_lost_event_log_line_holds_the_event_for_replay(
    account: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    publisher = SecurityEventPublisher(
        topic_arn=account["topic"] + "-gone", fallback_queue_url=account["queue"] + "-gone"
    )
    lost = PasswordBreachedEvent.new(username=USER, realm=None, source_ip="192.0.2.1", request_id="r-lost")
    assert publisher.publish(lost) == "lost"
    [error] = [line for line in ropguard_logs(caplog) if line["levelname"] == "ERROR"]
    assert PasswordBreachedEvent.from_dict(error["security_event"]) == lost


def test_a_caller_bug_never_raises_into_the_login(
    account: dict[str, str], caplog: pytest.LogCaptureFixture, capsys: Any
) -> None:
    publisher = SecurityEventPublisher(topic_arn=account["topic"], fallback_queue_url=account["queue"])
    report(publisher, source_ip="not-an-ip")
    assert received(account["queue"]) == []
    [error] = [line for line in ropguard_logs(caplog) if line["levelname"] == "ERROR"]
    assert any(item.startswith("source_ip") for item in error["errors"])
    assert "not-an-ip" not in str(error)  # the input is never echoed into the log
    assert emitted_metrics(capsys) == {"SecurityEventLost": 1}


# --- retries within the budget (Stubber stands in for SNS, the publisher runs for real) -----------


class FakeClock:
    """Monotonic time that moves only when the publisher sleeps or a test says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def stubbed_publisher(
    clock: FakeClock, policy: PublishPolicy
) -> tuple[SecurityEventPublisher, Stubber, Stubber]:
    session = boto3.session.Session(region_name=REGION, aws_access_key_id="x", aws_secret_access_key="x")
    publisher = SecurityEventPublisher(
        topic_arn="arn:aws:sns:us-east-1:123456789012:security-events",
        fallback_queue_url="https://sqs.us-east-1.amazonaws.com/123456789012/password-reset",
        policy=policy,
        session=session,
        sleep=clock.sleep,
        clock=clock,
    )
    sns_stub = Stubber(publisher._sns)
    sqs_stub = Stubber(publisher._sqs)
    sns_stub.activate()
    sqs_stub.activate()
    return publisher, sns_stub, sqs_stub


def event() -> PasswordBreachedEvent:
    return PasswordBreachedEvent.new(username=USER, realm=None, source_ip="192.0.2.1", request_id="r")


def test_throttling_is_retried_then_published(capsys: Any) -> None:
    clock = FakeClock()
    publisher, sns, _ = stubbed_publisher(clock, PublishPolicy(sns_attempts=3))
    sns.add_client_error("publish", service_error_code="Throttling", http_status_code=400)
    sns.add_client_error("publish", service_error_code="InternalError", http_status_code=500)
    sns.add_response("publish", {"MessageId": "m-1"})
    assert publisher.publish(event()) == "sns"
    sns.assert_no_pending_responses()
    assert len(clock.sleeps) == 2
    assert emitted_metrics(capsys) == {"SecurityEventPublished": 1}


def test_retries_stop_at_the_attempt_limit_then_fall_back() -> None:
    clock = FakeClock()
    publisher, sns, sqs = stubbed_publisher(clock, PublishPolicy(sns_attempts=2))
    for _ in range(2):
        sns.add_client_error("publish", service_error_code="ServiceUnavailable", http_status_code=503)
    sqs.add_response("send_message", {"MessageId": "m-2", "MD5OfMessageBody": "x"})
    assert publisher.publish(event()) == "fallback"
    sns.assert_no_pending_responses()
    sqs.assert_no_pending_responses()


def test_retries_stop_when_the_budget_would_be_exceeded() -> None:
    clock = FakeClock()
    policy = PublishPolicy(sns_attempts=5, sns_budget_seconds=1.0, connect_timeout=0.3, read_timeout=0.7)
    publisher, sns, sqs = stubbed_publisher(clock, policy)
    # One failed attempt: another one (up to 1 s) plus any backoff no longer fits into 1 s.
    sns.add_client_error("publish", service_error_code="Throttling", http_status_code=400)
    sqs.add_response("send_message", {"MessageId": "m-3", "MD5OfMessageBody": "x"})
    assert publisher.publish(event()) == "fallback"
    assert clock.sleeps == []
    sns.assert_no_pending_responses()


def test_a_permanent_sns_error_goes_to_the_fallback_at_once() -> None:
    clock = FakeClock()
    publisher, sns, sqs = stubbed_publisher(clock, PublishPolicy(sns_attempts=3))
    sns.add_client_error("publish", service_error_code="AuthorizationError", http_status_code=403)
    sqs.add_response("send_message", {"MessageId": "m-4", "MD5OfMessageBody": "x"})
    assert publisher.publish(event()) == "fallback"
    assert clock.sleeps == []


def test_fallback_is_retried_once_on_a_transient_error() -> None:
    clock = FakeClock()
    publisher, sns, sqs = stubbed_publisher(clock, PublishPolicy(sns_attempts=1, fallback_attempts=2))
    sns.add_client_error("publish", service_error_code="InternalError", http_status_code=500)
    sqs.add_client_error("send_message", service_error_code="ServiceUnavailable", http_status_code=503)
    sqs.add_response("send_message", {"MessageId": "m-5", "MD5OfMessageBody": "x"})
    assert publisher.publish(event()) == "fallback"
    sqs.assert_no_pending_responses()


def test_botocore_never_retries_behind_the_budget() -> None:
    config = PublishPolicy().boto_config()
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert config.connect_timeout + config.read_timeout <= PublishPolicy().sns_budget_seconds


def test_from_env_reads_the_template_variables() -> None:
    publisher = SecurityEventPublisher.from_env(
        {"SECURITY_EVENTS_TOPIC_ARN": "arn:t", "PASSWORD_RESET_QUEUE_URL": "https://q"}
    )
    assert (publisher.topic_arn, publisher.fallback_queue_url) == ("arn:t", "https://q")


def test_no_client_is_built_before_the_first_publish() -> None:
    publisher = SecurityEventPublisher(topic_arn="arn:t", fallback_queue_url="https://q")
    assert "_sns" not in vars(publisher)
    assert "_sqs" not in vars(publisher)


def test_retryable_classification() -> None:
    def client_error(code: str, status: int) -> ClientError:
        return ClientError(
            {"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Publish"
        )

    assert is_retryable(EndpointConnectionError(endpoint_url="http://x"))
    assert is_retryable(client_error("Throttling", 400))
    assert is_retryable(client_error("Whatever", 502))
    assert not is_retryable(client_error("NotFound", 404))
    assert not is_retryable(client_error("KMSAccessDenied", 400))


def test_publisher_logs_never_hold_the_username(
    account: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    publisher = SecurityEventPublisher(
        topic_arn=account["topic"] + "-gone", fallback_queue_url=account["queue"]
    )
    report(publisher)
    logs = ropguard_logs(caplog)
    assert [line["msg"] for line in logs] == [
        "SNS publish failed",
        "security event sent to the reset queue directly",
    ]
    assert USER not in str(logs)
