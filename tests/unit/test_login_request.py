"""ropguard.login_request: the username rules (NFC, no control or format characters)."""

from __future__ import annotations

import json

import pytest

from ropguard.api_event import read_event
from ropguard.errors import InvalidRequestError
from ropguard.login_request import MAX_USERNAME_CHARS, parse_login_body, username_field
from tests.fixtures.login import http_api_event

SCOPES = ("openid",)


def login_body(username: str, password: str = "unit-test-password") -> str:
    return json.dumps({"username": username, "password": password})


def parse(username: str, password: str = "unit-test-password") -> tuple[str, str]:
    event = read_event(http_api_event(login_body(username, password)))
    request = parse_login_body(event, max_body_bytes=4096, scopes=SCOPES)
    return request.username, request.password


def test_the_username_is_normalised_to_nfc_and_the_password_is_not() -> None:
    decomposed = "Jose\u0301@example.com"
    assert parse(decomposed, decomposed) == ("Jos\u00e9@example.com", decomposed)


@pytest.mark.parametrize(
    "username",
    [
        "alice\u202e@example.com",  # right-to-left override (Cf)
        "al\u200bice@example.com",  # zero-width space (Cf)
        "alice\u00ad@example.com",  # soft hyphen (Cf)
        "alice\n@example.com",  # line feed (Cc)
        "alice\x7f",  # delete (Cc)
        "alice\u0085",  # next line (Cc)
    ],
)
def test_control_and_format_characters_are_refused_naming_the_rule(username: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        parse(username)
    message = str(raised.value)
    assert "control or format characters (Unicode categories Cc, Cf)" in message
    assert username not in message


@pytest.mark.parametrize("username", ["alice@example.com", "Zoë Ünal", "用户名", "a b"])
def test_ordinary_names_pass(username: str) -> None:
    assert parse(username)[0] == username


def test_the_length_limit_holds_after_normalisation() -> None:
    assert username_field({"username": "a" * MAX_USERNAME_CHARS}) == "a" * MAX_USERNAME_CHARS
    # U+FB2C normalises to three code points under NFC: within the limit before, beyond it after.
    expanding = "\ufb2c" * (MAX_USERNAME_CHARS // 2)
    with pytest.raises(InvalidRequestError, match="longer than"):
        username_field({"username": expanding})
