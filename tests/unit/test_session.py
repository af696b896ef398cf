"""ropguard.session: what each route sends Auth0 (fields, bearer, forwarded address), once, under
the rotation rule; in-process fakes of the endpoint and the secret (the HTTP tier is
tests/integration/test_session_routes.py)."""

from __future__ import annotations

from typing import Any

import pytest

from ropguard.auth0_client import MFA_OOB_GRANT, MFA_OTP_GRANT, MFA_RECOVERY_CODE_GRANT, Auth0Call, Auth0Reply
from ropguard.credentials import ClientCredentials
from ropguard.edge import Caller
from ropguard.errors import UpstreamTimeoutError
from ropguard.session import SESSION_ROUTES, SessionService
from ropguard.session_requests import (
    AuthenticatorsRequest,
    LogoutRequest,
    MfaChallengeRequest,
    MfaVerifyRequest,
    OobFactor,
    OtpFactor,
    RecoveryCodeFactor,
    RefreshRequest,
)
from ropguard.settings import ApiSettings

CALLER = Caller("203.0.113.9", "req-1")
CREDENTIALS = ClientCredentials("client", "secret-never-log")
TOKENS = {"access_token": "a", "token_type": "Bearer"}


class FakeAuth0:
    def __init__(self, *replies: Auth0Reply) -> None:
        self.replies = list(replies)
        self.sent: list[tuple[Auth0Call, ClientCredentials | None, str]] = []

    def send(
        self, call: Auth0Call, credentials: ClientCredentials | None, *, forwarded_for: str
    ) -> Auth0Reply:
        self.sent.append((call, credentials, forwarded_for))
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply

    def close(self) -> None:
        pass


class FakeSecret:
    def __init__(self, *values: ClientCredentials) -> None:
        self.values = list(values)

    def get(self, *, refresh: bool = False) -> ClientCredentials:
        if refresh and len(self.values) > 1:
            self.values.pop(0)
        return self.values[0]


def service(*replies: Any, secret: FakeSecret | None = None) -> tuple[SessionService, FakeAuth0]:
    auth0 = FakeAuth0(*replies)
    settings = ApiSettings.from_env({"AUTH0_DOMAIN": "tenant.example.com", "AUTH0_SECRET_ID": "s"})
    built = SessionService(
        settings,
        credentials=secret or FakeSecret(CREDENTIALS),
        auth0=auth0,
        clock=lambda: 0.0,  # type: ignore[arg-type]
    )
    return built, auth0


@pytest.mark.parametrize(
    ("factor", "grant", "extra"),
    [
        (OtpFactor("123456"), MFA_OTP_GRANT, {"otp": "123456"}),
        (OobFactor("oob", "654321"), MFA_OOB_GRANT, {"oob_code": "oob", "binding_code": "654321"}),
        (OobFactor("oob", None), MFA_OOB_GRANT, {"oob_code": "oob"}),
        (RecoveryCodeFactor("R" * 24), MFA_RECOVERY_CODE_GRANT, {"recovery_code": "R" * 24}),
    ],
)
def test_verify_sends_the_matching_grant(factor: Any, grant: str, extra: dict[str, str]) -> None:
    session, auth0 = service(Auth0Reply(200, TOKENS, {}))
    answer = session.verify(MfaVerifyRequest("mfa", factor), CALLER)
    ((call, credentials, forwarded),) = auth0.sent
    assert (call.method, call.path, credentials, forwarded) == (
        "POST",
        "/oauth/token",
        CREDENTIALS,
        CALLER.source_ip,
    )
    assert dict(call.fields) == {"grant_type": grant, "mfa_token": "mfa", **extra}
    assert (answer.outcome, answer.status, answer.body) == ("Succeeded", 200, TOKENS)


def test_challenge_sends_only_what_was_given() -> None:
    session, auth0 = service(Auth0Reply(200, {"challenge_type": "otp"}, {}))
    answer = session.challenge(MfaChallengeRequest("mfa", None, "auth-1"), CALLER)
    assert dict(auth0.sent[0][0].fields) == {"mfa_token": "mfa", "authenticator_id": "auth-1"}
    assert answer.body == {"challenge_type": "otp"}


def test_authenticators_use_the_bearer_and_no_client_secret() -> None:
    session, auth0 = service(Auth0Reply(200, [{"id": "x", "authenticator_type": "otp", "active": True}], {}))
    session.authenticators(AuthenticatorsRequest("mfa"), CALLER)
    ((call, credentials, forwarded),) = auth0.sent
    assert (call.method, call.bearer, call.client_auth, credentials) == ("GET", "mfa", False, None)
    assert forwarded == CALLER.source_ip


def test_refresh_and_logout() -> None:
    session, auth0 = service(Auth0Reply(200, TOKENS, {}), Auth0Reply(200, None, {}))
    session.refresh(RefreshRequest("rt", "openid"), CALLER)
    logout = session.logout(LogoutRequest("rt"), CALLER)
    assert dict(auth0.sent[0][0].fields) == {
        "grant_type": "refresh_token",
        "refresh_token": "rt",
        "scope": "openid",
    }
    assert (auth0.sent[1][0].path, dict(auth0.sent[1][0].fields)) == ("/oauth/revoke", {"token": "rt"})
    assert (logout.status, logout.body) == (200, {})


def test_a_rotated_secret_sends_the_grant_once_more() -> None:
    rotated = ClientCredentials("client", "rotated-never-log")
    session, auth0 = service(
        Auth0Reply(401, {"error": "invalid_client"}, {}),
        Auth0Reply(200, TOKENS, {}),
        secret=FakeSecret(CREDENTIALS, rotated),
    )
    answer = session.refresh(RefreshRequest("rt", None), CALLER)
    assert [credentials for _, credentials, _ in auth0.sent] == [CREDENTIALS, rotated]
    assert answer.log_fields["attempts"] == 2


def test_a_timeout_is_raised_not_retried() -> None:
    session, auth0 = service(UpstreamTimeoutError("ReadTimeout"))
    with pytest.raises(UpstreamTimeoutError):
        session.verify(MfaVerifyRequest("mfa", OtpFactor("1")), CALLER)
    assert len(auth0.sent) == 1


def test_log_fields_hold_no_secret() -> None:
    session, _ = service(Auth0Reply(403, {"error": "invalid_grant", "error_description": "x"}, {}))
    answer = session.verify(MfaVerifyRequest("mfa-token-secret", OtpFactor("123456")), CALLER)
    assert "mfa-token-secret" not in repr(answer)
    assert answer.log_fields["factor"] == "otp"
    assert answer.log_fields["auth0_error"] == "invalid_grant"


def test_routes() -> None:
    assert {route.metric_prefix for route in SESSION_ROUTES.values()} == {
        "MfaChallenge",
        "MfaAuthenticators",
        "MfaVerify",
        "TokenRefresh",
        "Logout",
    }


ROTATED = ClientCredentials("client", "rotated-secret-never-log")


@pytest.mark.parametrize(
    ("status", "code"),
    [(401, "access_denied"), (401, "invalid_oob_code"), (400, "invalid_otp"), (400, "invalid_grant")],
)
def test_an_mfa_calls_401_or_400_is_the_users_failed_step_and_sent_once(status: int, code: str) -> None:
    """Never a secret re-read, never a second send of the code, never ClientRejected."""
    secret = FakeSecret(CREDENTIALS, ROTATED)  # a re-read would find a new secret and send again
    failed = Auth0Reply(status, {"error": code, "error_description": "Invalid MFA token"}, {})
    session, auth0 = service(failed, secret=secret)
    answer = session.verify(MfaVerifyRequest("mfa", OtpFactor("123456")), CALLER)
    assert (answer.outcome, answer.status, answer.body["error"]) == ("InvalidGrant", 403, "invalid_grant")
    assert len(auth0.sent) == 1
    assert secret.values[0] == CREDENTIALS


def test_invalid_client_on_an_mfa_call_still_rereads_a_rotated_secret() -> None:
    secret = FakeSecret(CREDENTIALS, ROTATED)
    rejected = Auth0Reply(401, {"error": "invalid_client"}, {})
    session, auth0 = service(rejected, Auth0Reply(200, TOKENS, {}), secret=secret)
    answer = session.verify(MfaVerifyRequest("mfa", OtpFactor("123456")), CALLER)
    assert (answer.status, [credentials for _, credentials, _ in auth0.sent]) == (200, [CREDENTIALS, ROTATED])


def test_slow_down_keeps_interval_and_retry_after() -> None:
    slow = Auth0Reply(
        429, {"error": "slow_down", "error_description": "slower", "interval": 10}, {"retry-after": "10"}
    )
    session, _ = service(slow)
    answer = session.verify(MfaVerifyRequest("mfa", OobFactor("oob", None)), CALLER)
    assert (answer.outcome, answer.status, answer.headers) == ("SlowDown", 429, {"Retry-After": "10"})
    assert answer.body == {"error": "slow_down", "error_description": "slower", "interval": 10}
