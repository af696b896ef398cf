"""Property-based hostile input on ``lambda_handler`` in-process, against the Auth0 emulator and
moto over loopback HTTP: whatever the event, the handler answers (never raises) with a
documented status, ``Cache-Control: no-store``, a JSON body in Auth0's error dialect for every
4xx/5xx, no 5xx but the fail-closed 500 for an unusable source IP, and never the password in the
body or in anything it printed.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies as hostile
from tests.fuzz.support import CASES, Invoke, check_answer, fuzz_settings

#: Unsupported by any reading: the handler must refuse these before looking at the body.
UNSUPPORTED_TYPES = frozenset({"text/plain", "text/json", "multipart/form-data; boundary=x", "application/*"})


def _run(suite: str, invoke: Invoke, case: hostile.EventCase) -> dict[str, object]:
    CASES[f"hypothesis {suite}"] += 1
    return check_answer(invoke(case.event), password=case.password, ip_usable=case.ip_usable)


@fuzz_settings(ci_examples=3_000)
@given(case=hostile.events(hostile.login_bodies()))
def test_login_shaped_bodies(fuzz_login: Invoke, case: hostile.EventCase) -> None:
    """JSON and form logins (demo users, random credentials, missing, mistyped, repeated and
    oversized fields, base64 or not, fitting or odd content types) in v1 and v2 events."""
    body = _run("login-shaped", fuzz_login, case)
    if case.ip_usable and case.content_type in UNSUPPORTED_TYPES:
        assert body["error"] == "invalid_request"


@fuzz_settings(ci_examples=3_500)
@given(case=hostile.events(hostile.raw_bodies()))
def test_arbitrary_bodies(fuzz_login: Invoke, case: hostile.EventCase) -> None:
    """Random bytes, random JSON values, random form text, invalid UTF-8, invalid base64, huge
    strings and missing bodies, under any content type and base64 flag."""
    body = _run("arbitrary-bodies", fuzz_login, case)
    if case.ip_usable:
        assert body["error"] == "invalid_request"  # none of these is a usable login


@fuzz_settings(ci_examples=1_500)
@given(case=hostile.events(st.one_of(hostile.login_bodies(), hostile.raw_bodies()), hostile.unusable_ips))
def test_unusable_source_address_fails_closed(fuzz_login: Invoke, case: hostile.EventCase) -> None:
    """Missing, garbage, non-string, unspecified, multicast, zone-scoped or network addresses:
    always the one 500, whatever the body (the body is never even read)."""
    assert not case.ip_usable
    _run("unusable-address", fuzz_login, case)
