"""The queue runner feeds SQS event sources like Lambda: real events, partial-batch failures,
visibility timeouts and moto's own redrive to the DLQ."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest

from ropguard_offline.aws_resources import AwsEndpoint, OfflineResources, create_resources
from ropguard_offline.lambda_runtime import LocalFunction
from ropguard_offline.queue_runner import BoundSource, QueueRunner, sqs_event, succeeded_ids
from tests.fixtures.aws import FAKE_AWS_ENV

from .conftest import FIXTURE_PARAMETERS, FIXTURE_TEMPLATE, spec_of

MESSAGE = {
    "MessageId": "m-1",
    "ReceiptHandle": "rh-1",
    "Body": '{"id": "1"}',
    "MD5OfBody": "abc",
    "MD5OfMessageAttributes": "def",
    "Attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1", "SenderId": "X"},
    "MessageAttributes": {
        "type": {"DataType": "String", "StringValue": "job.requested"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    },
}


def test_sqs_event_has_lambdas_record_shape() -> None:
    (record,) = sqs_event([MESSAGE], "arn:aws:sqs:us-east-1:1:q", "us-east-1")["Records"]
    assert record == {
        "messageId": "m-1",
        "receiptHandle": "rh-1",
        "body": '{"id": "1"}',
        "attributes": {"ApproximateReceiveCount": "2", "SentTimestamp": "1", "SenderId": "X"},
        "messageAttributes": {
            "type": {
                "dataType": "String",
                "stringValue": "job.requested",
                "stringListValues": [],
                "binaryListValues": [],
            },
            "raw": {
                "dataType": "Binary",
                "binaryValue": base64.b64encode(b"\x00\x01").decode(),
                "stringListValues": [],
                "binaryListValues": [],
            },
        },
        "md5OfBody": "abc",
        "md5OfMessageAttributes": "def",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
        "awsRegion": "us-east-1",
    }


@pytest.mark.parametrize(
    ("result", "reports", "expected"),
    [
        (None, True, ["a", "b"]),
        ({"batchItemFailures": []}, True, ["a", "b"]),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, True, ["a"]),
        ({"batchItemFailures": [{"itemIdentifier": "b"}]}, False, ["a", "b"]),
        ({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, True, []),
        ({"batchItemFailures": [{"wrong": "b"}]}, True, []),
    ],
)
def test_only_reported_failures_stay(result: Any, reports: bool, expected: list[str]) -> None:
    assert succeeded_ids(result, ["a", "b"], reports) == expected


@pytest.fixture
def running(aws: str) -> Iterator[tuple[OfflineResources, AwsEndpoint, QueueRunner]]:
    endpoint = AwsEndpoint(aws, "us-east-1")
    resolver = create_resources(FIXTURE_TEMPLATE, endpoint, FIXTURE_PARAMETERS)
    spec = spec_of(resolver, "WorkerFunction")
    worker = LocalFunction(spec, {**FAKE_AWS_ENV, "AWS_ENDPOINT_URL": aws}, "us-east-1", "123456789012")
    (source,) = spec.sqs_sources
    runner = QueueRunner([BoundSource(source, resolver.physical("JobsQueue"), worker)], endpoint).start()
    try:
        yield resolver, endpoint, runner
    finally:
        runner.stop()
        worker.stop()


def send(aws: AwsEndpoint, resolver: OfflineResources, *jobs: dict[str, Any]) -> None:
    sns = aws.client("sns")
    for job in jobs:
        sns.publish(
            TopicArn=resolver.physical("EventsTopic"),
            Message=json.dumps(job),
            MessageAttributes={"type": {"DataType": "String", "StringValue": "job.requested"}},
        )


def attempts(aws: AwsEndpoint, resolver: OfflineResources) -> dict[str, int]:
    return {job: len(receives) for job, receives in deliveries(aws, resolver).items()}


def deliveries(aws: AwsEndpoint, resolver: OfflineResources) -> dict[str, list[str]]:
    """Per job, the ``eventSourceARN`` and ``ApproximateReceiveCount`` of each record the worker handled."""
    items = aws.client("dynamodb").scan(TableName=resolver.physical("ProcessedTable"))["Items"]
    return {item["id"]["S"]: [entry["S"] for entry in item["receives"]["L"]] for item in items}


def dead_letters(aws: AwsEndpoint, resolver: OfflineResources) -> list[dict[str, Any]]:
    """A long poll: moto's ReceiveMessage removes a message from the source queue before it adds
    it to the DLQ, so a drained source queue can briefly mean a DLQ still empty."""
    url = resolver.physical("JobsDeadLetterQueue")
    answer = aws.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=2)
    return [json.loads(m["Body"]) for m in answer.get("Messages", [])]


@pytest.mark.integration
def test_successful_batches_are_deleted(running: tuple[OfflineResources, AwsEndpoint, QueueRunner]) -> None:
    resolver, aws, runner = running
    send(aws, resolver, {"id": "a"}, {"id": "b"})
    assert runner.drain(timeout=30)
    (queue_arn,) = {source.queue_arn for spec in resolver.functions for source in spec.sqs_sources}
    assert deliveries(aws, resolver) == {"a": [f"{queue_arn} 1"], "b": [f"{queue_arn} 1"]}
    assert dead_letters(aws, resolver) == []


@pytest.mark.integration
def test_a_reported_failure_is_retried_then_dead_lettered_by_moto(
    running: tuple[OfflineResources, AwsEndpoint, QueueRunner],
) -> None:
    resolver, aws, runner = running
    send(aws, resolver, {"id": "good"}, {"id": "bad", "fail": True})
    assert runner.drain(timeout=60)  # the failure reappears after VisibilityTimeout (1 s), twice
    # maxReceiveCount is 2: the bad job ran twice, then moto moved it to the DLQ on the third receive.
    assert attempts(aws, resolver) == {"good": 1, "bad": 2}
    assert dead_letters(aws, resolver) == [{"id": "bad", "fail": True}]
    assert [entry.rpartition(" ")[2] for entry in deliveries(aws, resolver)["bad"]] == ["1", "2"]


@pytest.mark.integration
def test_a_raising_handler_leaves_the_whole_batch(
    running: tuple[OfflineResources, AwsEndpoint, QueueRunner], caplog: pytest.LogCaptureFixture
) -> None:
    resolver, aws, runner = running
    runner.stop()  # send both first, so that they arrive in one batch
    send(aws, resolver, {"id": "x"}, {"id": "y", "raise": True})
    restarted = QueueRunner(runner.sources, aws).start()
    try:
        assert restarted.drain(timeout=60)
    finally:
        restarted.stop()
    assert (
        "WorkerFunction failed on a batch of 2 from Jobs: RuntimeError: the fixture worker failed"
        in caplog.text
    )
    # The whole batch failed each time: x (written before y raised) was retried with y.
    assert attempts(aws, resolver) == {"x": 2}
    assert sorted(job["id"] for job in dead_letters(aws, resolver)) == ["x", "y"]


@pytest.mark.integration
def test_stop_returns_promptly(aws: str) -> None:
    runner = QueueRunner([], AwsEndpoint(aws, "us-east-1")).start()
    runner.stop()  # returning at all is the assertion: no thread is left polling
    assert runner.drain(timeout=0)
