"""schemathesis against the committed docs/openapi.json, over HTTP through the offline stack's
local API (real template, handler, emulator and moto): no 5xx, every answer's status, content
type, headers and body as documented, every 4xx a JSON error, and never the submitted password.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ropguard_offline.stack import OfflineStack
from tests.fuzz.support import CASES, OPENAPI_PATH, STATUSES, fuzz_settings

#: The description as the local API serves it (GET /openapi.json); the committed file it serves is
#: checked against the generator by test_openapi_document.py.
schema = schemathesis.pytest.from_fixture("served_openapi_schema")
ROUTED = {
    (method.upper(), path)
    for path, item in json.loads(OPENAPI_PATH.read_text())["paths"].items()
    for method in item
}


@pytest.fixture
def emulator_admin(offline_stack: OfflineStack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=offline_stack.auth0_url) as client:
        yield client


@pytest.fixture
def served_openapi_schema(offline_stack: OfflineStack) -> Any:
    return schemathesis.openapi.from_url(f"{offline_stack.api_url}/openapi.json")


#: Shorter strings turn up in any English error text by chance (same bound as secret hygiene).
MIN_PASSWORD_CHARS = 8


def submitted_password(case: Any) -> str | None:
    body = case.body
    password = body.get("password") if isinstance(body, dict) else None
    return password if isinstance(password, str) and len(password) >= MIN_PASSWORD_CHARS else None


def _json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


@schemathesis.check
def json_error_without_password(ctx: Any, response: Any, case: Any) -> bool | None:
    """Every 4xx/5xx is Auth0's JSON error dialect; no answer ever repeats the password.
    A method the template does not route never reaches the function: API Gateway's own 404."""
    STATUSES[response.status_code] += 1
    body = _json(response.text)
    if (case.method.upper(), case.path) not in ROUTED:
        if response.status_code != 404 or not (isinstance(body, dict) and "message" in body):
            raise AssertionError(f"{case.method} {case.path}: not API Gateway's 404: {response.text[:200]!r}")
    elif response.status_code >= 400 and not (isinstance(body, dict) and isinstance(body.get("error"), str)):
        raise AssertionError(f"{response.status_code} without a JSON error body: {response.text[:200]!r}")
    password = submitted_password(case)
    if password is not None and password in response.text:
        raise AssertionError(f"the submitted password is in the {response.status_code} answer")
    return None


CHECKS = [
    schemathesis.checks.not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    json_error_without_password,
]


#: Cases per operation: the ci profile's schemathesis share (about 3,600 over the six documented
#: operations) keeps the whole fuzz run above its 10,000-case target and `make test` short.
CI_EXAMPLES_PER_OPERATION = 600


@schema.parametrize()
@fuzz_settings(ci_examples=CI_EXAMPLES_PER_OPERATION)
def test_api_conforms_to_its_description(
    case: Any, offline_stack: OfflineStack, emulator_admin: httpx.Client
) -> None:
    CASES["schemathesis"] += 1
    # Every case comes from 127.0.0.1: without a reset, suspicious-IP throttling would answer all
    # but the first hundred with 429 and the rest of the API would go unexercised.
    emulator_admin.post("/__emulator/reset").raise_for_status()
    case.call_and_validate(base_url=offline_stack.api_url, checks=CHECKS)
