"""Property-based hostile input on the session routes' parsers (pure functions, in-process): any
body under any content type gives a typed request or ``InvalidRequestError``, never another
exception, and no description ever repeats a submitted value. The routes over HTTP are fuzzed by
schemathesis (test_openapi_schema.py) from docs/openapi.json."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ropguard.api_event import ApiEvent, read_event
from ropguard.errors import InvalidRequestError
from ropguard.session_requests import (
    parse_authenticators,
    parse_logout,
    parse_mfa_challenge,
    parse_mfa_verify,
    parse_refresh,
)
from tests.fuzz import strategies as hostile
from tests.fuzz.support import CASES, fuzz_settings

LIMIT = 4096
SCOPES = ("openid", "profile", "email", "offline_access")
PARSERS: dict[str, Callable[[ApiEvent], object]] = {
    "challenge": lambda event: parse_mfa_challenge(event, max_body_bytes=LIMIT),
    "verify": lambda event: parse_mfa_verify(event, max_body_bytes=LIMIT),
    "refresh": lambda event: parse_refresh(event, max_body_bytes=LIMIT, scopes=SCOPES),
    "logout": lambda event: parse_logout(event, max_body_bytes=LIMIT),
    "authenticators": parse_authenticators,
}
FIELDS = (
    "mfa_token",
    "otp",
    "oob_code",
    "binding_code",
    "recovery_code",
    "refresh_token",
    "scope",
    "challenge_type",
)
values = st.one_of(
    st.text(max_size=40),
    st.text(min_size=2000, max_size=2100),
    st.integers(),
    st.none(),
    st.booleans(),
    st.lists(st.text(max_size=5), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)
session_fields = st.dictionaries(st.sampled_from(FIELDS), values, max_size=6)


def _check(parser: str, event: dict[str, Any], submitted: list[str]) -> None:
    CASES[f"hypothesis session-{parser}"] += 1
    try:
        PARSERS[parser](read_event(event))
    except InvalidRequestError as exc:
        # Field names are the description's own words: a submitted value that happens to spell one
        # (hypothesis found "oob_code" as an oob_code) repeats nothing of the caller's.
        message = str(exc)
        for name in FIELDS:
            message = message.replace(name, "")
        leaked = [value for value in submitted if len(value) >= 8 and value in message]
        assert not leaked, f"{parser}: the description repeats a submitted value"


@fuzz_settings(ci_examples=2_000)
@given(parser=st.sampled_from(sorted(PARSERS)), fields=session_fields, as_json=st.booleans())
def test_session_shaped_bodies(parser: str, fields: dict[str, Any], as_json: bool) -> None:
    if as_json:
        body, content_type = json.dumps(fields), "application/json"
    else:
        body = "&".join(f"{key}={value}" for key, value in fields.items() if isinstance(value, str))
        content_type = "application/x-www-form-urlencoded"
    token = fields.get("mfa_token")
    headers = {"content-type": content_type}
    if isinstance(token, str):
        headers["authorization"] = f"Bearer {token}"
    event = {"version": "2.0", "headers": headers, "body": body, "requestContext": {"http": {}}}
    _check(parser, event, [value for value in fields.values() if isinstance(value, str)])


@fuzz_settings(ci_examples=2_000)
@given(parser=st.sampled_from(sorted(PARSERS)), case=hostile.events(hostile.raw_bodies()))
def test_arbitrary_bodies(parser: str, case: hostile.EventCase) -> None:
    _check(parser, case.event, [])
