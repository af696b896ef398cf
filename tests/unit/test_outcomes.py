"""ropguard.outcomes: Auth0's answers to the password grant, MFA, refresh and revoke calls, one table."""

from __future__ import annotations

from typing import Any

import pytest

from ropguard.auth0_client import Auth0Reply
from ropguard.outcomes import (
    Outcome,
    Step,
    authenticators,
    challenge,
    classify,
    client_rejected,
    retry_after_seconds,
    revoked,
    tokens,
)

NOW = 1_700_000_000.0
VERIFY = "requires_verification"


def reply(status: int, body: Any, headers: dict[str, str] | None = None) -> Auth0Reply:
    return Auth0Reply(status, body, headers or {})


def error(code: str, description: str = "described") -> dict[str, str]:
    return {"error": code, "error_description": description}


@pytest.mark.parametrize(
    ("status", "body", "kind", "answered", "description"),
    [
        (403, error("invalid_grant", "Invalid otp_code."), Outcome.INVALID_GRANT, 403, "Invalid otp_code."),
        (403, error("invalid_otp"), Outcome.INVALID_GRANT, 403, "Invalid otp_code."),
        (400, error("invalid_binding_code"), Outcome.INVALID_GRANT, 403, "Invalid binding_code."),
        (403, error("invalid_recovery_code"), Outcome.INVALID_GRANT, 403, "Invalid recovery_code."),
        (401, error("mfa_token_invalid"), Outcome.INVALID_GRANT, 403, "Malformed mfa_token"),
        (403, error("expired_token", "whatever"), Outcome.MFA_TOKEN_EXPIRED, 403, "mfa_token is expired"),
        (400, error("authorization_pending", "wait"), Outcome.AUTHORIZATION_PENDING, 400, "wait"),
        (429, error("slow_down", "slower"), Outcome.SLOW_DOWN, 429, "slower"),
        (429, error("too_many_attempts", "blocked"), Outcome.TOO_MANY_ATTEMPTS, 429, "blocked"),
        (403, error("access_denied", "no"), Outcome.ACCESS_DENIED, 403, "no"),
        (400, error("unsupported_challenge_type", "x"), Outcome.UNSUPPORTED_CHALLENGE_TYPE, 400, "x"),
    ],
)
def test_old_and_new_forms_get_one_answer_each(
    status: int, body: dict[str, str], kind: Outcome, answered: int, description: str
) -> None:
    classified = classify(reply(status, body), Step.MFA, tokens, now=NOW)
    assert (classified.outcome, classified.status, classified.body["error_description"]) == (
        kind,
        answered,
        description,
    )


@pytest.mark.parametrize("status", [401, 403])
def test_mfa_required_is_403_with_its_token_whatever_status_auth0_used(status: int) -> None:
    body = {**error("mfa_required"), "mfa_token": "m", "mfa_requirements": {"challenge": []}}
    classified = classify(reply(status, body), Step.MFA, tokens, now=NOW)
    assert (classified.outcome, classified.status) == (Outcome.MFA_REQUIRED, 403)
    assert classified.body["mfa_token"] == "m"


@pytest.mark.parametrize(
    ("status", "body", "kind", "answered"),
    [
        (401, error("invalid_client"), Outcome.CLIENT_REJECTED, 502),
        (403, error("unauthorized_client"), Outcome.MISCONFIGURED, 502),
        (400, error("invalid_request"), Outcome.MISCONFIGURED, 502),
        (500, error("server_error"), Outcome.UPSTREAM_ERROR, 502),
        (403, None, Outcome.UPSTREAM_ERROR, 502),
        (200, {"id_token": "x"}, Outcome.UPSTREAM_ERROR, 502),
    ],
)
def test_our_faults_and_upstream_faults_are_502(status: int, body: Any, kind: Outcome, answered: int) -> None:
    classified = classify(reply(status, body), Step.MFA, tokens, now=NOW)
    assert (classified.outcome, classified.status) == (kind, answered)


def test_rate_limit_sets_retry_after() -> None:
    limited = reply(429, error("too_many_requests"), {"x-ratelimit-reset": str(int(NOW) + 7)})
    classified = classify(limited, Step.REFRESH, tokens, now=NOW)
    assert (classified.outcome, classified.headers["Retry-After"]) == (Outcome.RATE_LIMITED, "7")


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
    classified = classify(reply(400, error("invalid_grant")), Step.REVOKE, revoked, now=NOW)
    assert (classified.outcome, classified.status, classified.body) == (Outcome.SUCCEEDED, 200, {})


# --- the password grant (POST /login) -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "body", "outcome", "answer_status", "error_code"),
    [
        (200, {"access_token": "t"}, Outcome.SUCCEEDED, 200, None),
        (200, {"id_token": "t"}, Outcome.UPSTREAM_ERROR, 502, "temporarily_unavailable"),
        (403, {"error": "invalid_grant"}, Outcome.INVALID_GRANT, 403, "invalid_grant"),
        (429, {"error": "too_many_attempts"}, Outcome.TOO_MANY_ATTEMPTS, 429, "too_many_attempts"),
        (401, {"error": "password_leaked"}, Outcome.PASSWORD_LEAKED, 401, "password_leaked"),
        (403, {"error": "mfa_required"}, Outcome.MFA_REQUIRED, 403, "mfa_required"),
        (401, {"error": "unauthorized"}, Outcome.USER_BLOCKED, 401, "unauthorized"),
        (403, {"error": "access_denied"}, Outcome.ACCESS_DENIED, 403, "access_denied"),
        (401, {"error": "access_denied"}, Outcome.CLIENT_REJECTED, 502, "server_error"),
        (401, {"error": "invalid_client"}, Outcome.CLIENT_REJECTED, 502, "server_error"),
        (
            401,
            {"error": "requires_verification"},
            Outcome.VERIFICATION_REQUIRED,
            401,
            "requires_verification",
        ),
        (403, {"error": "unauthorized_client"}, Outcome.MISCONFIGURED, 502, "server_error"),
        (400, {"error": "invalid_grant"}, Outcome.MISCONFIGURED, 502, "server_error"),
        (429, {"error": "too_many_requests"}, Outcome.RATE_LIMITED, 429, "too_many_requests"),
        (500, {"error": "invalid_grant"}, Outcome.UPSTREAM_ERROR, 502, "temporarily_unavailable"),
        (403, None, Outcome.UPSTREAM_ERROR, 502, "temporarily_unavailable"),
        (403, {"error": 3}, Outcome.UPSTREAM_ERROR, 502, "temporarily_unavailable"),
    ],
)
def test_password_grant(
    status: int, body: Any, outcome: Outcome, answer_status: int, error_code: str | None
) -> None:
    classified = classify(reply(status, body), Step.PASSWORD, tokens, now=0)
    assert (classified.outcome, classified.status) == (outcome, answer_status)
    if error_code:
        assert classified.body["error"] == error_code
        assert isinstance(classified.body["error_description"], str)


def test_bot_detection_is_passed_on_as_auth0_gave_it() -> None:
    described = error("requires_verification", "Suspicious request requires verification")
    classified = classify(reply(401, described), Step.PASSWORD, tokens, now=0)
    assert (classified.outcome, classified.status, classified.body) == (
        Outcome.VERIFICATION_REQUIRED,
        401,
        described,
    )
    assert not client_rejected(reply(401, described), Step.PASSWORD)


def test_pass_through_keeps_only_error_description_and_mfa_fields() -> None:
    body = {
        "error": "mfa_required",
        "error_description": "d",
        "mfa_token": "m",
        "mfa_requirements": {},
        "x": 1,
    }
    assert classify(reply(403, body), Step.PASSWORD, tokens, now=0).body == {
        "error": "mfa_required",
        "error_description": "d",
        "mfa_token": "m",
        "mfa_requirements": {},
    }


@pytest.mark.parametrize(
    ("reset", "seconds"),
    [
        ("1000042", 42),
        ("1000000.2", 1),
        ("999990", 1),
        ("99999999999", 3600),
        (None, 60),
        ("soon", 60),
        ("nan", 60),
    ],
)
def test_retry_after(reset: str | None, seconds: int) -> None:
    assert retry_after_seconds(reset, now=1_000_000) == seconds
    if reset is not None:
        limited = reply(429, {"error": "too_many_requests"}, {"x-ratelimit-reset": reset})
        answer = classify(limited, Step.PASSWORD, tokens, now=1_000_000)
        assert answer.headers == {"Retry-After": str(seconds)}


# --- an MFA call's 401 or 400 is the user's failed step, never our client --------------------------


@pytest.mark.parametrize(
    ("status", "code", "description"),
    [
        (401, "access_denied", "described"),  # Auth0's own: it says which of token or code was wrong
        (400, "invalid_grant", "described"),
        (400, "invalid_otp", "Invalid otp_code."),
        (401, "invalid_oob_code", "Invalid oob_code."),
        (401, "invalid_recovery_code", "Invalid recovery_code."),
        (400, "invalid_binding_code", "Invalid binding_code."),
        (401, "mfa_token_invalid", "Malformed mfa_token"),
    ],
)
def test_mfa_failures_are_the_users_failed_step(status: int, code: str, description: str) -> None:
    failed = reply(status, error(code))
    classified = classify(failed, Step.MFA, tokens, now=NOW)
    assert (classified.outcome, classified.status) == (Outcome.INVALID_GRANT, 403)
    assert classified.body == {"error": "invalid_grant", "error_description": description}
    assert not client_rejected(failed, Step.MFA)


@pytest.mark.parametrize("description", ["Invalid MFA token", "Invalid recovery_code.", "Invalid oob_code."])
def test_an_mfa_401_access_denied_keeps_auth0s_description(description: str) -> None:
    """The code does not say whether the token or the user's code was wrong; the description does."""
    classified = classify(reply(401, error("access_denied", description)), Step.MFA, tokens, now=NOW)
    assert (classified.status, classified.body) == (
        403,
        {"error": "invalid_grant", "error_description": description},
    )


@pytest.mark.parametrize("status", [400, 401])
def test_an_expired_mfa_token_is_the_users_failed_step(status: int) -> None:
    classified = classify(reply(status, error("expired_token")), Step.MFA, tokens, now=NOW)
    assert (classified.outcome, classified.status) == (Outcome.MFA_TOKEN_EXPIRED, 403)


def test_only_invalid_client_rejects_the_client_outside_the_password_grant() -> None:
    for step in Step:
        assert client_rejected(reply(401, error("invalid_client")), step)
    assert client_rejected(reply(401, error("access_denied")), Step.PASSWORD)
    for step in (Step.MFA, Step.REFRESH, Step.REVOKE):
        assert not client_rejected(reply(401, error("access_denied")), step)
    assert not client_rejected(reply(403, error("access_denied")), Step.PASSWORD)
    assert not client_rejected(reply(500, error("invalid_client")), Step.PASSWORD)


# --- push polling keeps interval and Retry-After ---------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(400, "authorization_pending"), (429, "slow_down")])
def test_polling_answers_keep_interval_and_retry_after(status: int, code: str) -> None:
    polled = reply(status, {**error(code, "wait"), "interval": 10}, {"retry-after": "10"})
    classified = classify(polled, Step.MFA, tokens, now=NOW)
    assert classified.status == status
    assert classified.body == {"error": code, "error_description": "wait", "interval": 10}
    assert classified.headers == {"Retry-After": "10"}


def test_polling_answers_drop_unusable_interval_and_retry_after() -> None:
    polled = reply(429, {**error("slow_down"), "interval": "soon"}, {"retry-after": "Wed, 21 Oct 2015"})
    classified = classify(polled, Step.MFA, tokens, now=NOW)
    assert "interval" not in classified.body
    assert classified.headers == {}
