"""The session routes after POST /login (MFA, refresh, logout): decorators plus one call.

One function for the five routes: they share one configuration, one secret (read only) and one
pooled connection to Auth0, so one warm container serves a whole MFA-and-refresh conversation.
It may not publish security events: only the login function's role can. The event is never
logged: it carries mfa_tokens, codes and refresh tokens. The service is built once per container
(``ropguard.snapstart.per_container``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ropguard.edge import serve
from ropguard.observability import Logger, Metrics, correlation_paths
from ropguard.outbound import within_invocation
from ropguard.session import SESSION_ROUTES, SessionService
from ropguard.snapstart import per_container
from ropguard.tracing import traced

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

logger = Logger()
metrics = Metrics()
service = per_container(SessionService.from_env)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP, log_event=False)
@traced
@metrics.log_metrics(capture_cold_start_metric=True)
@within_invocation  # every Auth0 exchange ends before Lambda would end the invocation
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(event, SESSION_ROUTES, service, logger=logger, metrics=metrics)
