"""Secret rotation, connect retries, never-twice grants, the secret cache and connection reuse."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from werkzeug import Request, Response

from benchmarks.loopback_auth0 import CountingTokenServer
from ropguard.auth0_client import TokenEndpoint, tenant_origin
from ropguard.credentials import PowertoolsSecretReader, SecretCredentials
from ropguard.login import LoginService
from ropguard.settings import ApiSettings
from tests.fixtures.login import (
    ACCESS_TOKEN,
    CLIENT_SECRET,
    PASSWORD,
    ROTATED_SECRET,
    http_api_event,
    json_body,
    login_once,
    put_client_secret,
)
from tests.fixtures.raw_http import FlakyNetwork

pytestmark = pytest.mark.integration

LOGIN = json_body(username="a@example.com", password=PASSWORD)
TOKENS = {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 60}
INVALID_CLIENT = {"error": "invalid_client", "error_description": "Client authentication failed"}


def counted_secrets_client(session: boto3.session.Session) -> tuple[Any, list[str]]:
    """A Secrets Manager client that records each API call it makes."""
    calls: list[str] = []
    client = session.client("secretsmanager")
    client.meta.events.register("before-call.secrets-manager.*", lambda model, **_: calls.append(model.name))
    return client, calls


def service_with(settings: ApiSettings, secrets_client: Any) -> LoginService:
    return LoginService(
        settings,
        credentials=SecretCredentials(
            settings.auth0.secret_id,
            max_age_seconds=settings.auth0.secret_max_age_seconds,
            reader=PowertoolsSecretReader(boto3_client=secrets_client),
        ),
        token_endpoint=TokenEndpoint(tenant_origin(settings.auth0)),
    )


@pytest.fixture
def counted(login_env, boto_session) -> Iterator[tuple[LoginService, list[str]]]:
    client, calls = counted_secrets_client(boto_session)
    service = service_with(ApiSettings.from_env(), client)
    yield service, calls
    service.close()


def rotation_aware_auth0(valid_secret: str, seen: list[str]):
    def handler(request: Request) -> Response:
        secret = request.get_json()["client_secret"]
        seen.append(secret)
        body, status = (TOKENS, 200) if secret == valid_secret else (INVALID_CLIENT, 401)
        return Response(json.dumps(body), status=status, content_type="application/json")

    return handler


def test_rotated_secret_is_fetched_again_and_the_grant_retried_once(login_env, counted, boto_session) -> None:
    service, calls = counted
    seen: list[str] = []
    login_env.expect_request("/oauth/token").respond_with_handler(rotation_aware_auth0(ROTATED_SECRET, seen))
    assert login_once(service, http_api_event(LOGIN)).response["statusCode"] == 502  # primes the cache
    put_client_secret(boto_session, ROTATED_SECRET)  # rotation; the cache still holds the old one
    seen.clear()
    calls.clear()

    result = login_once(service, http_api_event(LOGIN))
    warm = login_once(service, http_api_event(LOGIN))

    assert result.response["statusCode"] == 200
    assert seen == [CLIENT_SECRET, ROTATED_SECRET, ROTATED_SECRET]
    assert calls == ["GetSecretValue"]  # one forced fetch; the warm call used the refreshed cache
    assert warm.response["statusCode"] == 200


def test_invalid_client_with_an_unchanged_secret_is_not_retried(login_env, counted) -> None:
    service, calls = counted
    seen: list[str] = []
    login_env.expect_request("/oauth/token").respond_with_handler(rotation_aware_auth0("never", seen))

    result = login_once(service, http_api_event(LOGIN))

    assert result.response["statusCode"] == 502
    assert json.loads(result.response["body"])["error"] == "server_error"
    assert seen == [CLIENT_SECRET]
    assert calls == ["GetSecretValue", "GetSecretValue"]  # cached read, then the forced one


def test_warm_invocations_make_no_aws_call(login_env, counted) -> None:
    service, calls = counted
    login_env.expect_request("/oauth/token").respond_with_json(TOKENS)

    for _ in range(10):
        assert login_once(service, http_api_event(LOGIN)).response["statusCode"] == 200

    assert calls == ["GetSecretValue"]


def test_secret_max_age_zero_reads_every_time(login_env, boto_session, monkeypatch) -> None:
    monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "0")
    client, calls = counted_secrets_client(boto_session)
    service = service_with(ApiSettings.from_env(), client)
    login_env.expect_request("/oauth/token").respond_with_json(TOKENS)

    for _ in range(3):
        login_once(service, http_api_event(LOGIN))
    service.close()

    assert calls == ["GetSecretValue"] * 3


def test_one_tcp_connection_serves_many_invocations(login_env, boto_session, monkeypatch) -> None:
    with CountingTokenServer() as server:
        monkeypatch.setenv("AUTH0_DOMAIN", server.base_url)
        service = LoginService.from_env()
        for _ in range(25):
            assert login_once(service, http_api_event(LOGIN)).response["statusCode"] == 200
        service.close()

    assert (server.connections, server.requests) == (1, 25)


def with_network(service: LoginService, network: FlakyNetwork) -> None:
    # The one test-only reach into the service: the real pooled connection over a flaky socket layer.
    service.close()
    service._token_endpoint = TokenEndpoint(tenant_origin(service.settings.auth0, network=network))


def test_a_failed_connect_is_retried_once(login_env) -> None:
    login_env.expect_request("/oauth/token").respond_with_json(TOKENS)
    service = LoginService.from_env()
    network = FlakyNetwork(failures=1)
    with_network(service, network)

    result = login_once(service, http_api_event(LOGIN))
    service.close()

    assert result.response["statusCode"] == 200
    assert network.attempts == 2
    assert len(login_env.log) == 1


def test_connect_failing_twice_is_502_without_a_request(login_env) -> None:
    service = LoginService.from_env()
    network = FlakyNetwork(failures=2)
    with_network(service, network)

    result = login_once(service, http_api_event(LOGIN))
    service.close()

    assert result.response["statusCode"] == 502
    assert json.loads(result.response["body"])["error"] == "temporarily_unavailable"
    assert network.attempts == 2
    assert login_env.log == []


def test_nothing_listening_is_502(login_env, monkeypatch) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    monkeypatch.setenv("AUTH0_DOMAIN", f"http://127.0.0.1:{free_port}")
    service = LoginService.from_env()

    result = login_once(service, http_api_event(LOGIN))
    service.close()

    assert result.response["statusCode"] == 502


class HangUpAfterRequest:
    """A loopback server that reads each request and closes the connection without answering."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.requests = 0
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}"

    def serve(self) -> None:
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with connection:
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                if data:
                    self.requests += 1

    def close(self) -> None:
        self.listener.close()


def test_a_grant_that_may_have_reached_auth0_is_never_sent_again(login_env, monkeypatch) -> None:
    server = HangUpAfterRequest()
    monkeypatch.setenv("AUTH0_DOMAIN", server.base_url)
    service = LoginService.from_env()

    result = login_once(service, http_api_event(LOGIN))
    service.close()
    server.close()

    assert result.response["statusCode"] == 502
    assert json.loads(result.response["body"])["error"] == "temporarily_unavailable"
    assert server.requests == 1
