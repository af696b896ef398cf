"""ropguard.session_requests: each route's typed request, and every way its input can be wrong."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ropguard.api_event import ApiEvent, read_event
from ropguard.errors import InvalidRequestError
from ropguard.session_requests import (
    OobFactor,
    OtpFactor,
    RecoveryCodeFactor,
    parse_authenticators,
    parse_logout,
    parse_mfa_challenge,
    parse_mfa_verify,
    parse_refresh,
)
from tests.fixtures.login import http_api_event

TOKEN = "mfa-token-unit-never-log-me"
LIMIT = 4096


def event(**fields: Any) -> ApiEvent:
    return read_event(http_api_event(json.dumps(fields)))


def test_challenge_fields() -> None:
    request = parse_mfa_challenge(event(mfa_token=TOKEN, challenge_type="oob  otp"), max_body_bytes=LIMIT)
    assert (request.challenge_type, request.authenticator_id) == ("oob otp", None)
    assert TOKEN not in repr(request)


@pytest.mark.parametrize("challenge_type", ["sms", "otp otp", "otp push"])
def test_challenge_type_must_be_otp_or_oob(challenge_type: str) -> None:
    with pytest.raises(InvalidRequestError, match="'otp', 'oob' or 'otp oob'"):
        parse_mfa_challenge(event(mfa_token=TOKEN, challenge_type=challenge_type), max_body_bytes=LIMIT)


def test_each_factor_becomes_its_type() -> None:
    otp = parse_mfa_verify(event(mfa_token=TOKEN, otp="123456"), max_body_bytes=LIMIT)
    oob = parse_mfa_verify(
        event(mfa_token=TOKEN, oob_code="o" * 20, binding_code="654321"), max_body_bytes=LIMIT
    )
    recovery = parse_mfa_verify(event(mfa_token=TOKEN, recovery_code="R" * 24), max_body_bytes=LIMIT)
    assert isinstance(otp.factor, OtpFactor)
    assert otp.factor_name == "otp"
    assert oob.factor == OobFactor("o" * 20, "654321")
    assert isinstance(recovery.factor, RecoveryCodeFactor)
    assert "123456" not in repr(otp)
    assert "654321" not in repr(oob)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"mfa_token": TOKEN}, "one of 'otp', 'oob_code' or 'recovery_code' is required"),
        ({"mfa_token": TOKEN, "otp": "1", "oob_code": "2"}, "not 'otp' and 'oob_code'"),
        ({"mfa_token": TOKEN, "otp": "1", "binding_code": "2"}, "'binding_code' goes only with 'oob_code'"),
        ({"mfa_token": TOKEN, "otp": "1" * 17}, "longer than 16"),
        ({"mfa_token": TOKEN, "otp": 123456}, "field 'otp' must be a string"),
        ({"mfa_token": TOKEN, "otp": ""}, "field 'otp' must not be empty"),
        ({"otp": "123456"}, "field 'mfa_token' is required"),
        ({"mfa_token": ["x"], "otp": "1"}, "field 'mfa_token' must be a string"),
    ],
)
def test_verify_input_errors(fields: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message):
        parse_mfa_verify(event(**fields), max_body_bytes=LIMIT)


def test_authenticators_take_a_bearer_header() -> None:
    raw = http_api_event(None, content_type=None, headers={"Authorization": f"Bearer {TOKEN}"})
    assert parse_authenticators(read_event(raw)).mfa_token == TOKEN


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Authorization header is required"),
        ("Basic abc", "must use the Bearer scheme"),
        ("Bearer ", "must not be empty"),
        ("Bearer " + "x" * 3000, "longer than 2048"),
        # would not encode into the header sent on to Auth0 (was an unhandled UnicodeEncodeError)
        ("Bearer tok\u00e9n", "only letters, digits"),
        ("Bearer a b", "only letters, digits"),
        ("Bearer a\x7fb", "only letters, digits"),
        ("Bearer ==", "only letters, digits"),
    ],
)
def test_authenticators_header_errors(header: str | None, message: str) -> None:
    raw = http_api_event(None, content_type=None, headers={"authorization": header} if header else {})
    with pytest.raises(InvalidRequestError, match=message):
        parse_authenticators(read_event(raw))


def test_authenticators_take_any_b64token() -> None:
    token = "eyJhbGciOi.J-_~+/x.sig=="
    raw = http_api_event(None, content_type=None, headers={"Authorization": f"Bearer  {token} "})
    assert parse_authenticators(read_event(raw)).mfa_token == token


def test_refresh_scope_is_optional_and_checked() -> None:
    scopes = ("openid", "offline_access")
    assert parse_refresh(event(refresh_token="r" * 20), max_body_bytes=LIMIT, scopes=scopes).scope is None
    with pytest.raises(InvalidRequestError, match="subset of"):
        parse_refresh(event(refresh_token="r" * 20, scope="admin"), max_body_bytes=LIMIT, scopes=scopes)


def test_logout_needs_the_refresh_token() -> None:
    assert parse_logout(event(refresh_token="r" * 20), max_body_bytes=LIMIT).refresh_token == "r" * 20
    with pytest.raises(InvalidRequestError, match="field 'refresh_token' is required"):
        parse_logout(event(token="r" * 20), max_body_bytes=LIMIT)
