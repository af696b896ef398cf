"""ropguard.session_outcomes: Auth0's answers to the MFA, refresh and revoke calls, one table."""

from __future__ import annotations

from typing import Any

import pytest

from ropguard.auth0_client import Auth0Reply
from ropguard.session_outcomes import Kind, authenticators, challenge, classify, revoked, tokens

NOW = 1_700_000_000.0


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Auth0Reply:
    return Auth0Reply(status, body, headers or {})


def error(code: str, description: str = "described") -> dict[str, str]:
    return {"error": code, "error_description": description}


@pytest.mark.parametrize(
    ("status", "body", "kind", "answered", "description"),
    [
        (403, error("invalid_grant", "Invalid otp_code."), Kind.INVALID_GRANT, 403, "Invalid otp_code."),
        (403, error("invalid_otp"), Kind.INVALID_GRANT, 403, "Invalid otp_code."),
        (400, error("invalid_binding_code"), Kind.INVALID_GRANT, 403, "Invalid binding_code."),
        (403, error("invalid_recovery_code"), Kind.INVALID_GRANT, 403, "Invalid recovery_code."),
        (401, error("mfa_token_invalid"), Kind.INVALID_GRANT, 403, "Malformed mfa_token"),
        (403, error("expired_token", "whatever"), Kind.MFA_TOKEN_EXPIRED, 403, "mfa_token is expired"),
        (400, error("authorization_pending", "wait"), Kind.AUTHORIZATION_PENDING, 400, "wait"),
        (429, error("slow_down", "slower"), Kind.SLOW_DOWN, 429, "slower"),
        (429, error("too_many_attempts", "blocked"), Kind.TOO_MANY_ATTEMPTS, 429, "blocked"),
        (403, error("access_denied", "no"), Kind.ACCESS_DENIED, 403, "no"),
        (400, error("unsupported_challenge_type", "x"), Kind.UNSUPPORTED_CHALLENGE_TYPE, 400, "x"),
    ],
)
def test_old_and_new_forms_get_one_answer_each(
    status: int, body: dict[str, str], kind: Kind, answered: int, description: str
) -> None:
    classified = classify(reply(status, body), tokens, now=NOW)
    assert (classified.kind, classified.status, classified.body["error_description"]) == (
        kind,
        answered,
        description,
    )


@pytest.mark.parametrize("status", [401, 403])
def test_mfa_required_is_403_with_its_token_whatever_status_auth0_used(status: int) -> None:
    body = {**error("mfa_required"), "mfa_token": "m", "mfa_requirements": {"challenge": []}}
    classified = classify(reply(status, body), tokens, now=NOW)
    assert (classified.kind, classified.status) == (Kind.MFA_REQUIRED, 403)
    assert classified.body["mfa_token"] == "m"


@pytest.mark.parametrize(
    ("status", "body", "kind", "answered"),
    [
        (401, error("invalid_client"), Kind.CLIENT_REJECTED, 502),
        (401, error("access_denied"), Kind.CLIENT_REJECTED, 502),
        (403, error("unauthorized_client"), Kind.MISCONFIGURED, 502),
        (400, error("invalid_request"), Kind.MISCONFIGURED, 502),
        (500, error("server_error"), Kind.UPSTREAM_ERROR, 502),
        (403, None, Kind.UPSTREAM_ERROR, 502),
        (200, {"id_token": "x"}, Kind.UPSTREAM_ERROR, 502),
    ],
)
def test_our_faults_and_upstream_faults_are_502(status: int, body: Any, kind: Kind, answered: int) -> None:
    classified = classify(reply(status, body), tokens, now=NOW)
    assert (classified.kind, classified.status) == (kind, answered)


def test_rate_limit_sets_retry_after() -> None:
    limited = reply(429, error("too_many_requests"), {"x-ratelimit-reset": str(int(NOW) + 7)})
    classified = classify(limited, tokens, now=NOW)
    assert (classified.kind, classified.headers["Retry-After"]) == (Kind.RATE_LIMITED, "7")


def test_success_shapes() -> None:
    assert tokens({"access_token": "a", "recovery_code": "r"}) == {"access_token": "a", "recovery_code": "r"}
    assert challenge({"challenge_type": "oob", "oob_code": "o", "binding_method": "prompt", "x": 1}) == {
        "challenge_type": "oob",
        "oob_code": "o",
        "binding_method": "prompt",
    }
    listed = [{"id": "i", "authenticator_type": "otp", "active": True, "secret": "s"}]
    assert authenticators(listed) == [{"id": "i", "authenticator_type": "otp", "active": True}]
    assert authenticators({"id": "i"}) is None
    assert revoked(None) == {}


def test_revoking_an_invalid_token_is_a_logout() -> None:
    classified = classify(reply(400, error("invalid_grant")), revoked, now=NOW, invalid_is_success=True)
    assert (classified.kind, classified.status, classified.body) == (Kind.SUCCEEDED, 200, {})
