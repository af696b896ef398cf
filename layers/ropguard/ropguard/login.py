"""POST /login orchestration: client address, body, credentials, token request, answer.

``LoginService`` holds the per-container clients (Secrets Manager cache, pooled httpx client) and
is built once per container by the handler. Dependencies are injectable so tests and benchmarks
drive the real code against loopback servers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ropguard.auth0_client import (
    Auth0Reply,
    Auth0TimeoutError,
    Auth0UnreachableError,
    PasswordGrant,
    TokenEndpoint,
    build_http_client,
)
from ropguard.client_address import ClientAddressResolver, ClientAddressSettings
from ropguard.credentials import ClientCredentials, CredentialsUnavailableError, SecretCredentials
from ropguard.errors import ClientAddressError, OriginNotVerifiedError, ViewerAddressError
from ropguard.login_request import InvalidLoginRequestError, parse_login_request
from ropguard.outcomes import TIMEOUT_BODY, UPSTREAM_BODY, Classified, Outcome, auth0_error_code, classify
from ropguard.responses import error_response, json_response
from ropguard.settings import Environ, LoginSettings


class BreachReporter(Protocol):
    """Told when Auth0 blocks a login for a breached password, before the 401 goes out.

    Implemented over SNS by the breached-password follow-up; must not raise for delivery problems
    it can absorb (a failure here is logged and counted, and the user still gets the 401).
    """

    def report_password_breached(
        self, *, username: str, realm: str | None, source_ip: str, request_id: str
    ) -> None: ...


class CredentialsSource(Protocol):
    def get(self, *, refresh: bool = False) -> ClientCredentials: ...


class TokenRequester(Protocol):
    def request_token(
        self, grant: PasswordGrant, credentials: ClientCredentials, *, forwarded_for: str
    ) -> Auth0Reply: ...

    def close(self) -> None: ...


@dataclass(frozen=True, slots=True)
class LoginResult:
    """The proxy response plus what the handler logs and counts (never a secret or token)."""

    outcome: Outcome
    response: dict[str, Any] = field(repr=False)
    log_fields: dict[str, Any]
    extra_metrics: tuple[str, ...] = ()


BREACH_REPORT_FAILED = "BreachReportFailed"
#: One fixed text for every CloudFront-mode refusal: it never echoes or hints at the header sent.
ORIGIN_NOT_VERIFIED_DESCRIPTION = "The request was not received through the login service's front door."


class LoginService:
    def __init__(
        self,
        settings: LoginSettings,
        *,
        credentials: CredentialsSource,
        token_endpoint: TokenRequester,
        breach_reporter: BreachReporter | None = None,
        clock: Callable[[], float] = time.time,
        client_address: ClientAddressResolver | None = None,
    ) -> None:
        self.settings = settings
        self._client_address = client_address or ClientAddressResolver(ClientAddressSettings())
        self._credentials = credentials
        self._token_endpoint = token_endpoint
        self._breach_reporter = breach_reporter
        self._clock = clock

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
        settings = LoginSettings.from_env(env)
        return cls(
            settings,
            credentials=SecretCredentials(
                settings.auth0.secret_id, max_age_seconds=settings.auth0.secret_max_age_seconds
            ),
            token_endpoint=TokenEndpoint(build_http_client(settings.auth0)),
            breach_reporter=breach_reporter,
            clock=clock,
            client_address=ClientAddressResolver.from_env(env),
        )

    def close(self) -> None:
        """Release pooled connections (tests and benchmarks; Lambda just freezes the container)."""
        self._token_endpoint.close()

    def login(self, event: dict[str, Any]) -> LoginResult:
        context = event.get("requestContext")
        request_id = str(context.get("requestId", "")) if isinstance(context, dict) else ""
        try:
            client_ip = self._client_address.resolve(event)
        except OriginNotVerifiedError as exc:
            # CloudFront mode: not proven to come through our distribution; Auth0 is never called.
            outcome = (
                Outcome.VIEWER_ADDRESS_INVALID
                if isinstance(exc, ViewerAddressError)
                else Outcome.ORIGIN_NOT_VERIFIED
            )
            return _result(
                outcome,
                error_response(403, "access_denied", ORIGIN_NOT_VERIFIED_DESCRIPTION),
                source_ip=None,
                reason=str(exc),
            )
        except ClientAddressError:
            # Fail closed: without the header Auth0 would count every user as this server.
            return _result(
                Outcome.SOURCE_IP_MISSING,
                error_response(500, "server_error", "The client address is unavailable."),
                source_ip=None,
            )
        except CredentialsUnavailableError as exc:  # the origin secret could not be read
            outcome, response = _failure_answer(exc)
            return _result(outcome, response, source_ip=None, reason=str(exc))
        try:
            request = parse_login_request(
                event, max_body_bytes=self.settings.max_body_bytes, scopes=self.settings.scopes
            )
        except InvalidLoginRequestError as exc:
            return _result(
                Outcome.BAD_REQUEST,
                error_response(400, "invalid_request", str(exc)),
                source_ip=client_ip,
                reason=str(exc),
            )
        grant = PasswordGrant(
            username=request.username,
            password=request.password,
            scope=request.scope,
            audience=self.settings.audience,
            realm=self.settings.realm,
        )
        return self._exchange(grant, client_ip, request_id)

    def _exchange(self, grant: PasswordGrant, client_ip: str, request_id: str) -> LoginResult:
        attempts = 0
        try:
            credentials = self._credentials.get()
            attempts += 1
            classified, reply = self._send(grant, credentials, client_ip)
            if classified.outcome is Outcome.CLIENT_REJECTED:
                # Rotation: Auth0 refused the client before judging the user, so one more grant
                # does not count toward brute-force protection; skip it if the secret is unchanged.
                fresh = self._credentials.get(refresh=True)
                if fresh != credentials:
                    attempts += 1
                    classified, reply = self._send(grant, fresh, client_ip)
        except (CredentialsUnavailableError, Auth0TimeoutError, Auth0UnreachableError) as exc:
            outcome, response = _failure_answer(exc)
            return _result(outcome, response, source_ip=client_ip, attempts=attempts, reason=str(exc))
        breach_report_error = None
        if classified.outcome is Outcome.PASSWORD_LEAKED:
            breach_report_error = self._report_breach(grant, client_ip, request_id)
        return _result(
            classified.outcome,
            json_response(classified.status, classified.body, classified.headers),
            source_ip=client_ip,
            attempts=attempts,
            auth0_status=reply.status,
            auth0_error=auth0_error_code(reply),
            extra_metrics=(BREACH_REPORT_FAILED,) if breach_report_error else (),
            **({"breach_report_error": breach_report_error} if breach_report_error else {}),
        )

    def _send(
        self, grant: PasswordGrant, credentials: ClientCredentials, client_ip: str
    ) -> tuple[Classified, Auth0Reply]:
        reply = self._token_endpoint.request_token(grant, credentials, forwarded_for=client_ip)
        return classify(reply, now=self._clock()), reply

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


def _result(
    outcome: Outcome,
    response: dict[str, Any],
    *,
    extra_metrics: tuple[str, ...] = (),
    **log_fields: Any,
) -> LoginResult:
    fields = {"outcome": outcome.value, "status": response["statusCode"], **log_fields}
    return LoginResult(outcome, response, fields, extra_metrics)


def _failure_answer(
    exc: CredentialsUnavailableError | Auth0TimeoutError | Auth0UnreachableError,
) -> tuple[Outcome, dict[str, Any]]:
    """The design's answer when no reply from Auth0 can be classified."""
    if isinstance(exc, CredentialsUnavailableError):
        unavailable = "The login service is temporarily unavailable."
        return Outcome.SECRET_UNAVAILABLE, error_response(503, "temporarily_unavailable", unavailable)
    if isinstance(exc, Auth0TimeoutError):
        return Outcome.UPSTREAM_TIMEOUT, json_response(504, TIMEOUT_BODY)
    return Outcome.UPSTREAM_ERROR, json_response(502, UPSTREAM_BODY)
