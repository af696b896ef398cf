"""The one hook between the API services and Auth0 for Auth0's flood verdicts.

Every call a service makes to Auth0 goes through ``Shedding.answer``: if the container remembers a
verdict of Auth0's that covers this caller (``ropguard.verdicts``), that answer is given again,
byte for byte, and Auth0 is not called; otherwise Auth0 is asked, and a ``429 too_many_attempts``
or ``429 too_many_requests`` it gives is remembered. A shed answer has its own outcome (a metric per
shed answer: ``LoginShedAddress``, ``MfaVerifyShedUserAddress``, ...) and logs which verdict
covered it; nothing else about the answer tells it from Auth0's. Every answer of the tenant's global
rate limit that Auth0 gives also counts ``Auth0TenantRateLimited`` (its alarm: every login fails
until the reset).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from typing import Any

from ropguard.answers import Answer, error_body
from ropguard.auth0_client import Auth0Reply
from ropguard.edge import Caller
from ropguard.outcomes import Outcome, Step
from ropguard.settings import ApiSettings
from ropguard.verdicts import Scope, Verdict, VerdictMemory, scope_of

#: Which verdict covered a shed answer -> its outcome (the route's metric is its prefix plus this).
SHED_OUTCOMES: Mapping[Scope, Outcome] = {
    Scope.ADDRESS: Outcome.SHED_ADDRESS,
    Scope.USER_ADDRESS: Outcome.SHED_USER_ADDRESS,
    Scope.RATE_LIMIT: Outcome.SHED_RATE_LIMITED,
}
#: Counted (unprefixed, in both API functions) when Auth0 answers with the tenant's global rate limit.
TENANT_RATE_LIMITED = "Auth0TenantRateLimited"
#: Our answers that carry a verdict of Auth0's (the rule table's rows for its two 429s).
_VERDICTS = frozenset({Outcome.TOO_MANY_ATTEMPTS, Outcome.RATE_LIMITED})
_VERDICT_FIELDS = frozenset({"error", "error_description"})

#: Asks Auth0: our answer (log fields included) and Auth0's reply (for ``X-RateLimit-Reset``).
Ask = Callable[[], tuple[Answer, Auth0Reply]]


class Shedding:
    """One per container, shared by every route of the function."""

    def __init__(self, memory: VerdictMemory) -> None:
        self.memory = memory

    @classmethod
    def for_api(cls, settings: ApiSettings, clock: Callable[[], float] = time.time) -> Shedding:
        return cls(VerdictMemory(window_seconds=settings.shed_window_seconds, clock=clock))

    def answer(self, step: Step, caller: Caller, subject: str | None, ask: Ask) -> Answer:
        """Auth0's remembered answer for ``subject`` (a username or token) from the caller's address,
        or Auth0's answer now. ``step`` keeps the calls apart: an address throttled on the password
        grant is not thereby refused MFA or refresh (the tenant's rate limit covers every step)."""
        shed = self.memory.shed(step.value, caller.source_ip, subject)
        if shed is not None:
            kept = shed.verdict
            return Answer(
                SHED_OUTCOMES[shed.scope],
                kept.status,
                error_body(kept.error, kept.description),
                dict(kept.headers),
                log_fields={"source_ip": caller.source_ip, "shed": shed.scope.value},
            )
        answer, reply = ask()
        verdict = _verdict(answer)
        if verdict is None:
            return answer
        if scope_of(verdict.error, verdict.description) is Scope.RATE_LIMIT:
            answer = dataclasses.replace(answer, extra_metrics=(*answer.extra_metrics, TENANT_RATE_LIMITED))
        reset = reply.headers.get("x-ratelimit-reset")
        scope = self.memory.remember(step.value, caller.source_ip, subject, verdict, rate_limit_reset=reset)
        if scope is None:
            return answer
        return dataclasses.replace(answer, log_fields={**answer.log_fields, "remembered": scope.value})


def _verdict(answer: Answer) -> Verdict | None:
    """The verdict our answer passes on, if it is one we can give again byte for byte."""
    body: Any = answer.body
    if answer.outcome not in _VERDICTS or not isinstance(body, dict) or set(body) != _VERDICT_FIELDS:
        return None
    error, description = body["error"], body["error_description"]
    if not isinstance(error, str) or not isinstance(description, str):
        return None
    return Verdict.of(answer.status, error, description, answer.headers)
