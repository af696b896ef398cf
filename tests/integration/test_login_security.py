"""The end user's IP and nothing else the client chose reaches Auth0; nothing secret is printed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fixtures.login import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    ID_TOKEN,
    MFA_TOKEN,
    PASSWORD,
    REFRESH_TOKEN,
    SECRETS,
    http_api_event,
    json_body,
    rest_api_event,
)

pytestmark = pytest.mark.integration

EVENTS = Path(__file__).resolve().parents[2] / "events"
FORGED = {
    "X-Forwarded-For": "198.51.100.99",
    "auth0-forwarded-for": "198.51.100.98",
    "Forwarded": "for=198.51.100.97",
    "X-Real-IP": "198.51.100.96",
    "True-Client-IP": "198.51.100.95",
    "CloudFront-Viewer-Address": "198.51.100.94:443",
}


@pytest.fixture
def tokens(login_env):
    login_env.expect_request("/oauth/token", method="POST").respond_with_json(
        {"access_token": ACCESS_TOKEN, "id_token": ID_TOKEN, "token_type": "Bearer", "expires_in": 60}
    )
    return login_env


@pytest.mark.parametrize(
    ("context_ip", "forwarded"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("::ffff:198.51.100.4", "198.51.100.4"),
        ("192.168.0.1/32", "192.168.0.1"),
        ("2001:DB8::1", "2001:db8::1"),
        ("2001:db8::1/128", "2001:db8::1"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
@pytest.mark.parametrize("make_event", [http_api_event, rest_api_event], ids=["v2", "v1"])
def test_auth0_sees_the_request_context_ip_never_client_headers(
    tokens, invoke_login, make_event, context_ip, forwarded
) -> None:
    response = invoke_login(
        make_event(
            json_body(username="a@example.com", password=PASSWORD), source_ip=context_ip, headers=FORGED
        )
    )

    assert response["statusCode"] == 200
    request = tokens.log[0][0]
    assert request.headers.getlist("auth0-forwarded-for") == [forwarded]
    for name in FORGED:
        if name != "auth0-forwarded-for":
            assert name not in request.headers


@pytest.mark.parametrize(
    "context_ip",
    [
        "",
        "unknown",
        "test-invoke-source-ip",
        "10.0.0.0/8",
        "0.0.0.0",  # noqa: S104 - an address to refuse
        "::",
        "224.0.0.1",
        "fe80::1%eth0",
        42,
    ],
)
def test_unusable_context_ip_fails_closed_even_with_forged_headers(
    login_env, invoke_login, context_ip
) -> None:
    response = invoke_login(
        http_api_event(json_body(username="a", password=PASSWORD), source_ip=context_ip, headers=FORGED)
    )

    assert response["statusCode"] == 500
    assert json.loads(response["body"])["error"] == "server_error"
    assert login_env.log == []


@pytest.mark.parametrize("name", ["login-http-api-v2.json", "login-rest-api-v1.json"])
def test_sample_events_forward_the_context_ip(tokens, invoke_login, name) -> None:
    event = json.loads((EVENTS / name).read_text())

    response = invoke_login(event)

    assert response["statusCode"] == 200
    request = tokens.log[0][0]
    assert request.headers["auth0-forwarded-for"] == "203.0.113.7"
    assert request.get_json()["username"] == "alice@example.com"


def test_only_username_password_and_scope_come_from_the_client(tokens, invoke_login) -> None:
    body = json_body(
        username="a@example.com",
        password=PASSWORD,
        scope="openid",
        audience="https://evil.example.com/",
        realm="other-connection",
        grant_type="client_credentials",
        client_id="evil-client",
        client_secret="evil-secret-value",
        connection="x",
        extra="y",
    )

    invoke_login(http_api_event(body, headers={"Authorization": "Bearer stolen", "Cookie": "s=1", **FORGED}))

    request = tokens.log[0][0]
    assert request.get_json() == {
        "grant_type": "password",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "username": "a@example.com",
        "password": PASSWORD,
        "scope": "openid",
        "audience": "https://api.example.com/",
    }
    assert {"authorization", "cookie", "x-forwarded-for"}.isdisjoint(
        name.lower() for name, _ in request.headers.items()
    )


def test_no_log_line_or_metric_holds_a_secret(login_env, invoke_login, capsys, caplog) -> None:
    """Success, MFA, client rejection and a bad request: the printed output has none of the secrets."""
    # Our loggers at DEBUG (botocore's own DEBUG logging prints responses; we never enable it).
    caplog.set_level("DEBUG", logger="ropguard-login")
    answers = [
        (200, {"access_token": ACCESS_TOKEN, "id_token": ID_TOKEN, "refresh_token": REFRESH_TOKEN}),
        (403, {"error": "mfa_required", "error_description": "MFA", "mfa_token": MFA_TOKEN}),
        (401, {"error": "invalid_client", "error_description": f"bad secret {CLIENT_SECRET}"}),
    ]
    for status, body in answers:
        login_env.expect_oneshot_request("/oauth/token").respond_with_json(body, status=status)
    for _ in answers:
        invoke_login(http_api_event(json_body(username="a@example.com", password=PASSWORD)))
    invoke_login(http_api_event(json_body(username="a@example.com", password=PASSWORD, scope="nope")))

    printed = capsys.readouterr()
    records = "\n".join(
        json.dumps(r.__dict__, default=str) for r in caplog.records if r.name.startswith("ropguard")
    )
    lines = [line for line in printed.out.splitlines() if '"message":"login answered"' in line]
    assert [json.loads(line)["outcome"] for line in lines] == [
        "LoginSucceeded",
        "LoginMfaRequired",
        "LoginClientRejected",
        "LoginBadRequest",
    ]
    assert all(json.loads(line)["source_ip"] == "203.0.113.7" for line in lines)
    for secret in SECRETS:
        assert secret not in printed.out
        assert secret not in printed.err
        assert secret not in records
