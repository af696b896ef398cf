"""Pure functions of the login path: client address, settings, outcome mapping, responses."""

from __future__ import annotations

import json

import pytest

from ropguard.answers import Answer, error_body
from ropguard.auth0_client import Auth0Reply
from ropguard.client_address import ClientAddressResolver, normalise_ip, source_ip
from ropguard.edge import ORIGIN_NOT_VERIFIED_DESCRIPTION
from ropguard.errors import ConfigurationError
from ropguard.login import LoginService
from ropguard.responses import json_response, render
from ropguard.settings import CLOUDFRONT, ApiSettings, ClientAddressSettings
from tests.fixtures.login import login_once

BASE_ENV = {"AUTH0_DOMAIN": "tenant.eu.auth0.com", "AUTH0_SECRET_ID": "ropguard/auth0"}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("203.0.113.7", "203.0.113.7"),
        (" 203.0.113.7 ", "203.0.113.7"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("::FFFF:cb00:7107", "203.0.113.7"),
        ("192.168.0.1/32", "192.168.0.1"),
        ("2001:0DB8:0000::0001", "2001:db8::1"),
        ("2001:db8::1/128", "2001:db8::1"),
        ("::1", "::1"),
        ("192.168.0.0/24", None),
        ("192.168.0.1/24", None),
        ("0.0.0.0", None),  # noqa: S104 - an address to refuse
        ("::", None),
        ("ff02::1", None),
        ("fe80::1%eth0", None),
        ("256.1.1.1", None),
        ("1.2.3.4, 5.6.7.8", None),
        ("", None),
        (None, None),
        (3232235521, None),
    ],
)
def test_normalise_ip(raw, expected) -> None:
    assert normalise_ip(raw) == expected


def test_source_ip_reads_only_the_request_context() -> None:
    forged = {"x-forwarded-for": "198.51.100.1", "auth0-forwarded-for": "198.51.100.2"}
    v2 = {"version": "2.0", "headers": forged, "requestContext": {"http": {"sourceIp": "203.0.113.9"}}}
    v1 = {"headers": forged, "requestContext": {"identity": {"sourceIp": "203.0.113.8"}}}
    assert source_ip(v2) == "203.0.113.9"
    assert source_ip(v1) == "203.0.113.8"
    assert source_ip({"version": "2.0", "headers": forged, "requestContext": {}}) is None
    assert source_ip({"headers": forged}) is None
    assert source_ip({"version": "2.0", "requestContext": {"http": None}}) is None


def test_settings_defaults() -> None:
    settings = ApiSettings.from_env(BASE_ENV)
    assert settings.auth0.base_url == "https://tenant.eu.auth0.com"
    assert settings.auth0.connect_timeout_seconds == 2.0
    assert settings.auth0.read_timeout_seconds == 8.0
    assert settings.auth0.secret_max_age_seconds == 300
    assert (settings.audience, settings.realm) == (None, None)
    assert settings.scopes == ("openid", "profile", "email")
    assert settings.default_scope == "openid profile email"
    assert settings.max_body_bytes == 4096


@pytest.mark.parametrize(
    ("domain", "base_url"),
    [
        ("https://tenant.us.auth0.com/", "https://tenant.us.auth0.com"),
        ("login.example.com:8443", "https://login.example.com:8443"),
        ("http://127.0.0.1:4000", "http://127.0.0.1:4000"),
        ("http://127.8.9.10:4000", "http://127.8.9.10:4000"),
        ("http://localhost:4000", "http://localhost:4000"),
        ("http://[::1]:4000", "http://[::1]:4000"),
    ],
)
def test_auth0_domain_accepted(domain, base_url) -> None:
    assert ApiSettings.from_env({**BASE_ENV, "AUTH0_DOMAIN": domain}).auth0.base_url == base_url


def test_plain_http_host_needs_an_explicit_opt_in() -> None:
    env = {**BASE_ENV, "AUTH0_DOMAIN": "http://host.docker.internal:4000"}
    with pytest.raises(ConfigurationError, match="AUTH0_DOMAIN: plain http"):
        ApiSettings.from_env(env)
    opted_in = ApiSettings.from_env({**env, "AUTH0_INSECURE_HTTP_HOSTS": "host.docker.internal"})
    assert opted_in.auth0.base_url == "http://host.docker.internal:4000"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("AUTH0_DOMAIN", "", "AUTH0_DOMAIN: is required"),
        ("AUTH0_DOMAIN", "http://tenant.auth0.com", "AUTH0_DOMAIN: plain http"),
        ("AUTH0_DOMAIN", "http://10.0.0.5:4000", "AUTH0_DOMAIN: plain http"),
        ("AUTH0_DOMAIN", "ftp://tenant.auth0.com", "AUTH0_DOMAIN: must be a tenant domain"),
        ("AUTH0_DOMAIN", "tenant.auth0.com/oauth", "AUTH0_DOMAIN: must be a bare domain"),
        ("AUTH0_DOMAIN", "https://user:pw@tenant.auth0.com", "AUTH0_DOMAIN: must be a bare domain"),
        ("AUTH0_DOMAIN", "tenant.auth0.com:99999", "AUTH0_DOMAIN: is not a valid"),
        ("AUTH0_SECRET_ID", " ", "AUTH0_SECRET_ID: is required"),
        ("AUTH0_CONNECT_TIMEOUT_SECONDS", "soon", "AUTH0_CONNECT_TIMEOUT_SECONDS: must be a number"),
        ("AUTH0_READ_TIMEOUT_SECONDS", "0", "AUTH0_READ_TIMEOUT_SECONDS: must be between"),
        ("SECRET_MAX_AGE_SECONDS", "1.5", "SECRET_MAX_AGE_SECONDS: must be an integer"),
        ("MAX_BODY_BYTES", "10", "MAX_BODY_BYTES: must be between"),
    ],
)
def test_settings_errors_name_the_variable(name, value, message) -> None:
    with pytest.raises(ConfigurationError, match=message) as caught:
        ApiSettings.from_env({**BASE_ENV, name: value})
    assert caught.value.variable == name


def reply(status: int, body, headers=None) -> Auth0Reply:
    return Auth0Reply(status=status, body=body, headers=headers or {})


def test_responses_are_json_and_never_cached() -> None:
    response = render(Answer("BadRequest", 400, error_body("invalid_request", "bad"), {"Retry-After": "3"}))
    assert response["statusCode"] == 400
    assert response["headers"]["Content-Type"] == "application/json"
    assert response["headers"]["Cache-Control"] == "no-store"
    assert response["headers"]["Retry-After"] == "3"
    assert json.loads(response["body"]) == {"error": "invalid_request", "error_description": "bad"}
    assert json_response(200, {"a": 1})["isBase64Encoded"] is False


# --- CloudFront mode at the login service ---------------------------------------------------------


class _NeverCalled:
    """A token endpoint that fails the test if the service reaches it."""

    def request_token(self, *args: object, **kwargs: object) -> Auth0Reply:
        raise AssertionError("Auth0 must not be called for an unverified request")

    def close(self) -> None:
        pass


class _OriginSecret:
    def value(self, stage: str = "AWSCURRENT", *, refresh: bool = False) -> str | None:
        return {"AWSCURRENT": "origin-secret-for-the-login-unit-test"}.get(stage)


@pytest.mark.parametrize(
    ("headers", "outcome"),
    [
        ({"cloudfront-viewer-address": "198.51.100.10:443"}, "OriginNotVerified"),
        (
            {"cloudfront-viewer-address": "198.51.100.10:443", "x-origin-verify": "forged"},
            "OriginNotVerified",
        ),
        ({"x-origin-verify": "origin-secret-for-the-login-unit-test"}, "ViewerAddressInvalid"),
    ],
)
def test_unverified_cloudfront_request_is_refused_before_auth0(headers: dict[str, str], outcome: str) -> None:
    service = LoginService(
        ApiSettings.from_env(BASE_ENV),
        credentials=None,  # type: ignore[arg-type] - never reached
        token_endpoint=_NeverCalled(),
        client_address=ClientAddressResolver(ClientAddressSettings(CLOUDFRONT, "origin"), _OriginSecret()),
    )
    event = {
        "version": "2.0",
        "headers": {"content-type": "application/json", **headers},
        "body": json.dumps({"username": "alice@example.com", "password": "unit-test-password"}),
        "requestContext": {"http": {"sourceIp": "130.176.0.1"}, "requestId": "r1"},
    }
    result = login_once(service, event)
    assert result.outcome == outcome
    assert result.response["statusCode"] == 403
    assert json.loads(result.response["body"]) == {
        "error": "access_denied",
        "error_description": ORIGIN_NOT_VERIFIED_DESCRIPTION,
    }
    assert "forged" not in result.response["body"]
    assert result.log_fields["source_ip"] is None
