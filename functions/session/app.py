"""The session routes after POST /login (MFA, refresh, logout): decorators plus one call.

One function for the five routes: they share one configuration, one secret (read only) and one
pooled connection to Auth0, so one warm container serves a whole MFA-and-refresh conversation.
It may not publish security events: only the login function's role can. The event is never
logged: it carries mfa_tokens, codes and refresh tokens.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ropguard import snapstart
from ropguard.edge import serve
from ropguard.observability import Logger, Metrics, correlation_paths
from ropguard.outbound import within_invocation
from ropguard.session import SESSION_ROUTES, SessionService
from ropguard.tracing import traced

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()

_service: SessionService | None = None


def session_service() -> SessionService:
    """The container's service, created once (settings validated, clients built)."""
    global _service  # noqa: PLW0603 - one per container, by design
    if _service is None:
        _service = SessionService.from_env()
    return _service


@snapstart.before_snapshot
def _before_snapshot() -> None:
    """SnapStart: import what the first invocation needs, so restores skip it (no secret is read)."""
    snapstart.import_for_first_call()


@snapstart.after_restore
def _after_restore() -> None:
    """SnapStart: pooled sockets do not survive a restore; the next invocation builds a new service."""
    global _service  # noqa: PLW0603 - see session_service
    if _service is not None:
        _service.close()
        _service = None


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
@within_invocation  # every Auth0 exchange ends before Lambda would end the invocation
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(event, SESSION_ROUTES, session_service, logger=logger, metrics=metrics)
