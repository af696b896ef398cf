"""POST /login handler: decorators plus one call to ``ropguard.edge.serve``.

The service is built on the first invocation, not at import, so a configuration error becomes one
logged error and a JSON 500 instead of an init crash, and boto3/httpx clients live per container.
The event is never logged: it carries the password.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from ropguard.edge import serve
from ropguard.login import LOGIN_ROUTES, LoginService
from ropguard.security_events import SecurityEventPublisher
from ropguard.tracing import traced

logger = Logger()
metrics = Metrics()

_service: LoginService | None = None


def login_service() -> LoginService:
    """The container's service, created once (settings validated, clients built)."""
    global _service  # noqa: PLW0603 - one per container, by design
    if _service is None:
        # Breach events go to SNS (reset queue as fallback); both addresses come from template.yaml.
        _service = LoginService.from_env(breach_reporter=SecurityEventPublisher.from_env())
    return _service


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(event, LOGIN_ROUTES, login_service, logger=logger, metrics=metrics)
