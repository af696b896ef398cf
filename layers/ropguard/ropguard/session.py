"""The rest of the login after POST /login: MFA challenge and verification, refresh, logout.

``SessionService`` takes typed requests and returns domain ``Answer``s; the same rules as /login
hold: the caller's address (from the request context) goes to Auth0 in ``auth0-forwarded-for`` on
every call, the client credentials come from the same cached secret with the same rotation retry,
all calls share one pooled connection, and nothing is sent twice once it may have reached Auth0.
``SESSION_ROUTES`` are what the session function serves through ``ropguard.edge``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Unpack

from ropguard.answers import Answer
from ropguard.api_event import ApiEvent
from ropguard.api_service import ApiService, ServiceParts
from ropguard.auth0_client import (
    MFA_OOB_GRANT,
    MFA_OTP_GRANT,
    MFA_RECOVERY_CODE_GRANT,
    REFRESH_TOKEN_GRANT,
    Auth0Call,
    Auth0Reply,
    TokenEndpoint,
)
from ropguard.cookie_delivery import SessionCookie
from ropguard.credentials import SecretCredentials
from ropguard.edge import Caller, Route
from ropguard.outcomes import (
    Step,
    Success,
    auth0_error_code,
    authenticators,
    challenge,
    classify,
    revoked,
    tokens,
)
from ropguard.rotation import exchange
from ropguard.session_requests import (
    AuthenticatorsRequest,
    LogoutRequest,
    MfaChallengeRequest,
    MfaVerifyRequest,
    OobFactor,
    OtpFactor,
    RefreshRequest,
    parse_authenticators,
    parse_logout,
    parse_mfa_challenge,
    parse_mfa_verify,
    parse_refresh,
)
from ropguard.settings import ApiSettings, Environ


def _verify_fields(request: MfaVerifyRequest) -> dict[str, str]:
    factor = request.factor
    if isinstance(factor, OtpFactor):
        return {"grant_type": MFA_OTP_GRANT, "mfa_token": request.mfa_token, "otp": factor.otp}
    if isinstance(factor, OobFactor):
        fields = {"grant_type": MFA_OOB_GRANT, "mfa_token": request.mfa_token, "oob_code": factor.oob_code}
        if factor.binding_code is not None:
            fields["binding_code"] = factor.binding_code
        return fields
    return {
        "grant_type": MFA_RECOVERY_CODE_GRANT,
        "mfa_token": request.mfa_token,
        "recovery_code": factor.recovery_code,
    }


class SessionService(ApiService):
    def __init__(
        self,
        settings: ApiSettings,
        *,
        auth0: TokenEndpoint,
        **parts: Unpack[ServiceParts],
    ) -> None:
        super().__init__(settings, **parts)
        self._auth0 = auth0

    @classmethod
    def from_env(
        cls, env: Environ | None = None, *, clock: Callable[[], float] = time.time
    ) -> SessionService:
        """Validate configuration and build the container's clients (no network call yet)."""
        settings = ApiSettings.from_env(env)
        return cls(
            settings,
            credentials=SecretCredentials.for_tenant(settings.auth0),
            auth0=TokenEndpoint.for_tenant(settings.auth0),
            clock=clock,
        )

    def close(self) -> None:
        """Release pooled connections (tests and benchmarks; Lambda just freezes the container)."""
        self._auth0.close()

    def challenge(self, request: MfaChallengeRequest, caller: Caller) -> Answer:
        fields = {"mfa_token": request.mfa_token}
        if request.challenge_type is not None:
            fields["challenge_type"] = request.challenge_type
        if request.authenticator_id is not None:
            fields["authenticator_id"] = request.authenticator_id
        call = Auth0Call("POST", "/mfa/challenge", fields)
        return self._call(call, Step.MFA, caller, challenge, request.mfa_token)

    def authenticators(self, request: AuthenticatorsRequest, caller: Caller) -> Answer:
        """Needs no client credentials: the mfa_token alone authorises the listing."""
        call = Auth0Call("GET", "/mfa/authenticators", bearer=request.mfa_token, client_auth=False)
        return self._call(call, Step.MFA, caller, authenticators, request.mfa_token)

    def verify(self, request: MfaVerifyRequest, caller: Caller) -> Answer:
        call = Auth0Call("POST", "/oauth/token", _verify_fields(request))
        return self._call(call, Step.MFA, caller, tokens, request.mfa_token, factor=request.factor_name)

    def refresh(self, request: RefreshRequest, caller: Caller) -> Answer:
        fields = {"grant_type": REFRESH_TOKEN_GRANT, "refresh_token": request.refresh_token}
        if request.scope is not None:
            fields["scope"] = request.scope
        call = Auth0Call("POST", "/oauth/token", fields)
        return self._call(call, Step.REFRESH, caller, tokens, request.refresh_token)

    def logout(self, request: LogoutRequest, caller: Caller) -> Answer:
        call = Auth0Call("POST", "/oauth/revoke", {"token": request.refresh_token})
        return self._call(call, Step.REVOKE, caller, revoked, request.refresh_token)

    def _call(
        self,
        call: Auth0Call,
        step: Step,
        caller: Caller,
        success: Success,
        subject: str,
        **log_fields: Any,
    ) -> Answer:
        """One call, unless Auth0's remembered verdict on ``subject`` (its token) covers it."""

        def ask() -> tuple[Answer, Auth0Reply]:
            if call.client_auth:
                exchanged = exchange(
                    self._credentials,
                    lambda credentials: self._auth0.send(call, credentials, forwarded_for=caller.source_ip),
                    step,
                )
                reply, attempts = exchanged.reply, exchanged.attempts
            else:
                reply, attempts = self._auth0.send(call, None, forwarded_for=caller.source_ip), 1
            classified = classify(reply, step, success, now=self._clock())
            return _answer(classified, reply, caller, attempts=attempts, **log_fields), reply

        return self.shedding.answer(step, caller, subject, ask)


def _answer(classified: Answer, reply: Auth0Reply, caller: Caller, **log_fields: Any) -> Answer:
    """The domain answer, with what the edge logs (Auth0's status and error code, never a body)."""
    return dataclasses.replace(
        classified,
        log_fields={
            "source_ip": caller.source_ip,
            "auth0_status": reply.status,
            "auth0_error": auth0_error_code(reply),
            **log_fields,
        },
    )


def _challenge(service: SessionService, event: ApiEvent, caller: Caller) -> Answer:
    return service.challenge(
        parse_mfa_challenge(event, max_body_bytes=service.settings.max_body_bytes), caller
    )


def _authenticators(service: SessionService, event: ApiEvent, caller: Caller) -> Answer:
    return service.authenticators(parse_authenticators(event), caller)


def _verify(service: SessionService, event: ApiEvent, caller: Caller) -> Answer:
    return service.verify(parse_mfa_verify(event, max_body_bytes=service.settings.max_body_bytes), caller)


def _refresh(service: SessionService, event: ApiEvent, caller: Caller) -> Answer:
    settings = service.settings
    request = parse_refresh(event, max_body_bytes=settings.max_body_bytes, scopes=settings.scopes)
    return service.refresh(request, caller)


def _logout(service: SessionService, event: ApiEvent, caller: Caller) -> Answer:
    return service.logout(parse_logout(event, max_body_bytes=service.settings.max_body_bytes), caller)


#: The routes of the session function; the metric of an answer is the prefix plus its outcome.
SESSION_ROUTES: dict[str, Route[SessionService]] = {
    route.key: route
    for route in (
        Route("POST /login/mfa/challenge", "mfa challenge", "MfaChallenge", _challenge),
        Route("GET /login/mfa/authenticators", "mfa authenticators", "MfaAuthenticators", _authenticators),
        Route("POST /login/mfa", "mfa verify", "MfaVerify", _verify),
        Route(
            "POST /token/refresh",
            "token refresh",
            "TokenRefresh",
            _refresh,
            session_cookie=SessionCookie.PRESENTED,
        ),
        Route("POST /logout", "logout", "Logout", _logout, session_cookie=SessionCookie.ENDED),
    )
}
