"""Password resets (``auth0_emulator/password_reset.py``): ``change_password`` answers, its rate
limit, and reset tickets. The links over HTTP are in test_http.py."""

from __future__ import annotations

from auth0_emulator import EmulatorState, ManualClock
from tests.emulator.conftest import SERVER_IP, error_of
from tests.fixtures.emulator import DEMO_USERS

ALICE, _ = DEMO_USERS["alice"]


def test_change_password_same_answer_for_unknown_users(state: EmulatorState) -> None:
    known = state.passwords.change_password(
        SERVER_IP, {"email": ALICE, "connection": "Username-Password-Authentication"}
    )
    unknown = state.passwords.change_password(
        SERVER_IP, {"email": "x@example.com", "connection": "Username-Password-Authentication"}
    )
    assert known.status == unknown.status == 200
    assert known.body == unknown.body == "We've just sent you an email to reset your password."
    assert [(e.kind, e.to) for e in state.emails()] == [("reset_password", ALICE)]


def test_change_password_rate_limit_per_ip_and_email(state: EmulatorState, clock: ManualClock) -> None:
    params = {"email": ALICE, "connection": "Username-Password-Authentication"}
    assert [state.passwords.change_password(SERVER_IP, params).status for _ in range(10)] == [200] * 10
    limited = state.passwords.change_password(SERVER_IP, params)
    assert error_of(limited) == (429, "too_many_requests")
    assert "X-RateLimit-Reset" in limited.headers
    assert state.passwords.change_password("10.0.0.2", params).status == 200
    clock.advance(60)
    assert state.passwords.change_password(SERVER_IP, params).status == 200
    assert state.passwords.change_password(SERVER_IP, params).status == 429


def test_change_password_errors(state: EmulatorState) -> None:
    assert error_of(state.passwords.change_password(SERVER_IP, {"connection": "x"})) == (
        400,
        "invalid_request",
    )
    assert error_of(state.passwords.change_password(SERVER_IP, {"email": ALICE, "connection": "nope"})) == (
        400,
        "invalid_request",
    )


def test_reset_ticket_expires(state: EmulatorState, clock: ManualClock) -> None:
    state.passwords.change_password(
        SERVER_IP, {"email": ALICE, "connection": "Username-Password-Authentication"}
    )
    (email,) = state.emails()
    assert email.link is not None
    clock.advance(432_000)
    assert (
        state.passwords.complete_password_reset(email.link.split("ticket=")[1], "new-password-1").status
        == 400
    )
