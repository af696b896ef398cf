"""ropguard.auth0_client: what reaches Auth0, what comes back, and nothing kept from one user to the next.

Against a loopback server (pytest-httpserver) through the real keep-alive origin.
"""

from __future__ import annotations

import base64
import json
import socket

import httpx
import pytest
from pytest_httpserver import HTTPServer

from ropguard.auth0_client import (
    PASSWORD_REALM_GRANT,
    Auth0Call,
    PasswordGrant,
    TokenEndpoint,
    json_body,
    tenant_origin,
)
from ropguard.credentials import ClientCredentials
from ropguard.errors import ConfigurationError, UpstreamTimeoutError, UpstreamUnreachableError
from ropguard.outbound import Reply
from ropguard.settings import CLIENT_SECRET_BASIC, CLIENT_SECRET_POST, Auth0Settings
from tests.fixtures.cookies import cookie_setting_answer

CREDENTIALS = ClientCredentials("client-id", "client-secret-never-log")
GRANT = PasswordGrant("alice@example.com", "pw-never-log", "openid", "https://api", "customers")


def settings_for(
    base_url: str, *, read_timeout: float = 2, method: str = CLIENT_SECRET_POST
) -> Auth0Settings:
    return Auth0Settings(
        base_url=base_url,
        secret_id="unused",
        connect_timeout_seconds=2,
        read_timeout_seconds=read_timeout,
        secret_max_age_seconds=300,
        client_auth_method=method,
    )


def endpoint_for(server: HTTPServer) -> TokenEndpoint:
    return TokenEndpoint(tenant_origin(settings_for(server.url_for("").rstrip("/"))))


def test_the_password_grant_as_sent(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/oauth/token", method="POST").respond_with_json(
        {"access_token": "a"}, headers={"X-RateLimit-Reset": "123"}
    )
    endpoint = endpoint_for(httpserver)
    reply = endpoint.request_token(GRANT, CREDENTIALS, forwarded_for="203.0.113.9")
    endpoint.close()

    request, _ = httpserver.log[0]
    assert request.headers["auth0-forwarded-for"] == "203.0.113.9"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Accept-Encoding"] == "identity"
    assert "Cookie" not in request.headers
    assert json.loads(request.get_data()) == {
        "grant_type": PASSWORD_REALM_GRANT,
        "client_id": "client-id",
        "client_secret": "client-secret-never-log",
        "username": "alice@example.com",
        "password": "pw-never-log",
        "scope": "openid",
        "realm": "customers",
        "audience": "https://api",
    }
    assert (reply.status, reply.body) == (200, {"access_token": "a"})
    assert reply.headers.get("x-ratelimit-reset") == "123"


def test_a_get_with_a_bearer_and_no_body(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/mfa/authenticators", method="GET").respond_with_json([])
    endpoint = endpoint_for(httpserver)
    call = Auth0Call("GET", "/mfa/authenticators", bearer="mfa-token", client_auth=False)
    reply = endpoint.send(call, None, forwarded_for="2001:db8::1")
    endpoint.close()

    request, _ = httpserver.log[0]
    assert request.headers["Authorization"] == "Bearer mfa-token"
    assert request.headers["auth0-forwarded-for"] == "2001:db8::1"
    assert request.get_data() == b""
    assert "Content-Type" not in request.headers
    assert reply.body == []


def test_a_post_call_carries_the_client_credentials(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/oauth/revoke", method="POST").respond_with_data("")
    endpoint = endpoint_for(httpserver)
    reply = endpoint.send(
        Auth0Call("POST", "/oauth/revoke", {"token": "rt"}), CREDENTIALS, forwarded_for="ip"
    )
    endpoint.close()

    request, _ = httpserver.log[0]
    assert json.loads(request.get_data()) == {
        "token": "rt",
        "client_id": "client-id",
        "client_secret": "client-secret-never-log",
    }
    assert (reply.status, reply.body) == (200, None)


def test_a_cookie_set_on_one_answer_is_never_sent_with_the_next_request(httpserver: HTTPServer) -> None:
    """Auth0 may set device or session cookies; one user's must not ride along on another's login."""
    seen: list[str | None] = []

    httpserver.expect_request("/oauth/token").respond_with_handler(cookie_setting_answer(seen))
    endpoint = endpoint_for(httpserver)
    for user in ("alice", "bob", "carol"):
        grant = PasswordGrant(f"{user}@example.com", "pw", "openid", None, None)
        assert endpoint.request_token(grant, CREDENTIALS, forwarded_for="203.0.113.9").status == 200
    endpoint.send(Auth0Call("POST", "/oauth/token", {}), CREDENTIALS, forwarded_for="203.0.113.9")
    endpoint.close()

    assert seen == [None, None, None, None]


def test_a_silent_tenant_is_a_timeout_named_as_httpx_named_it() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        base_url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        endpoint = TokenEndpoint(tenant_origin(settings_for(base_url, read_timeout=0.05)))
        with pytest.raises(UpstreamTimeoutError, match=r"^ReadTimeout$"):
            endpoint.request_token(GRANT, CREDENTIALS, forwarded_for="203.0.113.9")
        endpoint.close()


def test_nothing_listening_is_unreachable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        base_url = f"http://127.0.0.1:{probe.getsockname()[1]}"
    endpoint = TokenEndpoint(tenant_origin(settings_for(base_url)))
    with pytest.raises(UpstreamUnreachableError, match=r"^ConnectError$"):
        endpoint.send(Auth0Call("POST", "/oauth/token", {}), CREDENTIALS, forwarded_for="203.0.113.9")
    endpoint.close()


@pytest.mark.parametrize(
    ("headers", "content", "expected"),
    [
        ({"content-type": "application/json"}, b'{"a": 1}', {"a": 1}),
        ({"content-type": "application/problem+json; charset=utf-8"}, b"[1]", [1]),
        ({"content-type": "text/html"}, b'{"a": 1}', None),
        ({}, b'{"a": 1}', None),
        ({"content-type": "application/json"}, b"<html>", None),
        ({"content-type": "application/json"}, b"\xff\xfe\x00", None),
        ({"content-type": "application/json", "content-encoding": "gzip"}, b'{"a": 1}', None),
        ({"content-type": "application/json", "content-encoding": "identity"}, b'{"a": 1}', {"a": 1}),
    ],
)
def test_json_body_only_when_declared_json_and_parsable(
    headers: dict[str, str], content: bytes, expected: object
) -> None:
    assert json_body(Reply(200, httpx.Headers(headers), content)) == expected


def test_client_secret_basic_sends_the_credentials_in_the_header_only(httpserver: HTTPServer) -> None:
    """RFC 6749 2.3.1: id and secret each URL-encoded, joined by a colon, base64-encoded."""
    httpserver.expect_request("/oauth/token", method="POST").respond_with_json({"access_token": "a"})
    httpserver.expect_request("/oauth/revoke", method="POST").respond_with_data("")
    base_url = httpserver.url_for("").rstrip("/")
    endpoint = TokenEndpoint.for_tenant(settings_for(base_url, method=CLIENT_SECRET_BASIC))
    odd = ClientCredentials("id:with colon", "s3cret/+=?")
    endpoint.request_token(GRANT, odd, forwarded_for="203.0.113.9")
    endpoint.send(Auth0Call("POST", "/oauth/revoke", {"token": "rt"}), odd, forwarded_for="ip")
    endpoint.close()

    for request, _ in httpserver.log:
        scheme, _, encoded = request.headers["Authorization"].partition(" ")
        assert scheme == "Basic"
        assert base64.b64decode(encoded) == b"id%3Awith%20colon:s3cret%2F%2B%3D%3F"
        body = json.loads(request.get_data())
        assert "client_id" not in body
        assert "client_secret" not in body
    assert json.loads(httpserver.log[1][0].get_data()) == {"token": "rt"}


def test_client_secret_post_sends_no_authorization_header(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/oauth/token", method="POST").respond_with_json({"access_token": "a"})
    endpoint = TokenEndpoint.for_tenant(settings_for(httpserver.url_for("").rstrip("/")))
    endpoint.request_token(GRANT, CREDENTIALS, forwarded_for="203.0.113.9")
    endpoint.close()

    request, _ = httpserver.log[0]
    assert "Authorization" not in request.headers
    assert json.loads(request.get_data())["client_secret"] == "client-secret-never-log"


def test_the_auth_method_is_one_of_the_two_and_post_by_default() -> None:
    env = {"AUTH0_DOMAIN": "tenant.eu.auth0.com", "AUTH0_SECRET_ID": "s"}
    assert Auth0Settings.from_env(env).client_auth_method == "client_secret_post"
    basic = {**env, "AUTH0_CLIENT_AUTH_METHOD": "client_secret_basic"}
    assert Auth0Settings.from_env(basic).client_auth_method == CLIENT_SECRET_BASIC
    with pytest.raises(ConfigurationError) as raised:
        Auth0Settings.from_env({**env, "AUTH0_CLIENT_AUTH_METHOD": "private_key_jwt"})
    assert raised.value.variable == "AUTH0_CLIENT_AUTH_METHOD"
