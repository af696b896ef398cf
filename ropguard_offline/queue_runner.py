"""Feed the template's SQS event sources to their functions, as Lambda's event source mapping
does: receive a batch, invoke the function's worker pool with a real SQS event, delete what
succeeded.

With ``ReportBatchItemFailures`` only the records named in ``batchItemFailures`` stay; without it,
or when the handler raises, the whole batch stays. What stays reappears after the queue's
visibility timeout, and moto's server itself moves a message to the dead-letter queue once it
has been received ``maxReceiveCount`` times (its ReceiveMessage honours the RedrivePolicy).
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ropguard_offline.aws_resources import AwsEndpoint
from ropguard_offline.lambda_runtime import FunctionError, LocalFunction
from ropguard_offline.template import SqsSource

LOG = logging.getLogger(__name__)

_QUEUE_COUNTS = (
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesNotVisible",
    "ApproximateNumberOfMessagesDelayed",
)


@dataclass(frozen=True)
class BoundSource:
    """An SQS event source of the template, its queue's URL, and the function it feeds."""

    source: SqsSource
    queue_url: str
    function: LocalFunction


def sqs_event(messages: Sequence[Mapping[str, Any]], queue_arn: str, region: str) -> dict[str, Any]:
    """The event Lambda's SQS event source mapping sends for these ReceiveMessage results."""
    return {"Records": [_record(message, queue_arn, region) for message in messages]}


def _record(message: Mapping[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: Mapping[str, Any]) -> dict[str, Any]:
    """SQS API attribute (``StringValue``/``BinaryValue`` bytes) in Lambda's camel-case shape."""
    attribute: dict[str, Any] = {
        "dataType": value["DataType"],
        "stringListValues": list(value.get("StringListValues", [])),
        "binaryListValues": [base64.b64encode(item).decode() for item in value.get("BinaryListValues", [])],
    }
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    return attribute


def succeeded_ids(result: Any, message_ids: Sequence[str], reports_failures: bool) -> list[str]:
    """The records to delete after a handler returned ``result``.

    A malformed failure report fails the whole batch, as Lambda treats it.
    """
    if not reports_failures or result is None:
        return list(message_ids)
    failures = result.get("batchItemFailures") if isinstance(result, dict) else None
    if not failures:
        return list(message_ids)
    failed = {item.get("itemIdentifier") for item in failures if isinstance(item, dict)}
    if len(failed) != len(failures) or not failed <= set(message_ids):
        LOG.error("malformed batchItemFailures %r: the whole batch is retried", failures)
        return []
    return [message_id for message_id in message_ids if message_id not in failed]


class QueueRunner:
    """One polling thread per event source; ``stop`` ends them within one poll wait."""

    def __init__(self, sources: Sequence[BoundSource], aws: AwsEndpoint, poll_wait_seconds: int = 1) -> None:
        self.sources = list(sources)
        self._aws = aws
        self._poll_wait = poll_wait_seconds
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        #: Called with (source name, message body) for each message before it is delivered: lets
        #: tests inspect every event the functions receive without touching the functions.
        self.observers: list[Callable[[str, str], None]] = []

    def start(self) -> QueueRunner:
        for bound in self.sources:
            thread = threading.Thread(
                target=self._poll, args=(bound,), name=f"queue-runner-{bound.source.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stopping.set()
        for thread in self._threads:
            thread.join()
        self._threads.clear()

    def is_drained(self) -> bool:
        """No message waiting, in flight or delayed in any source queue."""
        sqs = self._aws.client("sqs")
        for bound in self.sources:
            counts = sqs.get_queue_attributes(QueueUrl=bound.queue_url, AttributeNames=list(_QUEUE_COUNTS))
            if any(int(counts["Attributes"].get(name, "0")) for name in _QUEUE_COUNTS):
                return False
        return True

    def drain(self, timeout: float) -> bool:
        """Wait (polling) until every source queue is empty; False if ``timeout`` passes first.

        Records that failed come back only after the queue's visibility timeout, so a drain
        that includes retries takes at least that long.
        """
        deadline = time.monotonic() + timeout
        while not self.is_drained():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def _poll(self, bound: BoundSource) -> None:
        sqs = self._aws.client("sqs")
        while not self._stopping.is_set():
            try:
                messages = self._receive(sqs, bound)
            except Exception:
                if self._stopping.is_set():
                    return
                LOG.exception("receiving from %s failed", bound.queue_url)
                self._stopping.wait(0.5)
                continue
            if messages:
                self._deliver(sqs, bound, messages)

    def _receive(self, sqs: Any, bound: BoundSource) -> list[dict[str, Any]]:
        """One ReceiveMessage of up to BatchSize (the reader refuses more than SQS returns at once)."""
        messages: list[dict[str, Any]] = sqs.receive_message(
            QueueUrl=bound.queue_url,
            MaxNumberOfMessages=bound.source.batch_size,
            WaitTimeSeconds=self._poll_wait,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        return messages

    def _deliver(self, sqs: Any, bound: BoundSource, messages: list[dict[str, Any]]) -> None:
        function = bound.function
        for observer in self.observers:
            for message in messages:
                observer(bound.source.name, message.get("Body", ""))
        event = sqs_event(messages, bound.source.queue_arn, self._aws.region)
        ids = [message["MessageId"] for message in messages]
        try:
            result = function.invoke(event)
        except FunctionError as error:
            name, count = bound.source.name, len(ids)
            LOG.error("%s failed on a batch of %d from %s: %s", function.spec.logical_id, count, name, error)
            return
        done = set(succeeded_ids(result, ids, bound.source.report_batch_item_failures))
        handles = [message["ReceiptHandle"] for message in messages if message["MessageId"] in done]
        if handles:
            entries = [{"Id": str(index), "ReceiptHandle": handle} for index, handle in enumerate(handles)]
            sqs.delete_message_batch(QueueUrl=bound.queue_url, Entries=entries)
        LOG.info(
            "%s: %s processed %d, returned %d to the queue",
            bound.source.name,
            function.spec.logical_id,
            len(handles),
            len(ids) - len(handles),
        )
