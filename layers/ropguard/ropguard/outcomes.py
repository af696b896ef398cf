"""Auth0's answer to a password grant, classified into the design's response table.

Branches on Auth0's ``error`` code, never its description (Auth0 says descriptions change).
Answers the end user can act on pass through in Auth0's own dialect; answers that mean *we* are
misconfigured become a generic 502 so tenant details stay in logs and metrics.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ropguard.auth0_client import Auth0Reply


class Outcome(StrEnum):
    """One per row of the response table; the value is the CloudWatch metric name."""

    SUCCEEDED = "LoginSucceeded"
    INVALID_GRANT = "LoginInvalidGrant"
    TOO_MANY_ATTEMPTS = "LoginTooManyAttempts"
    PASSWORD_LEAKED = "LoginPasswordLeaked"  # noqa: S105 - a metric name
    MFA_REQUIRED = "LoginMfaRequired"
    USER_BLOCKED = "LoginUserBlocked"
    ACCESS_DENIED = "LoginAccessDenied"
    RATE_LIMITED = "LoginRateLimited"
    CLIENT_REJECTED = "LoginClientRejected"
    MISCONFIGURED = "LoginMisconfigured"
    UPSTREAM_ERROR = "LoginUpstreamError"
    UPSTREAM_TIMEOUT = "LoginUpstreamTimeout"
    SECRET_UNAVAILABLE = "LoginSecretUnavailable"  # noqa: S105
    BAD_REQUEST = "LoginBadRequest"
    SOURCE_IP_MISSING = "SourceIpMissing"
    ORIGIN_NOT_VERIFIED = "OriginNotVerified"  # CloudFront mode: X-Origin-Verify missing or wrong
    VIEWER_ADDRESS_INVALID = "ViewerAddressInvalid"  # CloudFront mode: verified, no usable viewer address
    CONFIGURATION_INVALID = "ConfigurationInvalid"


# Error codes whose answer the end user acts on: passed through with Auth0's status and text.
_PASS_THROUGH = {
    "invalid_grant": Outcome.INVALID_GRANT,
    "too_many_attempts": Outcome.TOO_MANY_ATTEMPTS,
    "password_leaked": Outcome.PASSWORD_LEAKED,
    "mfa_required": Outcome.MFA_REQUIRED,
    "unauthorized": Outcome.USER_BLOCKED,
    "access_denied": Outcome.ACCESS_DENIED,
}
# Extra fields Auth0 adds to an error that the client needs to continue (MFA).
_PASS_THROUGH_EXTRAS = ("mfa_token", "mfa_requirements")

DEFAULT_RETRY_AFTER_SECONDS = 60
MAX_RETRY_AFTER_SECONDS = 3600


@dataclass(frozen=True, slots=True)
class Classified:
    """What to answer: outcome, status, JSON body, extra headers."""

    outcome: Outcome
    status: int
    body: dict[str, Any] = field(repr=False)
    headers: dict[str, str] = field(default_factory=dict)


def error_body(error: str, description: str) -> dict[str, Any]:
    return {"error": error, "error_description": description}


MISCONFIGURED_BODY = error_body("server_error", "The login service is misconfigured. Try again later.")
UPSTREAM_BODY = error_body(
    "temporarily_unavailable", "The identity provider is unavailable. Try again later."
)
TIMEOUT_BODY = error_body("temporarily_unavailable", "The identity provider did not answer in time.")


def retry_after_seconds(reset_header: str | None, now: float) -> int:
    """Seconds until ``X-RateLimit-Reset`` (UTC epoch seconds), at least 1, capped at an hour."""
    try:
        reset = float(reset_header) if reset_header is not None else math.nan
    except ValueError:
        reset = math.nan
    if not math.isfinite(reset):
        return DEFAULT_RETRY_AFTER_SECONDS
    return max(1, min(MAX_RETRY_AFTER_SECONDS, math.ceil(reset - now)))


def auth0_error_code(reply: Auth0Reply) -> str | None:
    body = reply.body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return None


def classify(reply: Auth0Reply, *, now: float) -> Classified:
    """Map one /oauth/token reply to our answer."""
    body = reply.body
    if reply.status == 200:
        if isinstance(body, dict) and isinstance(body.get("access_token"), str):
            return Classified(Outcome.SUCCEEDED, 200, body)
        return Classified(Outcome.UPSTREAM_ERROR, 502, UPSTREAM_BODY)
    code = auth0_error_code(reply)
    if reply.status >= 500 or not 400 <= reply.status < 500 or code is None:
        return Classified(Outcome.UPSTREAM_ERROR, 502, UPSTREAM_BODY)
    if code == "invalid_client" or (code == "access_denied" and reply.status == 401):
        # 401 access_denied is how older tenants say "client authentication failed".
        return Classified(Outcome.CLIENT_REJECTED, 502, MISCONFIGURED_BODY)
    if code == "too_many_requests":
        retry_after = retry_after_seconds(reply.headers.get("x-ratelimit-reset"), now)
        described = body.get("error_description") if isinstance(body, dict) else None
        return Classified(
            Outcome.RATE_LIMITED,
            429,
            error_body(code, described if isinstance(described, str) else "Too many requests."),
            {"Retry-After": str(retry_after)},
        )
    outcome = _PASS_THROUGH.get(code)
    if outcome is None or reply.status == 400:
        # unauthorized_client, a 400 about a request we built, or a code we do not know.
        return Classified(Outcome.MISCONFIGURED, 502, MISCONFIGURED_BODY)
    assert isinstance(body, dict)  # noqa: S101 - auth0_error_code found a dict
    description = body.get("error_description")
    answer = error_body(code, description if isinstance(description, str) else code.replace("_", " "))
    answer.update({key: body[key] for key in _PASS_THROUGH_EXTRAS if key in body})
    return Classified(outcome, reply.status, answer)
