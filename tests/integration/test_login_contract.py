"""Every row of the design's POST /login table, through lambda_handler, against a loopback /oauth/token."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ropguard.login import LoginService
from tests.fixtures.login import (
    ACCESS_TOKEN,
    ID_TOKEN,
    MFA_TOKEN,
    PASSWORD,
    REFRESH_TOKEN,
    http_api_event,
    json_body,
    login_once,
    rest_api_event,
)

pytestmark = pytest.mark.integration

LOGIN = json_body(username="alice@example.com", password=PASSWORD)


def answer(server: HTTPServer, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
    server.expect_request("/oauth/token", method="POST").respond_with_json(
        body, status=status, headers=headers
    )


def body_of(response: dict[str, Any]) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(response["body"])
    return parsed


def assert_json_no_store(response: dict[str, Any]) -> None:
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["headers"]["Cache-Control"] == "no-store"


@pytest.mark.parametrize("make_event", [http_api_event, rest_api_event], ids=["payload-2.0", "payload-1.0"])
def test_tokens_pass_through_unchanged(login_env, invoke_login, make_event) -> None:
    tokens = {
        "access_token": ACCESS_TOKEN,
        "id_token": ID_TOKEN,
        "refresh_token": REFRESH_TOKEN,
        "scope": "openid offline_access",
        "expires_in": 86400,
        "token_type": "Bearer",
    }
    answer(login_env, 200, tokens)

    response = invoke_login(make_event(LOGIN))

    assert response["statusCode"] == 200
    assert body_of(response) == tokens
    assert_json_no_store(response)
    assert len(login_env.log) == 1


@pytest.mark.parametrize(
    ("status", "error", "description"),
    [
        (403, "invalid_grant", "Wrong email or password."),
        (
            429,
            "too_many_attempts",
            "Your account has been blocked after multiple consecutive login attempts.",
        ),
        (401, "password_leaked", "This login attempt has been blocked because the password was breached."),
        (401, "unauthorized", "user is blocked"),
        (403, "access_denied", "Denied by an Action"),
    ],
)
def test_attack_protection_answers_pass_through(login_env, invoke_login, status, error, description) -> None:
    answer(login_env, status, {"error": error, "error_description": description})

    response = invoke_login(http_api_event(LOGIN))

    assert response["statusCode"] == status
    assert body_of(response) == {"error": error, "error_description": description}
    assert_json_no_store(response)


def test_bot_detection_is_passed_on_with_its_own_metric(login_env, invoke_login, capsys) -> None:
    """401 requires_verification: the app falls back to Universal Login; not a 502, not an alarm."""
    verify = {
        "error": "requires_verification",
        "error_description": "Suspicious request requires verification",
    }
    answer(login_env, 401, verify)

    response = invoke_login(http_api_event(LOGIN))

    assert response["statusCode"] == 401
    assert body_of(response) == verify
    out = capsys.readouterr().out
    assert '"LoginVerificationRequired"' in out
    assert '"LoginMisconfigured"' not in out
    assert len(login_env.log) == 1  # the secret is not re-read, the grant not sent again


@pytest.mark.parametrize("username", ["alice\u202e@example.com", "al\u200bice@example.com"])
def test_a_username_with_a_format_character_is_a_400_before_auth0(login_env, invoke_login, username) -> None:
    response = invoke_login(http_api_event(json_body(username=username, password=PASSWORD)))

    assert response["statusCode"] == 400
    assert body_of(response)["error"] == "invalid_request"
    assert "Unicode categories Cc, Cf" in body_of(response)["error_description"]
    assert login_env.log == []


def test_a_username_is_sent_to_auth0_in_nfc(login_env, invoke_login) -> None:
    answer(login_env, 200, {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 60})

    invoke_login(http_api_event(json_body(username="Jose\u0301@example.com", password=PASSWORD)))

    assert login_env.log[0][0].get_json()["username"] == "Jos\u00e9@example.com"


def test_mfa_required_passes_mfa_token_and_requirements(login_env, invoke_login) -> None:
    requirements = {"challenge": [{"type": "otp"}]}
    answer(
        login_env,
        403,
        {
            "error": "mfa_required",
            "error_description": "Multifactor authentication required",
            "mfa_token": MFA_TOKEN,
            "mfa_requirements": requirements,
        },
    )

    response = invoke_login(http_api_event(LOGIN))

    assert response["statusCode"] == 403
    assert body_of(response) == {
        "error": "mfa_required",
        "error_description": "Multifactor authentication required",
        "mfa_token": MFA_TOKEN,
        "mfa_requirements": requirements,
    }


def test_too_many_requests_sets_retry_after_from_rate_limit_reset(login_env) -> None:
    now = 1_700_000_000.0
    answer(
        login_env,
        429,
        {"error": "too_many_requests", "error_description": "Global limit has been reached"},
        {"X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(now) + 42)},
    )
    service = LoginService.from_env(clock=lambda: now)

    result = login_once(service, http_api_event(LOGIN))
    service.close()

    assert result.response["statusCode"] == 429
    assert result.response["headers"]["Retry-After"] == "42"
    assert json.loads(result.response["body"])["error"] == "too_many_requests"


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (401, {"error": "invalid_client", "error_description": "Client authentication failed"}),
        (401, {"error": "access_denied", "error_description": "Unauthorized"}),
        (403, {"error": "unauthorized_client", "error_description": "Grant type 'password' not allowed"}),
        (400, {"error": "invalid_request", "error_description": "Missing required parameter: username"}),
        (400, {"error": "invalid_scope", "error_description": "bad scope"}),
        (403, {"error": "brand_new_code", "error_description": "?"}),
    ],
    ids=[
        "invalid_client",
        "legacy-access_denied-401",
        "unauthorized_client",
        "400",
        "invalid_scope",
        "unknown",
    ],
)
def test_our_misconfiguration_is_a_generic_502(login_env, invoke_login, status, body) -> None:
    answer(login_env, status, body)

    response = invoke_login(http_api_event(LOGIN))

    assert response["statusCode"] == 502
    answer_body = body_of(response)
    assert answer_body["error"] == "server_error"
    assert body["error_description"] not in answer_body["error_description"]
    assert_json_no_store(response)


@pytest.mark.parametrize(
    ("status", "raw"),
    [
        (500, '{"error": "server_error"}'),
        (503, "<html>Service Unavailable</html>"),
        (200, "not json at all"),
        (200, '{"token_type": "Bearer"}'),
        (403, '["invalid_grant"]'),
        (302, ""),
    ],
    ids=["500", "503-html", "200-garbage", "200-no-token", "403-not-an-object", "redirect"],
)
def test_upstream_failures_are_502_temporarily_unavailable(login_env, invoke_login, status, raw) -> None:
    login_env.expect_request("/oauth/token").respond_with_data(raw, status=status, content_type="text/plain")

    response = invoke_login(http_api_event(LOGIN))

    assert response["statusCode"] == 502
    assert body_of(response)["error"] == "temporarily_unavailable"
    assert len(login_env.log) == 1


def test_timeout_is_504_and_not_retried(login_env, invoke_login, monkeypatch) -> None:
    monkeypatch.setenv("AUTH0_READ_TIMEOUT_SECONDS", "0.2")
    release = threading.Event()
    received: list[Request] = []

    def slow(request: Request) -> Response:
        received.append(request)
        release.wait(5)
        return Response("{}", status=200, content_type="application/json")

    login_env.expect_request("/oauth/token").respond_with_handler(slow)
    try:
        response = invoke_login(http_api_event(LOGIN))
    finally:
        release.set()

    assert response["statusCode"] == 504
    assert body_of(response)["error"] == "temporarily_unavailable"
    assert len(received) == 1


def test_secret_unavailable_is_503_and_auth0_is_not_called(login_env, invoke_login, monkeypatch) -> None:
    monkeypatch.setenv(
        "AUTH0_SECRET_ID", "arn:aws:secretsmanager:us-east-1:123456789012:secret:missing-AbCdEf"
    )

    response = invoke_login(http_api_event(LOGIN))

    assert response["statusCode"] == 503
    assert body_of(response)["error"] == "temporarily_unavailable"
    assert login_env.log == []


@pytest.mark.parametrize(
    "secret_string",
    ["not json", json.dumps({"client_id": "x"}), json.dumps({"client_id": "x", "client_secret": ""}), "[]"],
    ids=["not-json", "no-secret", "empty-secret", "not-an-object"],
)
def test_unusable_secret_is_503(login_env, invoke_login, boto_session, auth0_secret, secret_string) -> None:
    boto_session.client("secretsmanager").put_secret_value(SecretId=auth0_secret, SecretString=secret_string)

    response = invoke_login(http_api_event(LOGIN))

    assert response["statusCode"] == 503
    assert login_env.log == []


def test_no_source_ip_fails_closed_with_500_and_metric(login_env, invoke_login, capsys) -> None:
    response = invoke_login(http_api_event(LOGIN, source_ip=None))

    assert response["statusCode"] == 500
    assert body_of(response)["error"] == "server_error"
    assert login_env.log == []
    assert '"SourceIpMissing"' in capsys.readouterr().out


def test_invalid_configuration_is_one_error_naming_the_variable(login_env, invoke_login, monkeypatch, capsys):
    monkeypatch.setenv("AUTH0_DOMAIN", "http://auth0.example.com")

    response = invoke_login(http_api_event(LOGIN))

    assert response["statusCode"] == 500
    assert body_of(response)["error"] == "server_error"
    out = capsys.readouterr().out
    assert '"variable":"AUTH0_DOMAIN"' in out
    assert '"ConfigurationInvalid"' in out
    assert login_env.log == []


def test_realm_selects_the_password_realm_grant(login_env, invoke_login, monkeypatch) -> None:
    monkeypatch.setenv("AUTH0_REALM", "Username-Password-Authentication")
    answer(login_env, 200, {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 60})

    invoke_login(http_api_event(LOGIN))

    sent = login_env.log[0][0].get_json()
    assert sent["grant_type"] == "http://auth0.com/oauth/grant-type/password-realm"
    assert sent["realm"] == "Username-Password-Authentication"


def test_each_outcome_is_counted_once(login_env, invoke_login, capsys) -> None:
    answer(login_env, 403, {"error": "invalid_grant", "error_description": "Wrong email or password."})

    invoke_login(http_api_event(LOGIN))

    metrics = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    names = [m["Name"] for doc in metrics for d in doc["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]]
    assert sorted(names) == ["ColdStart", "LoginInvalidGrant"]
