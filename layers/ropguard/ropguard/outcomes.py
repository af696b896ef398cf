"""Auth0's answers to every call ropguard makes, classified by ONE rule table (``RULES``).

Branches on Auth0's ``error`` code (and, where Auth0 reuses a code, on the call and its status),
never on the description: Auth0 says descriptions change. Each row says what the end user gets:

* answers the user can act on pass through in Auth0's dialect (``invalid_grant``, ``mfa_required``
  with its ``mfa_token``, ``too_many_attempts``, ``requires_verification`` from Bot Detection: the
  app falls back to Universal Login);
* Auth0 has two dialects for MFA failures; the older one (``invalid_grant`` "Invalid otp_code.",
  ``expired_token`` "mfa_token is expired") is what the Auth0 SDKs match, so the newer codes
  (``invalid_otp``, ``mfa_token_invalid``, ...) are answered in it: one failure, one answer, every
  time; an MFA call's 401 ``access_denied`` (a bad token, oob_code or recovery code: Auth0 does not
  say which in the code) becomes ``invalid_grant`` with Auth0's own description;
* ``authorization_pending`` and ``slow_down`` pass through with ``interval`` and ``Retry-After``, so
  a client polling a push approval knows how long to wait;
* answers that mean *we* are misconfigured (``invalid_client``; ``access_denied`` 401 on the password
  grant, older tenants' way of saying it; any 400 to the password grant; a code we do not know)
  become a generic 502 so tenant details stay in logs and metrics.

``client_rejected`` reads the same table for ``ropguard.rotation`` (a re-read of the secret).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from enum import Enum, StrEnum
from typing import Any, Final, NamedTuple

from ropguard.answers import MISCONFIGURED_BODY, UPSTREAM_BODY, Answer, error_body
from ropguard.auth0_client import Auth0Reply


class Outcome(StrEnum):
    """What happened; a route's metric is its prefix plus this (``LoginInvalidGrant``)."""

    SUCCEEDED = "Succeeded"
    INVALID_GRANT = "InvalidGrant"
    MFA_TOKEN_EXPIRED = "MfaTokenExpired"  # noqa: S105 - a metric name
    MFA_REQUIRED = "MfaRequired"
    VERIFICATION_REQUIRED = "VerificationRequired"
    PASSWORD_LEAKED = "PasswordLeaked"  # noqa: S105 - a metric name
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
    # Answered from the container's memory of Auth0's verdicts (``ropguard.shedding``), not by Auth0:
    SHED_ADDRESS = "ShedAddress"  # suspicious-IP throttling blocked the address
    SHED_USER_ADDRESS = "ShedUserAddress"  # brute force (or a per-user rate limit) on this user here
    SHED_RATE_LIMITED = "ShedRateLimited"  # the tenant's global rate limit, until its reset time


class Step(Enum):
    """Which call Auth0 answered: some codes mean different things on different calls."""

    PASSWORD = "password grant"  # noqa: S105 - a call's name
    MFA = "mfa"  # challenge, authenticators, the mfa-otp/oob/recovery-code grants
    REFRESH = "refresh"
    REVOKE = "revoke"


ANY_STEP: Final = frozenset(Step)
ANY_CODE: Final = "*"
#: A rule's answer for our own misconfiguration or a client Auth0 refused.
_OURS: Final = frozenset({Outcome.CLIENT_REJECTED, Outcome.MISCONFIGURED})


class Rule(NamedTuple):
    """One row: Auth0's ``code`` (on ``steps``, with ``auth0_status`` if given) -> our answer.

    ``status``, ``error`` and ``description`` None pass Auth0's own; ``poll`` keeps ``interval`` and
    ``Retry-After`` (a client polling a push approval needs them).
    """

    code: str
    outcome: Outcome
    steps: frozenset[Step] = ANY_STEP
    auth0_status: int | None = None
    status: int | None = None
    error: str | None = None
    description: str | None = None
    poll: bool = False

    def matches(self, code: str, step: Step, auth0_status: int) -> bool:
        return (
            self.code in (code, ANY_CODE) and step in self.steps and self.auth0_status in (None, auth0_status)
        )


_PASSWORD = frozenset({Step.PASSWORD})
_MFA = frozenset({Step.MFA})


def _code_failed(code: str, description: str) -> Rule:
    """The user's MFA code or token failed: the older dialect's 403 ``invalid_grant``."""
    return Rule(code, Outcome.INVALID_GRANT, status=403, error="invalid_grant", description=description)


#: The one table for every route; the first matching row wins (most specific first).
RULES: Final[tuple[Rule, ...]] = (
    Rule("invalid_client", Outcome.CLIENT_REJECTED),
    Rule("access_denied", Outcome.CLIENT_REJECTED, _PASSWORD, auth0_status=401),  # older tenants
    Rule("too_many_requests", Outcome.RATE_LIMITED, status=429),  # the tenant's rate limit
    Rule("requires_verification", Outcome.VERIFICATION_REQUIRED, _PASSWORD),  # Bot Detection, as given
    Rule(ANY_CODE, Outcome.MISCONFIGURED, _PASSWORD, auth0_status=400),  # a request we built
    Rule("invalid_grant", Outcome.SUCCEEDED, frozenset({Step.REVOKE})),  # already logged out
    Rule("invalid_grant", Outcome.INVALID_GRANT, status=403),
    _code_failed("invalid_otp", "Invalid otp_code."),
    _code_failed("invalid_binding_code", "Invalid binding_code."),
    _code_failed("invalid_oob_code", "Invalid oob_code."),
    _code_failed("invalid_recovery_code", "Invalid recovery_code."),
    _code_failed("mfa_token_invalid", "Malformed mfa_token"),
    _code_failed("invalid_token", "Malformed mfa_token"),
    # Auth0 gives 401 for a bad mfa_token, oob_code *or* recovery code (code undocumented): its own
    # description says which, so it passes through rather than a guess.
    Rule("access_denied", Outcome.INVALID_GRANT, _MFA, 401, 403, "invalid_grant"),
    Rule("expired_token", Outcome.MFA_TOKEN_EXPIRED, status=403, description="mfa_token is expired"),
    Rule("mfa_required", Outcome.MFA_REQUIRED, status=403),  # 401 or 403 from Auth0: one answer
    Rule("password_leaked", Outcome.PASSWORD_LEAKED, _PASSWORD, status=401),
    Rule("authorization_pending", Outcome.AUTHORIZATION_PENDING, poll=True),  # 400: poll again
    Rule("slow_down", Outcome.SLOW_DOWN, poll=True),  # 400 or 429: poll slower
    Rule("access_denied", Outcome.ACCESS_DENIED, status=403),  # a Rule or Action said no
    Rule("unauthorized", Outcome.USER_BLOCKED, status=401),
    Rule("too_many_attempts", Outcome.TOO_MANY_ATTEMPTS, status=429),
    Rule("unsupported_challenge_type", Outcome.UNSUPPORTED_CHALLENGE_TYPE, _MFA, status=400),
    Rule("association_required", Outcome.ASSOCIATION_REQUIRED, _MFA, status=403),
    # Anything else (unauthorized_client, invalid_request, invalid_scope, a new code) is ours: 502.
)
_UNKNOWN = Rule(ANY_CODE, Outcome.MISCONFIGURED)

#: Extra fields of an Auth0 error the client needs to continue (a new MFA step).
PASS_THROUGH_EXTRAS = ("mfa_token", "mfa_requirements")
#: Fields of an authenticator the client may see (never secrets, and nothing Auth0 adds later).
AUTHENTICATOR_FIELDS = ("id", "authenticator_type", "active", "oob_channel", "name")
CHALLENGE_FIELDS = ("challenge_type", "oob_code", "binding_method")

DEFAULT_RETRY_AFTER_SECONDS = 60
MAX_RETRY_AFTER_SECONDS = 3600
_DELAY_SECONDS = re.compile(r"[0-9]{1,5}")

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
    """Auth0's ``error`` code, or None (logged; never its description)."""
    body = reply.body
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    return None


def rule_for(reply: Auth0Reply, step: Step) -> Rule | None:
    """The table's row for a 4xx answer with an error code; None for anything else."""
    code = auth0_error_code(reply)
    if code is None or not 400 <= reply.status < 500:
        return None
    return next((rule for rule in RULES if rule.matches(code, step, reply.status)), _UNKNOWN)


def client_rejected(reply: Auth0Reply, step: Step) -> bool:
    """Auth0 refused our *client* (not the user): a re-read secret may be the fix."""
    rule = rule_for(reply, step)
    return rule is not None and rule.outcome is Outcome.CLIENT_REJECTED


def classify(reply: Auth0Reply, step: Step, success: Success, *, now: float) -> Answer:
    """Map one reply to our answer (``log_fields`` are the service's to add)."""
    if reply.status == 200:
        passed = success(reply.body)
        if passed is None:
            return Answer(Outcome.UPSTREAM_ERROR, 502, UPSTREAM_BODY)
        return Answer(Outcome.SUCCEEDED, 200, passed)
    rule = rule_for(reply, step)
    if rule is None:
        return Answer(Outcome.UPSTREAM_ERROR, 502, UPSTREAM_BODY)
    if rule.outcome in _OURS:
        return Answer(rule.outcome, 502, MISCONFIGURED_BODY)
    if rule.outcome is Outcome.SUCCEEDED:
        return Answer(rule.outcome, 200, success(None))
    return Answer(rule.outcome, rule.status or reply.status, *_passed_on(reply, rule, now))


def _passed_on(reply: Auth0Reply, rule: Rule, now: float) -> tuple[dict[str, Any], dict[str, str]]:
    """The body and headers of an answer in Auth0's dialect."""
    body: dict[str, Any] = reply.body
    code: str = body["error"]
    described = body.get("error_description")
    if rule.description is not None:
        description = rule.description
    elif isinstance(described, str):
        description = described
    else:
        description = code.replace("_", " ")
    answer = error_body(rule.error or code, description)
    answer.update({key: body[key] for key in PASS_THROUGH_EXTRAS if key in body})
    headers: dict[str, str] = {}
    if rule.outcome is Outcome.RATE_LIMITED:
        reset = reply.headers.get("x-ratelimit-reset")
        headers["Retry-After"] = str(retry_after_seconds(reset, now))
    elif rule.poll:
        interval = body.get("interval")
        if isinstance(interval, int) and not isinstance(interval, bool) and interval >= 0:
            answer["interval"] = interval
        delay = reply.headers.get("retry-after")
        if isinstance(delay, str) and _DELAY_SECONDS.fullmatch(delay.strip()):
            headers["Retry-After"] = delay.strip()
    return answer, headers
