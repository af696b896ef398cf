"""A service's domain outcome: what happened, and the reply in Auth0's own dialect.

Services return an ``Answer``; the edge counts ``outcome`` as a metric, logs ``log_fields`` and hands
the rest to the one renderer (``ropguard.responses.render``). ``status`` is part of the dialect
(Auth0's clients read it), not an API Gateway detail: the same answer serves payload 1.0 and 2.0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Answer:
    """``outcome`` is the metric name; ``body`` may hold tokens, so it never appears in a repr."""

    outcome: str
    status: int
    body: Any = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    log_fields: Mapping[str, Any] = field(default_factory=dict)
    extra_metrics: tuple[str, ...] = ()
    #: ``Set-Cookie`` values (cookie mode's sealed refresh token): never in a repr.
    cookies: tuple[str, ...] = field(default=(), repr=False)


def error_body(error: str, description: str) -> dict[str, Any]:
    """The one builder of error bodies: Auth0's dialect, so its clients understand ours."""
    return {"error": error, "error_description": description}


#: Our misconfiguration (or a client Auth0 refused): tenant details stay in logs and metrics.
MISCONFIGURED_BODY = error_body("server_error", "The login service is misconfigured. Try again later.")
#: Auth0 failed or answered something we cannot use.
UPSTREAM_BODY = error_body(
    "temporarily_unavailable", "The identity provider is unavailable. Try again later."
)
TIMEOUT_BODY = error_body("temporarily_unavailable", "The identity provider did not answer in time.")
