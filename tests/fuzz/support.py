"""Shared by the hostile-input suites: volume profiles, the case counter, and the properties
every answer of POST /login must have.

Profiles (``ROPGUARD_FUZZ_PROFILE``): ``ci`` (default: derandomized, at least 10,000 cases in
all), ``dev`` (a tenth, random seeds, for a quick local loop), ``soak`` (ten times ci, random).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings

#: Appears in every password the suites generate; a hit anywhere in output is a leaked password.
PASSWORD_CANARY = "Pw-canary-7f3c9e1a"

_BASE = {
    "deadline": None,
    "database": None,
    "print_blob": True,
    "suppress_health_check": [
        HealthCheck.function_scoped_fixture,  # fixtures hold servers, not per-example state
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
}
settings.register_profile("ropguard-fuzz-ci", derandomize=True, **_BASE)  # type: ignore[arg-type]
settings.register_profile("ropguard-fuzz-dev", derandomize=False, **_BASE)  # type: ignore[arg-type]
settings.register_profile("ropguard-fuzz-soak", derandomize=False, **_BASE)  # type: ignore[arg-type]
_SCALE = {"ci": 1.0, "dev": 0.1, "soak": 10.0}
PROFILE = os.environ.get("ROPGUARD_FUZZ_PROFILE", "ci")
if PROFILE not in _SCALE:
    raise ValueError(f"ROPGUARD_FUZZ_PROFILE must be one of {', '.join(_SCALE)}, got {PROFILE!r}")

#: Generated cases actually run, per suite (printed at the end of the session).
CASES: Counter[str] = Counter()
#: Statuses answered, over every suite: shows how much of the input got past validation.
STATUSES: Counter[int] = Counter()
CI_TARGET = 10_000


def fuzz_settings(ci_examples: int) -> settings:
    """This profile's settings with ``ci_examples`` scaled to it; one place decides the volume."""
    examples = max(1, round(ci_examples * _SCALE[PROFILE]))
    return settings(settings.get_profile(f"ropguard-fuzz-{PROFILE}"), max_examples=examples)


@dataclass(frozen=True)
class Answer:
    """One invocation: the proxy response and everything the handler printed or logged."""

    response: dict[str, Any]
    output: str


Invoke = Callable[[dict[str, Any]], Answer]


# -- what every answer must be ----------------------------------------------------------------

OPENAPI_PATH = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
_LOGIN_RESPONSES: dict[str, Any] = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))["paths"]["/login"][
    "post"
]["responses"]
#: The documented `error` codes of each documented status (from docs/openapi.json).
DOCUMENTED_ERRORS: dict[int, frozenset[str]] = {
    int(status): frozenset(
        response["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]["enum"]
    )
    for status, response in _LOGIN_RESPONSES.items()
    if status != "200"
}
DOCUMENTED_STATUSES = frozenset(int(status) for status in _LOGIN_RESPONSES)
TOKEN_FIELDS = ("access_token", "id_token", "refresh_token", "mfa_token")


def check_answer(answer: Answer, *, password: str | None, ip_usable: bool) -> dict[str, Any]:
    """The properties of every POST /login answer; returns the parsed body."""
    response = answer.response
    assert isinstance(response, dict), response
    status = response.get("statusCode")
    assert isinstance(status, int), status
    assert status in DOCUMENTED_STATUSES, status
    STATUSES[status] += 1
    headers = {str(name).lower(): value for name, value in (response.get("headers") or {}).items()}
    assert headers.get("cache-control") == "no-store", headers
    assert str(headers.get("content-type", "")).split(";")[0].strip() == "application/json", headers
    assert response.get("isBase64Encoded") in (None, False)
    body = json.loads(response["body"])
    if status >= 400:
        assert isinstance(body, dict), body
        assert isinstance(body.get("error"), str), body
        assert isinstance(body.get("error_description"), str), body
        assert body["error"] in DOCUMENTED_ERRORS[status], (status, body["error"])
    else:
        assert isinstance(body, dict), body
        assert isinstance(body.get("access_token"), str), "a 200 without an access token"
    if not ip_usable:
        # Fail closed, and say nothing else: the only 5xx no upstream fault explains.
        assert (status, body["error"]) == (500, "server_error"), (status, body)
    else:
        assert status < 500, (status, body)
    if status == 429 and body["error"] == "too_many_requests":
        assert str(headers.get("retry-after", "")).isdigit(), headers
    if password is not None:
        for secret in (password, PASSWORD_CANARY):
            assert secret not in response["body"], "the password is in the response body"
            assert secret not in answer.output, "the password is in the handler's output"
    if isinstance(body, dict):
        for name in TOKEN_FIELDS:
            token = body.get(name)
            if isinstance(token, str) and len(token) >= 8:
                assert token not in answer.output, f"the {name} is in the handler's output"
    return dict(body) if isinstance(body, dict) else {"value": body}
