"""SQS → password reset: Powertools batch processing with partial-batch failures.

A record that raises is reported in ``batchItemFailures`` and only it returns to the queue; its
neighbours are deleted. All decisions live in ``ropguard.password_reset``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from ropguard.outbound import within_invocation
from ropguard.password_reset import PasswordResetService, QueuedRecord
from ropguard.settings import SettingsError
from ropguard.tracing import traced

logger = Logger()
metrics = Metrics()
# A batch whose records all failed is still an answer (every id in batchItemFailures), not a crash.
processor = BatchProcessor(event_type=EventType.SQS, model=QueuedRecord, raise_on_entire_batch_failure=False)


@cache
def service() -> PasswordResetService:
    """Built on the first invocation, then reused by the container (clients, pools, caches)."""
    return PasswordResetService.from_env()


@logger.inject_lambda_context(log_event=False)  # never the queued events, whatever the environment says
@traced  # only when tracing is on; responses never captured
@metrics.log_metrics(capture_cold_start_metric=True)
@within_invocation  # every Auth0 exchange ends before Lambda would end the invocation
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    try:
        resets = service()
    except SettingsError as exc:
        # Every record goes back to the queue (and, if this persists, to the DLQ by the redrive policy).
        logger.error("invalid configuration", extra={"variable": exc.variable, "problem": str(exc)})
        metrics.add_metric(name="ConfigurationInvalid", unit=MetricUnit.Count, value=1)
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event.get("Records", [])]}
    resets.bind_context(context)
    return process_partial_response(
        event=event, record_handler=resets.handle_record, processor=processor, context=context
    )
