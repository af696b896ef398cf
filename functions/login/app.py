"""POST /login handler: decorators plus one call to ``ropguard.edge.serve``.

The service is built on the first invocation, not at import, so a configuration error becomes one
logged error and a JSON 500 instead of an init crash, and pooled connections live per container.
The event is never logged: it carries the password. Cold-start budget: nothing here imports
boto3, botocore, the X-Ray SDK or pydantic on a login (tests/unit/test_import_budget.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ropguard import snapstart
from ropguard.edge import serve
from ropguard.login import LOGIN_ROUTES, LoginService
from ropguard.observability import Logger, Metrics, correlation_paths
from ropguard.outbound import within_invocation
from ropguard.security_events import SecurityEventPublisher
from ropguard.tracing import traced

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

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


@snapstart.before_snapshot
def _before_snapshot() -> None:
    """SnapStart: import what the first invocation needs, so restores skip it (no secret is read)."""
    snapstart.import_for_first_call()


@snapstart.after_restore
def _after_restore() -> None:
    """SnapStart: pooled sockets do not survive a restore; the next invocation builds a new service."""
    global _service  # noqa: PLW0603 - see login_service
    if _service is not None:
        _service.close()
        _service = None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@traced  # only when tracing is on; never captures the response (it holds tokens)
@metrics.log_metrics(capture_cold_start_metric=True)
@within_invocation  # every Auth0 exchange ends before Lambda would end the invocation
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(event, LOGIN_ROUTES, login_service, logger=logger, metrics=metrics)
