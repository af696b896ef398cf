"""Through the whole offline stack: the real template, handlers, emulator and moto."""

from __future__ import annotations

import os
import socket
from urllib.parse import urlsplit

import httpx
import pytest

from ropguard_offline.stack import OfflineStack, Ports, StackConfig
from tests.fixtures.offline_stack import client_from

pytestmark = pytest.mark.integration

ALICE = {"username": "alice@example.com", "password": "correct-horse-battery-staple"}
BOB = {"username": "bob@example.com", "password": "AUTH0-TEST-bob-breached-1"}


def token_requests(stack: OfflineStack) -> list[dict[str, object]]:
    return list(httpx.get(f"{stack.auth0_url}/__emulator/token-requests").raise_for_status().json())


def outbox(stack: OfflineStack) -> list[dict[str, object]]:
    return list(httpx.get(f"{stack.auth0_url}/__emulator/outbox").raise_for_status().json())


def test_alice_logs_in_and_auth0_sees_her_address(offline_stack: OfflineStack, secret_registry) -> None:
    with client_from("127.0.0.2") as client:
        response = client.post(f"{offline_stack.api_url}/login", json=ALICE)
    assert response.status_code == 200
    secret_registry.add_tokens_from(response.json())
    assert response.json()["token_type"] == "Bearer"
    (record,) = token_requests(offline_stack)
    assert record["username"] == "alice@example.com"
    assert record["forwarded_for"] == record["attributed_ip"] == "127.0.0.2"


def test_forged_forwarding_headers_change_nothing(offline_stack: OfflineStack) -> None:
    with client_from("127.0.0.3") as client:
        response = client.post(
            f"{offline_stack.api_url}/login",
            json=ALICE,
            headers={"X-Forwarded-For": "203.0.113.7", "auth0-forwarded-for": "198.51.100.9"},
        )
    assert response.status_code == 200
    (record,) = token_requests(offline_stack)
    assert record["forwarded_for"] == record["attributed_ip"] == "127.0.0.3"


def test_bobs_breached_login_ends_in_exactly_one_reset_email(offline_stack: OfflineStack) -> None:
    response = httpx.post(f"{offline_stack.api_url}/login", json=BOB)
    assert (response.status_code, response.json()["error"]) == (401, "password_leaked")
    assert offline_stack.drain(timeout=60)
    resets = [email for email in outbox(offline_stack) if email["kind"] == "reset_password"]
    assert [email["to"] for email in resets] == ["bob@example.com"]
    dlq = offline_stack.queue_urls["PasswordResetDeadLetterQueue"]
    counts = offline_stack.aws.client("sqs").get_queue_attributes(
        QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert counts["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_reset_gives_each_test_a_fresh_stack(offline_stack: OfflineStack) -> None:
    assert token_requests(offline_stack) == []
    assert outbox(offline_stack) == []
    assert offline_stack.drain(timeout=0)


def test_a_warm_reset_starts_auth0_again_but_keeps_the_workers(offline_stack: OfflineStack) -> None:
    assert httpx.post(f"{offline_stack.api_url}/login", json=ALICE).status_code == 200
    workers = {id(worker) for function in offline_stack.functions.values() for worker in function._workers}
    offline_stack.reset(cold_start=False)
    assert token_requests(offline_stack) == []
    assert {
        id(worker) for function in offline_stack.functions.values() for worker in function._workers
    } == workers


def test_the_stack_does_not_leak_its_environment(offline_stack: OfflineStack) -> None:
    assert os.environ.get("AWS_ENDPOINT_URL") != offline_stack.aws_url
    assert "POWERTOOLS_SERVICE_NAME" not in os.environ or os.environ["POWERTOOLS_SERVICE_NAME"] not in (
        "ropguard-login",
        "ropguard-password-reset",
    )


def test_the_stacks_aws_is_its_own(offline_stack: OfflineStack, aws: str) -> None:
    """The ``aws`` fixture resets the in-process moto; the stack's moto (a child process) keeps
    its resources, and the functions still reach it."""
    assert aws != offline_stack.aws_url
    queue = offline_stack.queue_urls["PasswordResetQueue"]
    assert offline_stack.aws.client("sqs").get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])
    assert httpx.post(f"{offline_stack.api_url}/login", json=ALICE).status_code == 200


def test_parameter_overrides_reach_the_functions_and_the_token_request() -> None:
    overrides = {"Auth0Scopes": "openid offline_access", "Auth0Audience": "https://api.example.test"}
    with OfflineStack.start(StackConfig(parameter_overrides=overrides), ports=Ports.free()) as stack:
        environment = stack.functions["LoginFunction"].spec.environment
        assert (environment["AUTH0_SCOPES"], environment["AUTH0_AUDIENCE"]) == tuple(overrides.values())
        assert "AUTH0_SCOPES" not in stack.functions["PasswordResetFunction"].spec.environment
        response = httpx.post(f"{stack.api_url}/login", json=ALICE)
    # The demo tenant has no such API: Auth0 (the emulator) names the audience it was sent.
    assert (response.status_code, response.json()["error"]) == (403, "access_denied")
    assert "https://api.example.test" in response.json()["error_description"]


def test_the_functions_logs_and_metrics_reach_the_captured_log(
    offline_stack: OfflineStack, caplog: pytest.LogCaptureFixture
) -> None:
    """The secret-hygiene scan reads these records: the workers' output must be in them."""
    assert httpx.post(f"{offline_stack.api_url}/login", json=ALICE).status_code == 200
    lines = [
        record.getMessage()
        for record in caplog.records
        if record.name == "ropguard_offline.functions.LoginFunction"
    ]
    assert any('"LoginSucceeded"' in line for line in lines)


def test_a_stopped_stack_starts_again_at_once_on_the_same_ports() -> None:
    """Connections each server closed first leave its port in TIME_WAIT for a minute; that must
    not make the port look taken (``ensure_free`` and the servers bind with SO_REUSEADDR)."""
    with OfflineStack.start(ports=Ports.free()) as first:
        urls = (first.api_url, first.auth0_url, first.aws_url)
        for url in urls:
            server_closes_first(url)
    with socket.socket() as taken:  # the distribution's direct port: unused without a distribution
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        ports = Ports(*(int(url.rpartition(":")[2]) for url in urls), direct_api=taken.getsockname()[1])
        with OfflineStack.start(ports=ports) as second:
            assert (second.api_url, second.auth0_url, second.aws_url) == urls
            assert httpx.post(f"{second.api_url}/login", json=ALICE).status_code == 200


def server_closes_first(url: str) -> None:
    """One request with ``Connection: close``, read to the end before the client closes."""
    address = urlsplit(url)
    with socket.create_connection((address.hostname or "127.0.0.1", address.port or 80)) as connection:
        connection.sendall(b"GET / HTTP/1.1\r\nHost: local\r\nConnection: close\r\n\r\n")
        while connection.recv(65536):
            pass
