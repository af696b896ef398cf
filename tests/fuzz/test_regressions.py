"""Inputs the hostile-input suites found, kept as plain examples so they stay fixed."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.login import http_api_event, rest_api_event
from tests.fuzz.support import PASSWORD_CANARY, Invoke, check_answer

PASSWORD = f"lone-{PASSWORD_CANARY}"


@pytest.mark.parametrize(
    "body",
    [
        '{"username":"a@example.com","password":"' + PASSWORD + '\\ud800"}',
        '{"username":"a@example.com\\udfff","password":"' + PASSWORD + '"}',
    ],
    ids=["password", "username"],
)
def test_a_lone_surrogate_escape_in_a_field_is_a_400(fuzz_login: Invoke, body: str) -> None:
    """JSON may escape a lone surrogate (\\ud800); Python decodes it to a str that cannot be
    encoded as UTF-8, so it must be refused as input, not crash the Auth0 call."""
    answer = fuzz_login(http_api_event(body))

    parsed = check_answer(answer, password=PASSWORD, ip_usable=True)
    assert (answer.response["statusCode"], parsed["error"]) == (400, "invalid_request")


def test_a_long_json_number_is_a_400_under_a_larger_body_limit(
    fuzz_login: Invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    """MAX_BODY_BYTES may be raised to 1 MiB; Python refuses to turn more than 4300 digits into
    an int (ValueError, not JSONDecodeError), which must be a 400, not a crash."""
    monkeypatch.setenv("MAX_BODY_BYTES", "16384")
    body = json.dumps({"username": "a@example.com", "password": PASSWORD})[:-1] + ', "n": ' + "9" * 5000 + "}"

    answer = fuzz_login(rest_api_event(body))

    parsed = check_answer(answer, password=PASSWORD, ip_usable=True)
    assert (answer.response["statusCode"], parsed["error"]) == (400, "invalid_request")
