"""Faults in Auth0 (the emulator's injected faults) and in AWS (moto), through the offline stack.

For each fault the client gets the answer the design's table gives, and a fault never turns one
login into two grants at Auth0. For breached logins, the reset emails in the emulator's outbox are
exactly the distinct breached users: nothing lost, nothing doubled.

Tests that break the stack's AWS resources, or need a read timeout shorter than the template's
8 s, run on a stack of their own (``AUTH0_READ_TIMEOUT_SECONDS`` overridden the way
``StackConfig.environment_overrides`` offers), and put every resource back afterwards.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from ropguard_offline.aws_resources import create_subscription
from ropguard_offline.stack import OfflineStack, Ports, StackConfig
from tests.fixtures.emulator import DEMO_USERS
from tests.fixtures.offline_stack import fresh
from tests.integration.stack_client import RESET_QUEUE, StackClient, breached_event, type_attribute

pytestmark = pytest.mark.integration

ALICE = DEMO_USERS["alice"]
BOB = DEMO_USERS["bob"]
CAROL = DEMO_USERS["carol"]
#: Short enough to test quickly, long enough that a loaded CI machine answers a normal login in time.
SHORT_READ_TIMEOUT_SECONDS = "1"
TOO_SLOW_MS = 3000


@pytest.fixture
def users(offline_stack: OfflineStack, secret_registry: Any) -> StackClient:
    return StackClient(offline_stack, secret_registry)


@pytest.fixture(scope="module")
def own_stack() -> Iterator[OfflineStack]:
    config = StackConfig(
        ports=Ports.free(),
        environment_overrides={"AUTH0_READ_TIMEOUT_SECONDS": SHORT_READ_TIMEOUT_SECONDS},
    )
    with OfflineStack.start(config) as stack:
        yield stack


@pytest.fixture
def own(own_stack: OfflineStack, secret_registry: Any) -> StackClient:
    """This module's own stack, reset like ``offline_stack``."""
    return StackClient(fresh(own_stack, secret_registry), secret_registry)


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


# -- Auth0 faults ------------------------------------------------------------------------------


def test_auth0_slower_than_the_read_timeout_is_504_and_the_grant_is_sent_once(own: StackClient) -> None:
    own.inject_fault(delay_ms=TOO_SLOW_MS)

    response = own.login(*ALICE, source="127.0.31.1")

    assert error_of(response) == (504, "temporarily_unavailable")
    # The emulator still serves the late request: wait for it, then check nothing followed it.
    records = wait_for_token_requests(own, count=1)
    assert [(r["username"], r["attributed_ip"]) for r in records] == [(ALICE[0], "127.0.31.1")]
    assert own.login(*ALICE, source="127.0.31.1").status_code == 200
    assert len(own.token_requests()) == 2


def wait_for_token_requests(client: StackClient, count: int, polls: int = 300) -> list[dict[str, Any]]:
    """The records once at least ``count`` exist (bounded polling, not a timing assertion)."""
    for _ in range(polls):
        records = client.token_requests()
        if len(records) >= count:
            return records
        time.sleep(0.05)
    return client.token_requests()


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_auth0_5xx_is_502(users: StackClient, status: int) -> None:
    users.inject_fault(status=status)

    response = users.login(*ALICE, source="127.0.31.2")

    assert error_of(response) == (502, "temporarily_unavailable")
    assert users.token_requests() == []  # not retried: a retry would have reached Auth0 and be recorded
    assert users.pending_faults() == []


FAULTS_502: dict[str, dict[str, Any]] = {
    "dropped-connection": {"drop_connection": True},
    "malformed-json": {"malformed_body": True},
    "malformed-json-on-an-error-status": {"malformed_body": True, "status": 403},
    "html-error-page": {"status": 503, "content_type": "text/html"},
}


@pytest.mark.parametrize("fault", list(FAULTS_502))
def test_broken_auth0_answers_are_502(users: StackClient, fault: str) -> None:
    users.inject_fault(**FAULTS_502[fault])

    response = users.login(*ALICE, source="127.0.31.3")

    assert error_of(response) == (502, "temporarily_unavailable")
    assert users.token_requests() == []
    assert users.pending_faults() == []


@pytest.mark.parametrize("content_type", ["text/html", "text/plain", "application/octet-stream"])
def test_tokens_under_the_wrong_content_type_are_502(users: StackClient, content_type: str) -> None:
    """The design's "garbage" row: an answer that does not say it is JSON is not trusted as
    Auth0's, even when its bytes parse (a captive portal or a misrouted proxy answers 200 too)."""
    users.inject_fault(content_type=content_type)

    response = users.login(*ALICE, source="127.0.31.4")

    assert error_of(response) == (502, "temporarily_unavailable")
    assert "access_token" not in response.text
    (record,) = users.token_requests()  # served (and counted) by Auth0, refused by ropguard
    assert record["status"] == 200


def test_auth0_rate_limit_is_429_with_retry_after_from_its_reset_header(users: StackClient) -> None:
    users.advance_clock(120)  # the emulator's X-RateLimit-Reset becomes about two minutes from now
    users.inject_fault(status=429)

    response = users.login(*ALICE, source="127.0.31.5")

    assert error_of(response) == (429, "too_many_requests")
    assert 119 <= int(response.headers["retry-after"]) <= 123
    assert users.token_requests() == []


# -- AWS faults ---------------------------------------------------------------------------------


@contextlib.contextmanager
def secret_deleted(stack: OfflineStack) -> Iterator[None]:
    """Secrets Manager refuses the secret (scheduled for deletion), then it is restored."""
    secrets = stack.aws.client("secretsmanager")
    secret_id = stack.physical("Auth0ClientSecret")
    secrets.delete_secret(SecretId=secret_id, RecoveryWindowInDays=7)
    try:
        yield
    finally:
        secrets.restore_secret(SecretId=secret_id)


@contextlib.contextmanager
def secret_malformed(stack: OfflineStack) -> Iterator[None]:
    """The secret's current value is not ``{"client_id", "client_secret"}``, then it is put back."""
    secrets = stack.aws.client("secretsmanager")
    secret_id = stack.physical("Auth0ClientSecret")
    original = secrets.get_secret_value(SecretId=secret_id)["SecretString"]
    secrets.put_secret_value(SecretId=secret_id, SecretString=json.dumps({"client_id": "only-half"}))
    try:
        yield
    finally:
        secrets.put_secret_value(SecretId=secret_id, SecretString=original)


@pytest.mark.parametrize("breakage", [secret_deleted, secret_malformed], ids=["deleted", "malformed"])
def test_secret_unavailable_is_503_without_calling_auth0(own: StackClient, breakage: Any) -> None:
    with breakage(own.stack):
        response = own.login(*ALICE, source="127.0.32.1")

        assert error_of(response) == (503, "temporarily_unavailable")
        assert own.token_requests() == []

    own.stack.reset()  # a new container reads the restored secret
    assert own.login(*ALICE, source="127.0.32.1").status_code == 200


@contextlib.contextmanager
def topic_deleted(stack: OfflineStack) -> Iterator[None]:
    """SNS answers NotFound for the security-events topic; afterwards the topic and its
    subscription are created again as the template says (same name, so the same ARN)."""
    sns = stack.aws.client("sns")
    topic_arn = stack.physical("SecurityEventsTopic")
    attributes = sns.get_topic_attributes(TopicArn=topic_arn)["Attributes"]
    sns.delete_topic(TopicArn=topic_arn)
    try:
        yield
    finally:
        name = topic_arn.rsplit(":", 1)[1]
        kept = {key: attributes[key] for key in ("KmsMasterKeyId", "DisplayName") if key in attributes}
        assert sns.create_topic(Name=name, Attributes=kept)["TopicArn"] == topic_arn
        subscription = stack.resources.properties["PasswordResetSubscription"]
        create_subscription(stack.aws, subscription)


def test_sns_unavailable_still_answers_401_and_the_email_arrives_through_the_fallback(
    own: StackClient,
) -> None:
    with topic_deleted(own.stack):
        sns = own.stack.aws.client("sns")
        with pytest.raises(sns.exceptions.NotFoundException):  # SNS really cannot take the event
            sns.get_topic_attributes(TopicArn=own.stack.physical("SecurityEventsTopic"))
        response = own.login(*BOB, source="127.0.33.1")

        assert error_of(response) == (401, "password_leaked")
        own.drain()
        assert own.reset_emails() == [BOB[0]]
        assert own.dead_letters() == 0


def test_breached_logins_through_the_api_give_one_email_per_user(users: StackClient) -> None:
    """Two breached logins of one user (two events, two ids) and one of another: two emails."""
    users.set_password("auth0|alice", "AUTH0-TEST-alice-breached-2")
    for username, password, source in (
        (*BOB, "127.0.34.1"),
        (*BOB, "127.0.34.2"),
        ("alice@example.com", "AUTH0-TEST-alice-breached-2", "127.0.34.3"),
    ):
        assert error_of(users.login(username, password, source=source)) == (401, "password_leaked")

    users.drain()

    assert users.reset_emails() == sorted([ALICE[0], BOB[0]])
    assert users.dead_letters() == 0


def test_an_sqs_message_delivered_twice_sends_one_email(users: StackClient) -> None:
    body = breached_event(BOB[0], event_id=str(uuid.uuid4()), request_id="dup-1", source_ip="203.0.113.7")
    sqs = users.sqs()
    for _ in range(2):  # SQS is at-least-once: the same message body may arrive twice
        sqs.send_message(QueueUrl=users.queue_url(), MessageBody=body, MessageAttributes=type_attribute())

    users.drain()

    assert users.reset_emails() == [BOB[0]]
    assert users.dead_letters() == 0


@contextlib.contextmanager
def short_visibility(client: StackClient, seconds: int = 1) -> Iterator[None]:
    """Failed records come back after the queue's visibility timeout (540 s in the template);
    shorten it so the retry happens within the test, and put the template's value back."""
    sqs, url = client.sqs(), client.queue_url(RESET_QUEUE)
    original = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": str(seconds)})
    try:
        yield
    finally:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=original)


def test_reset_failing_mid_batch_sends_every_email_exactly_once(users: StackClient) -> None:
    """Events for three distinct users plus a duplicate of one, queued together; Auth0's
    change_password fails once, so one record of the batch fails and is redelivered."""
    users.inject_fault(route="/dbconnections/change_password", status=503, count=1)
    entries = [
        {
            "Id": str(index),
            "MessageBody": breached_event(
                username, event_id=str(uuid.uuid4()), request_id=f"batch-{index}", source_ip="203.0.113.9"
            ),
            "MessageAttributes": type_attribute(),
            "DelaySeconds": 1,  # all become visible together, so the runner takes them as one batch
        }
        for index, username in enumerate([ALICE[0], BOB[0], CAROL[0], BOB[0]])
    ]

    expected = sorted([ALICE[0], BOB[0], CAROL[0]])
    with short_visibility(users, seconds=3):  # longer than a cold worker's first invocation
        users.sqs().send_message_batch(QueueUrl=users.queue_url(), Entries=entries)
        # The redelivery comes a visibility timeout later: wait for it (bounded), then for the
        # queue to settle, so a duplicate email would show.
        deadline = time.monotonic() + 60
        while users.reset_emails() != expected and time.monotonic() < deadline:
            users.drain(timeout=10)
            time.sleep(0.2)
        users.drain(timeout=30)

    assert users.pending_faults() == []  # the failure did happen
    assert users.reset_emails() == expected
    assert users.dead_letters() == 0
