"""SQS → password reset: decorators plus one call to ``ropguard.reset_batch.process_batch``.

The service is built once per container (``ropguard.snapstart.per_container``); Powertools' batch
processing reports partial failures. The queued events are never logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics

from ropguard.outbound import within_invocation
from ropguard.password_reset import PasswordResetService
from ropguard.reset_batch import process_batch
from ropguard.snapstart import per_container
from ropguard.tracing import traced

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
service = per_container(PasswordResetService.from_env)


@logger.inject_lambda_context(log_event=False)  # never the queued events, whatever the environment says
@traced  # only when tracing is on; responses never captured
@metrics.log_metrics(capture_cold_start_metric=True)
@within_invocation  # every Auth0 exchange ends before Lambda would end the invocation
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_batch(event, context, service, logger=logger, metrics=metrics)
