"""POST /login: a typed ``LoginRequest`` in, a domain ``Answer`` out.

``LoginService`` holds the per-container clients (secret cache, pooled Auth0 connection) and
is built once per container by the handler. Dependencies are injectable so tests and benchmarks
drive the real code against loopback servers. ``LOGIN_ROUTES`` is what the handler serves through
``ropguard.edge``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Protocol, Unpack

from ropguard.answers import Answer
from ropguard.api_event import ApiEvent
from ropguard.api_service import ApiService, ServiceParts
from ropguard.auth0_client import (
    Auth0Reply,
    PasswordGrant,
    TokenEndpoint,
)
from ropguard.credentials import ClientCredentials, SecretCredentials
from ropguard.edge import Caller, Route
from ropguard.login_request import LoginRequest, parse_login_body
from ropguard.outcomes import Outcome, Step, auth0_error_code, classify, tokens
from ropguard.rotation import exchange
from ropguard.settings import ApiSettings, Environ


class BreachReporter(Protocol):
    """Told when Auth0 blocks a login for a breached password, before the 401 goes out.

    Implemented over SNS by the breached-password follow-up; must not raise for delivery problems
    it can absorb (a failure here is logged and counted, and the user still gets the 401).
    """

    def report_password_breached(
        self, *, username: str, realm: str | None, source_ip: str, request_id: str
    ) -> None: ...


class TokenRequester(Protocol):
    def request_token(
        self, grant: PasswordGrant, credentials: ClientCredentials, *, forwarded_for: str
    ) -> Auth0Reply: ...

    def close(self) -> None: ...


BREACH_REPORT_FAILED = "BreachReportFailed"


class LoginService(ApiService):
    def __init__(
        self,
        settings: ApiSettings,
        *,
        token_endpoint: TokenRequester,
        breach_reporter: BreachReporter | None = None,
        **parts: Unpack[ServiceParts],
    ) -> None:
        super().__init__(settings, **parts)
        self._token_endpoint = token_endpoint
        self._breach_reporter = breach_reporter

    @classmethod
    def from_env(
        cls,
        env: Environ | None = None,
        *,
        breach_reporter: BreachReporter | None = None,
        clock: Callable[[], float] = time.time,
    ) -> LoginService:
        """Validate configuration and build the container's clients (no network call yet).

        The breached-password follow-up passes its SNS reporter here.
        """
        settings = ApiSettings.from_env(env)
        return cls(
            settings,
            credentials=SecretCredentials.for_tenant(settings.auth0),
            token_endpoint=TokenEndpoint.for_tenant(settings.auth0),
            breach_reporter=breach_reporter,
            clock=clock,
        )

    def close(self) -> None:
        """Release pooled connections (tests and benchmarks; Lambda just freezes the container)."""
        self._token_endpoint.close()

    def authenticate(self, request: LoginRequest, caller: Caller) -> Answer:
        """One password grant under the rotation rule, unless Auth0's remembered verdict covers it;
        raises the ``ropguard.errors`` it cannot answer."""
        grant = PasswordGrant(
            username=request.username,
            password=request.password,
            scope=request.scope,
            audience=self.settings.audience,
            realm=self.settings.realm,
        )
        return self.shedding.answer(Step.PASSWORD, caller, grant.username, lambda: self._ask(grant, caller))

    def _ask(self, grant: PasswordGrant, caller: Caller) -> tuple[Answer, Auth0Reply]:
        exchanged = exchange(
            self._credentials,
            lambda credentials: self._token_endpoint.request_token(
                grant, credentials, forwarded_for=caller.source_ip
            ),
            Step.PASSWORD,
        )
        reply = exchanged.reply
        classified = classify(reply, Step.PASSWORD, tokens, now=self._clock())
        breach_report_error = None
        if classified.outcome is Outcome.PASSWORD_LEAKED:
            breach_report_error = self._report_breach(grant, caller.source_ip, caller.request_id)
        answer = dataclasses.replace(
            classified,
            log_fields={
                "source_ip": caller.source_ip,
                "attempts": exchanged.attempts,
                "auth0_status": reply.status,
                "auth0_error": auth0_error_code(reply),
                **({"breach_report_error": breach_report_error} if breach_report_error else {}),
            },
            extra_metrics=(BREACH_REPORT_FAILED,) if breach_report_error else (),
        )
        return answer, reply

    def _report_breach(self, grant: PasswordGrant, client_ip: str, request_id: str) -> str | None:
        """Tell the reporter; returns the failure's type name (logged and counted), or None."""
        if self._breach_reporter is None:
            return None
        try:
            self._breach_reporter.report_password_breached(
                username=grant.username, realm=grant.realm, source_ip=client_ip, request_id=request_id
            )
        except Exception as exc:  # the user must still get the 401
            return type(exc).__name__
        return None


def _login(service: LoginService, event: ApiEvent, caller: Caller) -> Answer:
    settings = service.settings
    request = parse_login_body(event, max_body_bytes=settings.max_body_bytes, scopes=settings.scopes)
    return service.authenticate(request, caller)


#: POST /login: metrics are ``Login`` + the outcome, except the edge's own refusals, whose names
#: predate the edge and stay as alarms and dashboards know them.
LOGIN_ROUTE: Route[LoginService] = Route(
    key="POST /login",
    name="login",
    metric_prefix="Login",
    handle=_login,
    metric_names={
        name: name
        for name in ("SourceIpMissing", "OriginNotVerified", "ViewerAddressInvalid", "ConfigurationInvalid")
    },
)
LOGIN_ROUTES = {LOGIN_ROUTE.key: LOGIN_ROUTE}
