"""What a login answers when the token endpoint misbehaves at the HTTP level, through the real handler.

A loopback server scripts each answer no well-behaved server gives: a body trickled one byte at a
time, a 16 MB body, ``103 Early Hints`` before the answer, a hang-up after the request. The
handler runs as Lambda runs it, with an invocation context, so the exchange's deadline applies.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

import pytest

from tests.emf import metric_totals
from tests.fixtures.login import ACCESS_TOKEN, PASSWORD, FakeLambdaContext, http_api_event, json_body
from tests.fixtures.raw_http import ScriptedServer, chunked_body, early_hints_then, hang_up, trickle

pytestmark = pytest.mark.integration

LOGIN = http_api_event(json_body(username="a@example.com", password=PASSWORD))
TOKENS = json.dumps({"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 60}).encode()

Invoke = Callable[..., dict[str, Any]]


class ShortInvocation(FakeLambdaContext):
    """A context with ``millis`` left in the invocation."""

    def __init__(self, millis: int) -> None:
        super().__init__()
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


@pytest.fixture
def against(login_app: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[ScriptedServer], Invoke]:
    """Points the login function at a scripted server; returns a login invoker."""

    def bind(server: ScriptedServer) -> Invoke:
        monkeypatch.setenv("AUTH0_DOMAIN", server.base_url)

        def invoke(context: Any = None) -> dict[str, Any]:
            response: dict[str, Any] = login_app.lambda_handler(LOGIN, context or FakeLambdaContext())
            return response

        return invoke

    return bind


def error_of(response: dict[str, Any]) -> str:
    return str(json.loads(response["body"])["error"])


def test_a_trickling_token_endpoint_gets_the_json_504_and_its_metric(
    against: Callable[[ScriptedServer], Invoke], monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    """A byte every 0.5 s never trips the 1 s read timeout; the exchange's deadline ends it."""
    monkeypatch.setenv("AUTH0_CONNECT_TIMEOUT_SECONDS", "0.2")
    monkeypatch.setenv("AUTH0_READ_TIMEOUT_SECONDS", "1")
    stop = threading.Event()
    with ScriptedServer(trickle(0.5, until=stop)) as server:
        try:
            response = against(server)()
        finally:
            stop.set()
        assert len(server.requests) == 1

    assert response["statusCode"] == 504
    assert response["headers"]["Content-Type"].startswith("application/json")
    assert metric_totals(capsys.readouterr().out).get("LoginUpstreamTimeout") == 1


def test_the_invocations_remaining_time_bounds_the_exchange(
    against: Callable[[ScriptedServer], Invoke], capsys: Any
) -> None:
    """Configured for 2 s + 5 s, with 1.5 s left: the JSON 504 comes before Lambda's own timeout."""
    stop = threading.Event()
    with ScriptedServer(trickle(0.2, until=stop)) as server:
        invoke = against(server)
        invoke()  # the first invocation builds the service with the full 15 s
        try:
            response = invoke(ShortInvocation(1_500))
        finally:
            stop.set()

    assert response["statusCode"] == 504
    assert metric_totals(capsys.readouterr().out).get("LoginUpstreamTimeout") == 2


def test_a_16_mb_answer_is_a_502_never_passed_on(
    against: Callable[[ScriptedServer], Invoke], capsys: Any
) -> None:
    with ScriptedServer(chunked_body(16 * 1024 * 1024)) as server:
        response = against(server)()
        assert len(server.requests) == 1

    assert response["statusCode"] == 502
    assert error_of(response) == "temporarily_unavailable"


def test_early_hints_then_the_tokens_is_a_200(against: Callable[[ScriptedServer], Invoke]) -> None:
    with ScriptedServer(early_hints_then(TOKENS)) as server:
        response = against(server)()

    assert response["statusCode"] == 200
    assert json.loads(response["body"])["access_token"] == ACCESS_TOKEN


def test_a_hang_up_after_the_grant_is_a_502_and_the_grant_is_sent_once(
    against: Callable[[ScriptedServer], Invoke],
) -> None:
    with ScriptedServer(hang_up) as server:
        response = against(server)()
        assert len(server.requests) == 1

    assert response["statusCode"] == 502
    assert error_of(response) == "temporarily_unavailable"


def test_timeouts_that_outlive_the_function_are_a_json_500_naming_the_variable(
    against: Callable[[ScriptedServer], Invoke],
    monkeypatch: pytest.MonkeyPatch,
    capsys: Any,
) -> None:
    monkeypatch.setenv("AUTH0_READ_TIMEOUT_SECONDS", "14")  # 2 s x 2 connects + 14 s > 15 s
    with ScriptedServer(early_hints_then(TOKENS)) as server:
        response = against(server)()
        assert server.requests == []

    assert response["statusCode"] == 500
    out = capsys.readouterr().out
    assert metric_totals(out).get("ConfigurationInvalid") == 1
    assert '"variable":"AUTH0_READ_TIMEOUT_SECONDS"' in out.replace(" ", "")
