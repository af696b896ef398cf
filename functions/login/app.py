"""POST /login handler: Powertools glue around ``ropguard.login.LoginService``.

The service is built on the first invocation, not at import, so a configuration error becomes one
logged error and a JSON 500 instead of an init crash, and boto3/httpx clients live per container.
The event is never logged: it carries the password.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ropguard.login import LoginService
from ropguard.outcomes import Outcome
from ropguard.responses import error_response
from ropguard.security_events import SecurityEventPublisher
from ropguard.settings import SettingsError

logger = Logger()
metrics = Metrics()
tracer = Tracer()

_service: LoginService | None = None


def login_service() -> LoginService:
    """The container's service, created once (settings validated, clients built)."""
    global _service  # noqa: PLW0603 - one per container, by design
    if _service is None:
        # Breach events go to SNS (reset queue as fallback); both addresses come from template.yaml.
        _service = LoginService.from_env(breach_reporter=SecurityEventPublisher.from_env())
    return _service


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@tracer.capture_lambda_handler(capture_response=False)  # the response holds tokens
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        service = login_service()
    except SettingsError as exc:
        logger.error("invalid configuration", extra={"variable": exc.variable, "problem": str(exc)})
        metrics.add_metric(name=Outcome.CONFIGURATION_INVALID.value, unit=MetricUnit.Count, value=1)
        return error_response(500, "server_error", "The login service is misconfigured.")
    result = service.login(event)
    metrics.add_metric(name=result.outcome.value, unit=MetricUnit.Count, value=1)
    for name in result.extra_metrics:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
    logger.info("login answered", extra=result.log_fields)
    return result.response
