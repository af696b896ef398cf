"""Unit tests of ropguard.credentials: the extension client against a loopback HTTP server, the cache,
and the Powertools path against moto in-process."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ropguard.credentials import (
    EXTENSION_TOKEN_HEADER,
    CachedSecret,
    ExtensionSecretReader,
    ExtensionTimeouts,
    PowertoolsSecretReader,
    SecretCredentials,
    secret_reader,
)
from ropguard.errors import ConfigurationError, SecretUnavailableError
from ropguard.settings import EXTENSION_PORT_VARIABLE, SecretStoreSettings

SECRET_ID = "ropguard/auth0-client"
CLIENT_SECRET = "client-secret-extension-Qw3-never-log-me"
OLD_SECRET = "client-secret-previous-Zx8-never-log-me"
SESSION_TOKEN = "session-token-Lp4-never-log-me"
CURRENT_STRING = json.dumps({"client_id": "cid", "client_secret": CLIENT_SECRET})
PATH = "/secretsmanager/get"


@pytest.fixture(autouse=True)
def _register_secrets(secret_registry: Any) -> None:
    for value in (CLIENT_SECRET, OLD_SECRET, SESSION_TOKEN):
        secret_registry.add("secret", value)


def answer(secret_string: str, stage: str = "AWSCURRENT") -> dict[str, Any]:
    return {
        "ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{SECRET_ID}-AbCdEf",
        "Name": SECRET_ID,
        "VersionId": "v-1",
        "SecretString": secret_string,
        "VersionStages": [stage],
        "CreatedDate": "2026-01-01T00:00:00Z",
    }


def reader(server: HTTPServer, *, token: str | None = SESSION_TOKEN, read_seconds: float = 2.0) -> Any:
    env = {EXTENSION_PORT_VARIABLE: str(server.port)}
    if token is not None:
        env["AWS_SESSION_TOKEN"] = token
    settings = SecretStoreSettings.from_env(env)
    assert isinstance(secret_reader(settings), ExtensionSecretReader)  # the variable selects this path
    return ExtensionSecretReader(
        server.port,
        session_token=settings.session_token,
        timeouts=ExtensionTimeouts(connect_seconds=0.5, read_seconds=read_seconds),
    )


def expect_current(server: HTTPServer, secret_string: str = CURRENT_STRING) -> None:
    server.expect_request(
        PATH,
        method="GET",
        query_string={"secretId": SECRET_ID},
        headers={EXTENSION_TOKEN_HEADER: SESSION_TOKEN},
    ).respond_with_json(answer(secret_string))


# --- the extension's endpoint ---------------------------------------------------------------------


def test_reads_the_current_stage_with_the_session_token(httpserver: HTTPServer) -> None:
    expect_current(httpserver)
    assert reader(httpserver).read(SECRET_ID, "AWSCURRENT") == CURRENT_STRING
    [(request, _)] = httpserver.log
    assert request.args.to_dict() == {"secretId": SECRET_ID}  # AWSCURRENT is the extension's default
    assert request.headers[EXTENSION_TOKEN_HEADER] == SESSION_TOKEN


def test_asks_for_another_stage_by_name(httpserver: HTTPServer) -> None:
    httpserver.expect_request(
        PATH, query_string={"secretId": SECRET_ID, "versionStage": "AWSPREVIOUS"}
    ).respond_with_json(answer(OLD_SECRET, "AWSPREVIOUS"))
    assert reader(httpserver).read(SECRET_ID, "AWSPREVIOUS") == OLD_SECRET


@pytest.mark.parametrize("status", [400, 404])
def test_a_missing_previous_stage_is_none(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"__type": "ResourceNotFoundException", "message": "no such stage"}, status=status
    )
    assert reader(httpserver).read(SECRET_ID, "AWSPREVIOUS") is None


def test_a_missing_current_stage_is_an_error(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"__type": "ResourceNotFoundException", "message": "Secrets Manager can't find the secret"},
        status=400,
    )
    with pytest.raises(SecretUnavailableError, match="answered 400"):
        reader(httpserver).read(SECRET_ID, "AWSCURRENT")


def test_another_bad_request_is_not_taken_for_a_missing_stage(httpserver: HTTPServer) -> None:
    httpserver.expect_request(PATH).respond_with_json(
        {"__type": "InvalidParameterException", "message": "bad"}, status=400
    )
    with pytest.raises(SecretUnavailableError, match="answered 400"):
        reader(httpserver).read(SECRET_ID, "AWSPREVIOUS")


@pytest.mark.parametrize("status", [401, 403])
def test_a_refused_token_is_unavailable(httpserver: HTTPServer, status: int) -> None:
    httpserver.expect_request(PATH).respond_with_json({"message": "bad token"}, status=status)
    with pytest.raises(SecretUnavailableError, match="refused the token") as raised:
        reader(httpserver).read(SECRET_ID, "AWSCURRENT")
    assert SESSION_TOKEN not in str(raised.value)


def test_a_wrong_token_is_refused_by_a_checking_extension(httpserver: HTTPServer) -> None:
    """The stand-in checks the token the way the real extension does; ours must send the right one."""

    def check(request: Request) -> Response:
        if request.headers.get(EXTENSION_TOKEN_HEADER) != SESSION_TOKEN:
            return Response('{"message": "forbidden"}', status=401, content_type="application/json")
        return Response(json.dumps(answer(CURRENT_STRING)), content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(check)
    with pytest.raises(SecretUnavailableError, match="refused the token"):
        reader(httpserver, token="another-environment-token").read(SECRET_ID, "AWSCURRENT")
    assert reader(httpserver).read(SECRET_ID, "AWSCURRENT") == CURRENT_STRING


def test_no_session_token_means_no_request(httpserver: HTTPServer) -> None:
    with pytest.raises(SecretUnavailableError, match="AWS_SESSION_TOKEN is not set"):
        reader(httpserver, token=None).read(SECRET_ID, "AWSCURRENT")
    assert httpserver.log == []


def test_a_slow_extension_times_out(httpserver: HTTPServer) -> None:
    def slow(request: Request) -> Response:
        time.sleep(0.6)
        return Response(json.dumps(answer(CURRENT_STRING)), content_type="application/json")

    httpserver.expect_request(PATH).respond_with_handler(slow)
    with pytest.raises(SecretUnavailableError, match="did not answer in time"):
        reader(httpserver, read_seconds=0.2).read(SECRET_ID, "AWSCURRENT")


def test_no_extension_listening_is_unavailable() -> None:
    with socket.socket() as probe:  # a port nobody listens on once the probe is closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    extension = ExtensionSecretReader(port, session_token=SESSION_TOKEN)
    with pytest.raises(SecretUnavailableError, match="unreachable"):
        extension.read(SECRET_ID, "AWSCURRENT")


@pytest.mark.parametrize(
    ("body", "content_type", "status", "problem"),
    [
        ("<html>proxy error</html>", "text/html", 200, "not JSON"),
        ("[1, 2]", "application/json", 200, "no SecretString"),
        (json.dumps({"SecretBinary": "AAEC"}), "application/json", 200, "no SecretString"),
        (json.dumps({"SecretString": 42}), "application/json", 200, "no SecretString"),
        ("oops", "text/plain", 500, "answered 500"),
    ],
)
def test_garbage_is_unavailable(
    httpserver: HTTPServer, body: str, content_type: str, status: int, problem: str
) -> None:
    httpserver.expect_request(PATH).respond_with_data(body, status=status, content_type=content_type)
    with pytest.raises(SecretUnavailableError, match=problem):
        reader(httpserver).read(SECRET_ID, "AWSCURRENT")


def test_reset_rebuilds_the_client(httpserver: HTTPServer) -> None:
    expect_current(httpserver)
    extension = reader(httpserver)
    extension.read(SECRET_ID, "AWSCURRENT")
    first = extension._client
    extension.reset()
    assert extension._client is None
    extension.read(SECRET_ID, "AWSCURRENT")
    assert extension._client is not None
    assert extension._client is not first


@pytest.mark.parametrize("value", ["http", "0", "70000", "-1"])
def test_a_bad_port_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        SecretStoreSettings.from_env({EXTENSION_PORT_VARIABLE: value})
    assert raised.value.variable == EXTENSION_PORT_VARIABLE


def test_the_variable_chooses_the_path() -> None:
    def chosen(env: dict[str, str]) -> Any:
        return secret_reader(SecretStoreSettings.from_env(env))

    assert isinstance(chosen({EXTENSION_PORT_VARIABLE: "2773"}), ExtensionSecretReader)
    assert isinstance(chosen({EXTENSION_PORT_VARIABLE: " "}), PowertoolsSecretReader)
    assert isinstance(chosen({}), PowertoolsSecretReader)


# --- the cache ------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_values_are_kept_for_the_max_age_then_read_again(httpserver: HTTPServer) -> None:
    expect_current(httpserver)
    clock = Clock()
    secret = CachedSecret(SECRET_ID, max_age_seconds=300, reader=reader(httpserver), clock=clock)
    assert secret.value() == CURRENT_STRING
    clock.now += 299
    assert secret.value() == CURRENT_STRING
    assert len(httpserver.log) == 1
    clock.now += 1
    assert secret.value() == CURRENT_STRING
    assert len(httpserver.log) == 2


def test_refresh_reads_at_once_and_zero_max_age_reads_every_time(httpserver: HTTPServer) -> None:
    expect_current(httpserver)
    secret = CachedSecret(SECRET_ID, max_age_seconds=300, reader=reader(httpserver))
    secret.value()
    secret.value(refresh=True)
    assert len(httpserver.log) == 2
    uncached = CachedSecret(SECRET_ID, max_age_seconds=0, reader=reader(httpserver))
    uncached.value()
    uncached.value()
    assert len(httpserver.log) == 4


def test_stages_are_cached_apart_and_a_missing_one_is_remembered(httpserver: HTTPServer) -> None:
    expect_current(httpserver)
    httpserver.expect_request(
        PATH, query_string={"secretId": SECRET_ID, "versionStage": "AWSPREVIOUS"}
    ).respond_with_json({"__type": "ResourceNotFoundException"}, status=400)
    secret = CachedSecret(SECRET_ID, max_age_seconds=300, reader=reader(httpserver))
    assert secret.value("AWSPREVIOUS") is None
    assert secret.value("AWSPREVIOUS") is None
    assert secret.value("AWSCURRENT") == CURRENT_STRING
    assert len(httpserver.log) == 2


def test_credentials_through_the_extension(httpserver: HTTPServer) -> None:
    expect_current(httpserver)
    credentials = SecretCredentials(SECRET_ID, max_age_seconds=300, reader=reader(httpserver)).get()
    assert (credentials.client_id, credentials.client_secret) == ("cid", CLIENT_SECRET)
    assert CLIENT_SECRET not in repr(credentials)


@pytest.mark.parametrize(
    ("secret_string", "problem"),
    [
        ("not json", "does not hold JSON"),
        ('["a"]', "not a JSON object"),
        ('{"client_id": "c"}', "client_secret"),
    ],
)
def test_unusable_credentials_are_unavailable(
    httpserver: HTTPServer, secret_string: str, problem: str
) -> None:
    expect_current(httpserver, secret_string)
    with pytest.raises(SecretUnavailableError, match=problem):
        SecretCredentials(SECRET_ID, max_age_seconds=300, reader=reader(httpserver)).get()


# --- Powertools Parameters (boto3), moto in-process ------------------------------------------------


@pytest.fixture
def secrets_manager(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", EXTENSION_PORT_VARIABLE):
        monkeypatch.delenv(key, raising=False)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield boto3.client("secretsmanager", region_name="us-east-1")


def test_powertools_reads_stages_and_none_for_a_missing_previous(secrets_manager: Any) -> None:
    secrets_manager.create_secret(Name=SECRET_ID, SecretString=CURRENT_STRING)
    powertools = PowertoolsSecretReader(boto3_client=secrets_manager)
    assert powertools.read(SECRET_ID, "AWSCURRENT") == CURRENT_STRING
    assert powertools.read(SECRET_ID, "AWSPREVIOUS") is None
    secrets_manager.put_secret_value(SecretId=SECRET_ID, SecretString=OLD_SECRET)  # now AWSCURRENT
    assert powertools.read(SECRET_ID, "AWSPREVIOUS") == CURRENT_STRING


def test_powertools_missing_secret_is_unavailable(secrets_manager: Any) -> None:
    with pytest.raises(SecretUnavailableError, match="cannot read secret"):
        PowertoolsSecretReader(boto3_client=secrets_manager).read("no-such-secret", "AWSCURRENT")
