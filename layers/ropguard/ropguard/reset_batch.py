"""An SQS batch of ``password.breached`` events through the reset service, with partial failures.

A record that raises is reported in ``batchItemFailures`` and only it returns to the queue; its
neighbours are deleted. A configuration error answers like every function's (one error log naming
the variable, ``ConfigurationInvalid``), then returns every record to the queue: nothing is lost,
and if it persists the redrive policy dead-letters them. All decisions about one record live in
``ropguard.password_reset``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from ropguard.edge import CONFIGURATION_INVALID, LogSink, MetricsSink, report_invalid_configuration
from ropguard.errors import ConfigurationError
from ropguard.password_reset import PasswordResetService, QueuedRecord

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

#: A batch whose records all failed is still an answer (every id in batchItemFailures), not a crash.
PROCESSOR = BatchProcessor(event_type=EventType.SQS, model=QueuedRecord, raise_on_entire_batch_failure=False)


def process_batch(
    event: dict[str, Any],
    context: LambdaContext,
    service: Callable[[], PasswordResetService],
    *,
    logger: LogSink,
    metrics: MetricsSink,
) -> PartialItemFailureResponse:
    """Build (or reuse) the service, then hand each record to it."""
    try:
        resets = service()
    except ConfigurationError as exc:
        report_invalid_configuration(exc, logger=logger, metrics=metrics, metric=CONFIGURATION_INVALID)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event.get("Records", [])]}
    resets.bind_context(context)
    return process_partial_response(
        event=event, record_handler=resets.handle_record, processor=PROCESSOR, context=context
    )
