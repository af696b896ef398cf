"""ropguard.shedding: the one hook that answers Auth0's remembered verdicts without calling Auth0.

In-process fakes of Auth0 stand in for the endpoint (the HTTP tier is
tests/integration/test_floods.py); the memory itself is tests/unit/test_verdicts.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from ropguard.answers import Answer
from ropguard.auth0_client import Auth0Call, Auth0Reply, PasswordGrant
from ropguard.credentials import ClientCredentials
from ropguard.edge import Caller
from ropguard.errors import ConfigurationError
from ropguard.login import LoginService
from ropguard.outcomes import Outcome, Step, classify, tokens
from ropguard.responses import render
from ropguard.session import SessionService
from ropguard.session_requests import MfaChallengeRequest, MfaVerifyRequest, OtpFactor, RefreshRequest
from ropguard.settings import ApiSettings
from ropguard.shedding import TENANT_RATE_LIMITED, Shedding
from ropguard.verdicts import VerdictMemory
from tests.fixtures.login import http_api_event, login_once

ENV = {"AUTH0_DOMAIN": "tenant.example.com", "AUTH0_SECRET_ID": "s"}
CREDENTIALS = ClientCredentials("client", "secret-never-log")
ATTACKER = Caller("203.0.113.9", "req-1")
NEIGHBOUR = Caller("198.51.100.4", "req-2")
SUSPICIOUS = {
    "error": "too_many_attempts",
    "error_description": "We have detected suspicious login behavior and further attempts will be blocked. "
    "Please contact the administrator.",
}
BRUTE_FORCE = {
    "error": "too_many_attempts",
    "error_description": "Your account has been blocked after multiple consecutive login attempts.",
}
GLOBAL_LIMIT = {"error": "too_many_requests", "error_description": "Global limit has been reached"}
WRONG = {"error": "invalid_grant", "error_description": "Wrong email or password."}
NOW = 1_800_000_000.0


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


class Auth0:
    """Answers every call with the same reply and counts the calls."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.reply = Auth0Reply(status, body, headers or {})
        self.calls = 0

    def ask(self, step: Step = Step.PASSWORD) -> tuple[Answer, Auth0Reply]:
        self.calls += 1
        return classify(self.reply, step, tokens, now=NOW), self.reply

    # the login's TokenRequester and the session's endpoint
    def request_token(
        self, grant: PasswordGrant, credentials: ClientCredentials, *, forwarded_for: str
    ) -> Auth0Reply:
        self.calls += 1
        return self.reply

    def send(
        self, call: Auth0Call, credentials: ClientCredentials | None, *, forwarded_for: str
    ) -> Auth0Reply:
        self.calls += 1
        return self.reply

    def close(self) -> None:
        pass


class Secret:
    def get(self, *, refresh: bool = False) -> ClientCredentials:
        return CREDENTIALS


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def shedding(clock: Clock) -> Shedding:
    return Shedding(VerdictMemory(window_seconds=60, clock=clock))


def test_an_address_block_is_answered_again_byte_for_byte_without_auth0(shedding: Shedding) -> None:
    auth0 = Auth0(429, SUSPICIOUS, {"x-ratelimit-reset": str(int(NOW))})

    first = shedding.answer(Step.PASSWORD, ATTACKER, "a@example.com", auth0.ask)
    again = shedding.answer(Step.PASSWORD, ATTACKER, "b@example.com", auth0.ask)

    assert auth0.calls == 1
    assert (first.outcome, first.log_fields["remembered"]) == (Outcome.TOO_MANY_ATTEMPTS, "address")
    assert (again.outcome, again.log_fields) == (
        Outcome.SHED_ADDRESS,
        {"source_ip": ATTACKER.source_ip, "shed": "address"},
    )
    assert render(again) == render(first)
    # Elsewhere, and on the other calls, Auth0 is asked as before.
    shedding.answer(Step.PASSWORD, NEIGHBOUR, "a@example.com", auth0.ask)
    shedding.answer(Step.MFA, ATTACKER, "mfa-token", lambda: auth0.ask(Step.MFA))
    assert auth0.calls == 3


def test_a_user_block_covers_that_user_from_that_address_only(shedding: Shedding) -> None:
    auth0 = Auth0(429, BRUTE_FORCE)
    first = shedding.answer(Step.PASSWORD, ATTACKER, "alice@example.com", auth0.ask)

    again = shedding.answer(Step.PASSWORD, ATTACKER, "alice@example.com", auth0.ask)
    assert (auth0.calls, again.outcome) == (1, Outcome.SHED_USER_ADDRESS)
    assert render(again) == render(first)
    shedding.answer(Step.PASSWORD, ATTACKER, "bob@example.com", auth0.ask)
    shedding.answer(Step.PASSWORD, NEIGHBOUR, "alice@example.com", auth0.ask)
    assert auth0.calls == 3


def test_the_tenants_rate_limit_covers_every_call_until_its_reset_time(
    shedding: Shedding, clock: Clock
) -> None:
    auth0 = Auth0(429, GLOBAL_LIMIT, {"x-ratelimit-reset": str(int(NOW) + 5)})
    first = shedding.answer(Step.REFRESH, ATTACKER, "refresh-token", lambda: auth0.ask(Step.REFRESH))
    assert first.headers == {"Retry-After": "5"}

    clock.now += 2
    shed = shedding.answer(Step.PASSWORD, NEIGHBOUR, "carol@example.com", auth0.ask)
    assert (auth0.calls, shed.outcome, shed.status, shed.headers) == (
        1,
        Outcome.SHED_RATE_LIMITED,
        429,
        {"Retry-After": "3"},
    )
    assert json.loads(render(shed)["body"]) == GLOBAL_LIMIT
    clock.now += 3
    shedding.answer(Step.PASSWORD, NEIGHBOUR, "carol@example.com", auth0.ask)
    assert auth0.calls == 2


@pytest.mark.parametrize("window", [60, 0])
def test_every_answer_of_the_tenants_rate_limit_counts_its_metric(clock: Clock, window: int) -> None:
    """Counted on Auth0's answer, whether or not it is remembered (a window of 0, no reset time)."""
    shedding = Shedding(VerdictMemory(window_seconds=window, clock=clock))
    limited = shedding.answer(Step.PASSWORD, ATTACKER, "a@example.com", Auth0(429, GLOBAL_LIMIT).ask)
    assert limited.extra_metrics == (TENANT_RATE_LIMITED,)
    others = (SUSPICIOUS, BRUTE_FORCE, {"error": "too_many_requests", "error_description": "Slow down."})
    for number, body in enumerate(others):
        auth0 = Auth0(429, body)
        other = shedding.answer(
            Step.PASSWORD, Caller(f"198.51.100.{number}", "r"), "b@example.com", auth0.ask
        )
        assert (auth0.calls, other.extra_metrics) == (1, ()), body


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (403, WRONG),
        (401, {"error": "password_leaked", "error_description": "Breached."}),
        (429, {"error": "slow_down", "error_description": "Slow down."}),
        (200, {"access_token": "a", "token_type": "Bearer"}),
        (503, {"error": "too_many_attempts", "error_description": "an outage, not a verdict"}),
    ],
)
def test_other_answers_are_never_remembered(shedding: Shedding, status: int, body: Any) -> None:
    auth0 = Auth0(status, body)
    for _ in range(3):
        answer = shedding.answer(Step.PASSWORD, ATTACKER, "alice@example.com", auth0.ask)
        assert "remembered" not in answer.log_fields
    assert auth0.calls == 3


def test_a_verdict_that_could_not_be_given_again_byte_for_byte_is_not_kept(shedding: Shedding) -> None:
    def ask() -> tuple[Answer, Auth0Reply]:
        asked.append(1)
        answer = Answer(Outcome.TOO_MANY_ATTEMPTS, 429, {**BRUTE_FORCE, "extra": "field"})
        return answer, Auth0Reply(429, BRUTE_FORCE, {})

    asked: list[int] = []
    shedding.answer(Step.PASSWORD, ATTACKER, "alice@example.com", ask)
    shedding.answer(Step.PASSWORD, ATTACKER, "alice@example.com", ask)
    assert len(asked) == 2


# -- the services ask through the hook --------------------------------------------------------------


def _login(body: dict[str, str], source_ip: str) -> dict[str, Any]:
    return http_api_event(json.dumps(body), source_ip=source_ip)


def test_the_login_service_sheds_through_the_hook_with_a_metric_per_shed_answer(clock: Clock) -> None:
    auth0 = Auth0(429, SUSPICIOUS)
    service = LoginService(ApiSettings.from_env(ENV), credentials=Secret(), token_endpoint=auth0, clock=clock)

    first = login_once(service, _login({"username": "a@example.com", "password": "pw-1"}, "203.0.113.9"))
    again = login_once(service, _login({"username": "b@example.com", "password": "pw-2"}, "203.0.113.9"))
    other = login_once(service, _login({"username": "c@example.com", "password": "pw-3"}, "203.0.113.10"))

    assert auth0.calls == 2
    assert (first.outcome, again.outcome, other.outcome) == (
        "LoginTooManyAttempts",
        "LoginShedAddress",
        "LoginTooManyAttempts",
    )
    assert again.response == first.response
    assert again.log_fields == {"source_ip": "203.0.113.9", "shed": "address"}


def test_the_session_service_sheds_mfa_blocks_per_token_and_the_rate_limit_for_every_route(
    clock: Clock,
) -> None:
    settings = ApiSettings.from_env(ENV)
    mfa_limit = {
        "error": "too_many_attempts",
        "error_description": "Too many failed MFA attempts. Try again later.",
    }
    auth0 = Auth0(429, mfa_limit)
    service = SessionService(settings, credentials=Secret(), auth0=auth0, clock=clock)  # type: ignore[arg-type]

    first = service.verify(MfaVerifyRequest("mfa-token-1", OtpFactor("123456")), ATTACKER)
    again = service.verify(MfaVerifyRequest("mfa-token-1", OtpFactor("654321")), ATTACKER)
    other = service.verify(MfaVerifyRequest("mfa-token-2", OtpFactor("123456")), ATTACKER)
    assert (first.outcome, again.outcome, other.outcome) == (
        Outcome.TOO_MANY_ATTEMPTS,
        Outcome.SHED_USER_ADDRESS,
        Outcome.TOO_MANY_ATTEMPTS,
    )
    assert auth0.calls == 2

    auth0.reply = Auth0Reply(429, GLOBAL_LIMIT, {"x-ratelimit-reset": str(int(NOW) + 10)})
    service.refresh(RefreshRequest("refresh-token", None), NEIGHBOUR)
    shed = service.challenge(MfaChallengeRequest("mfa-token-3", None, None), ATTACKER)
    assert (auth0.calls, shed.outcome, shed.headers) == (3, Outcome.SHED_RATE_LIMITED, {"Retry-After": "10"})


# -- the setting ----------------------------------------------------------------------------------


def test_the_window_is_a_setting_of_both_api_functions() -> None:
    assert ApiSettings.from_env(ENV).shed_window_seconds == 60
    assert ApiSettings.from_env({**ENV, "SHED_WINDOW_SECONDS": "15"}).shed_window_seconds == 15
    assert ApiSettings.from_env({**ENV, "SHED_WINDOW_SECONDS": "0"}).shed_window_seconds == 0


@pytest.mark.parametrize("value", ["-1", "3601", "soon", "1.5"])
def test_a_window_out_of_range_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="SHED_WINDOW_SECONDS"):
        ApiSettings.from_env({**ENV, "SHED_WINDOW_SECONDS": value})


def test_a_window_of_zero_remembers_no_block(clock: Clock) -> None:
    service = LoginService(
        ApiSettings.from_env({**ENV, "SHED_WINDOW_SECONDS": "0"}),
        credentials=Secret(),
        token_endpoint=Auth0(429, BRUTE_FORCE),
        clock=clock,
    )
    for _ in range(3):
        answered = login_once(
            service, _login({"username": "a@example.com", "password": "pw-1"}, "203.0.113.9")
        )
        assert answered.outcome == "LoginTooManyAttempts"
