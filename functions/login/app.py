"""POST /login handler: decorators plus one call to ``ropguard.edge.serve``.

The service is built once per container on the first invocation (``ropguard.snapstart.per_container``:
a configuration error becomes one logged error and a JSON 500 instead of an init crash, and the
SnapStart hooks are registered). The event is never logged: it carries the password. Cold-start
budget: nothing here imports boto3, botocore, the X-Ray SDK or pydantic on a login
(tests/unit/test_import_budget.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ropguard.edge import serve
from ropguard.login import LOGIN_ROUTES, LoginService
from ropguard.observability import Logger, Metrics, correlation_paths
from ropguard.outbound import within_invocation
from ropguard.security_events import SecurityEventPublisher
from ropguard.snapstart import per_container
from ropguard.tracing import traced

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
# Breach events go to SNS (reset queue as fallback); both addresses come from template.yaml.
service = per_container(lambda: LoginService.from_env(breach_reporter=SecurityEventPublisher.from_env()))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@traced  # only when tracing is on; never captures the response (it holds tokens)
@metrics.log_metrics(capture_cold_start_metric=True)
@within_invocation  # every Auth0 exchange ends before Lambda would end the invocation
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(event, LOGIN_ROUTES, service, logger=logger, metrics=metrics)
