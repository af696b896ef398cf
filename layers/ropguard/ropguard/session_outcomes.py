"""Auth0's answers to the MFA, refresh and revoke calls, classified into one table.

Branches on Auth0's ``error`` code, never its description or status: ``mfa_required`` comes as 401
or 403, and Auth0 has two dialects for MFA failures. The older one (``invalid_grant`` "Invalid
otp_code.", ``expired_token`` "mfa_token is expired") is what the Auth0 SDKs match, so the newer
codes (``invalid_otp``, ``mfa_token_invalid``, ...) are answered in it: one code, one answer, every
time. ``authorization_pending`` and ``slow_down`` pass through so a client can poll a push approval.
Our misconfiguration, rate limits and faults get the same answers as /login.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ropguard.auth0_client import Auth0Reply
from ropguard.outcomes import MISCONFIGURED_BODY, UPSTREAM_BODY, error_body, retry_after_seconds
from ropguard.rotation import client_rejected


class Kind(StrEnum):
    """What happened; a route's metric is its prefix plus this (``MfaVerifyInvalidGrant``)."""

    SUCCEEDED = "Succeeded"
    INVALID_GRANT = "InvalidGrant"
    MFA_TOKEN_EXPIRED = "MfaTokenExpired"  # noqa: S105 - a metric name
    MFA_REQUIRED = "MfaRequired"
    AUTHORIZATION_PENDING = "AuthorizationPending"
    SLOW_DOWN = "SlowDown"
    ACCESS_DENIED = "AccessDenied"
    USER_BLOCKED = "UserBlocked"
    TOO_MANY_ATTEMPTS = "TooManyAttempts"
    UNSUPPORTED_CHALLENGE_TYPE = "UnsupportedChallengeType"
    ASSOCIATION_REQUIRED = "AssociationRequired"
    RATE_LIMITED = "RateLimited"
    CLIENT_REJECTED = "ClientRejected"
    MISCONFIGURED = "Misconfigured"
    UPSTREAM_ERROR = "UpstreamError"


@dataclass(frozen=True, slots=True)
class Rule:
    """The answer to one Auth0 error code: ``description`` None passes Auth0's own text, ``status``
    None Auth0's own status."""

    kind: Kind
    status: int | None
    error: str
    description: str | None = None


MALFORMED_MFA_TOKEN = Rule(Kind.INVALID_GRANT, 403, "invalid_grant", "Malformed mfa_token")

#: Auth0 error code -> our answer. Old and new forms of the same failure share one answer.
RULES: Mapping[str, Rule] = {
    "invalid_grant": Rule(Kind.INVALID_GRANT, 403, "invalid_grant"),
    "invalid_otp": Rule(Kind.INVALID_GRANT, 403, "invalid_grant", "Invalid otp_code."),
    "invalid_binding_code": Rule(Kind.INVALID_GRANT, 403, "invalid_grant", "Invalid binding_code."),
    "invalid_oob_code": Rule(Kind.INVALID_GRANT, 403, "invalid_grant", "Invalid oob_code."),
    "invalid_recovery_code": Rule(Kind.INVALID_GRANT, 403, "invalid_grant", "Invalid recovery_code."),
    "mfa_token_invalid": MALFORMED_MFA_TOKEN,
    "invalid_token": MALFORMED_MFA_TOKEN,
    "expired_token": Rule(Kind.MFA_TOKEN_EXPIRED, 403, "expired_token", "mfa_token is expired"),
    "mfa_required": Rule(Kind.MFA_REQUIRED, 403, "mfa_required"),
    # Passed through as Auth0 sends them (400 pending, 400 or 429 slow_down): the client polls again.
    "authorization_pending": Rule(Kind.AUTHORIZATION_PENDING, None, "authorization_pending"),
    "slow_down": Rule(Kind.SLOW_DOWN, None, "slow_down"),
    "access_denied": Rule(Kind.ACCESS_DENIED, 403, "access_denied"),
    "unauthorized": Rule(Kind.USER_BLOCKED, 401, "unauthorized"),
    "too_many_attempts": Rule(Kind.TOO_MANY_ATTEMPTS, 429, "too_many_attempts"),
    "unsupported_challenge_type": Rule(Kind.UNSUPPORTED_CHALLENGE_TYPE, 400, "unsupported_challenge_type"),
    "association_required": Rule(Kind.ASSOCIATION_REQUIRED, 403, "association_required"),
}
# Extra fields of an Auth0 error the client needs to continue (a new MFA step).
PASS_THROUGH_EXTRAS = ("mfa_token", "mfa_requirements")
# Fields of an authenticator the client may see (never secrets, and nothing Auth0 adds later).
AUTHENTICATOR_FIELDS = ("id", "authenticator_type", "active", "oob_channel", "name")
CHALLENGE_FIELDS = ("challenge_type", "oob_code", "binding_method")


@dataclass(frozen=True, slots=True)
class Classified:
    kind: Kind
    status: int
    body: Any = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)


Success = Callable[[Any], Any]  # the 200 body -> our body, or None when it is not a usable answer


def tokens(body: Any) -> Any:
    """A token response passes through whole (it may carry a new ``recovery_code``)."""
    return body if isinstance(body, dict) and isinstance(body.get("access_token"), str) else None


def challenge(body: Any) -> Any:
    if not isinstance(body, dict) or not isinstance(body.get("challenge_type"), str):
        return None
    return {key: body[key] for key in CHALLENGE_FIELDS if isinstance(body.get(key), str)}


def authenticators(body: Any) -> Any:
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        return None
    return [{key: item[key] for key in AUTHENTICATOR_FIELDS if key in item} for item in body]


def revoked(body: Any) -> Any:
    """Auth0 answers 200 with an empty body; we answer ``{}``."""
    return {}


def _code(reply: Auth0Reply) -> str | None:
    body = reply.body
    return body["error"] if isinstance(body, dict) and isinstance(body.get("error"), str) else None


def classify(
    reply: Auth0Reply, success: Success, *, now: float, invalid_is_success: bool = False
) -> Classified:
    """Map one reply; ``invalid_is_success`` for /oauth/revoke (an invalid token is already logged out)."""
    if reply.status == 200:
        passed = success(reply.body)
        if passed is None:
            return Classified(Kind.UPSTREAM_ERROR, 502, UPSTREAM_BODY)
        return Classified(Kind.SUCCEEDED, 200, passed)
    code = _code(reply)
    if not 400 <= reply.status < 500 or code is None:
        return Classified(Kind.UPSTREAM_ERROR, 502, UPSTREAM_BODY)
    if client_rejected(reply):
        return Classified(Kind.CLIENT_REJECTED, 502, MISCONFIGURED_BODY)
    if code == "too_many_requests":  # the Authentication API's own rate limit
        described = reply.body.get("error_description")
        return Classified(
            Kind.RATE_LIMITED,
            429,
            error_body(code, described if isinstance(described, str) else "Too many requests."),
            {"Retry-After": str(retry_after_seconds(reply.headers.get("x-ratelimit-reset"), now))},
        )
    rule = RULES.get(code)
    if rule is None:  # unauthorized_client, invalid_request, invalid_scope, a code we do not know
        return Classified(Kind.MISCONFIGURED, 502, MISCONFIGURED_BODY)
    if invalid_is_success and rule.kind is Kind.INVALID_GRANT:
        return Classified(Kind.SUCCEEDED, 200, {})
    described = reply.body.get("error_description")
    if rule.description is not None:
        description = rule.description
    elif isinstance(described, str):
        description = described
    else:
        description = code.replace("_", " ")
    answer: dict[str, Any] = error_body(rule.error, description)
    answer.update({key: reply.body[key] for key in PASS_THROUGH_EXTRAS if key in reply.body})
    return Classified(rule.kind, reply.status if rule.status is None else rule.status, answer)
