"""Cookie mode (``TokenDelivery=cookie``) by raw HTTP against the offline stack: the cookie's
attributes, what it holds and what it does not, rotation, CSRF refusals without an Auth0 call,
revocation and clearing on logout, CORS with credentials for the listed origin only."""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

import httpx
import pyotp
import pytest

from ropguard_offline.lambda_runtime import OUTPUT_LOGGER
from tests.emf import metric_totals
from tests.fixtures.cookie_stack import COOKIE_NAME, CSRF, CookieStack, any_body, cookie_value, set_cookies
from tests.fixtures.emulator import CAROL_TOTP_SECRET

pytestmark = pytest.mark.integration

ALICE = {"username": "alice@example.com", "password": "correct-horse-battery-staple"}
CAROL = {"username": "carol@example.com", "password": "carol-has-mfa-9"}
LIFETIME = 2_592_000  # RefreshTokenLifetimeSeconds' default: 30 days
ATTRIBUTES = f"Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age={LIFETIME}"
#: What a token answer's body may hold in cookie mode (``scope`` when Auth0 sends it), never refresh_token.
TOKEN_BODY_FIELDS = {"access_token", "id_token", "token_type", "expires_in", "scope"}
REQUIRED_TOKEN_FIELDS = {"access_token", "id_token", "token_type", "expires_in"}


def assert_token_body(response: httpx.Response) -> None:
    assert REQUIRED_TOKEN_FIELDS <= set(response.json()) <= TOKEN_BODY_FIELDS


FOREIGN = "https://evil.example"


def post(
    stack: CookieStack,
    path: str,
    body: Mapping[str, str] | None = None,
    *,
    cookie: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> httpx.Response:
    sent = {**CSRF, "Origin": stack.origin, **(headers or {})}
    sent = {name: value for name, value in sent.items() if value}
    if cookie is not None:
        sent["Cookie"] = f"{COOKIE_NAME}={cookie}"
    response = httpx.post(f"{stack.stack.api_url}{path}", json=dict(body or {}), headers=sent, timeout=30)
    stack.registry.add_tokens_from(any_body(response))
    return response


def login(stack: CookieStack) -> tuple[httpx.Response, str]:
    response = post(stack, "/login", ALICE)
    assert response.status_code == 200, response.text
    value = cookie_value(response, stack.registry)
    assert value is not None
    return response, value


def test_login_sets_one_sealed_host_cookie_and_no_refresh_token_in_the_body(
    cookie_stack: CookieStack,
) -> None:
    response, value = login(cookie_stack)
    assert_token_body(response)
    (header,) = set_cookies(response)
    assert header == f"{COOKIE_NAME}={value}; {ATTRIBUTES}"
    opened = cookie_stack.open(value)
    assert opened.refresh_token not in value
    assert LIFETIME - 60 <= opened.expires_at - time.time() <= LIFETIME


def test_the_cookie_value_is_no_refresh_token_at_auth0(cookie_stack: CookieStack) -> None:
    _, value = login(cookie_stack)
    answer = cookie_stack.refresh_at_auth0(value)
    assert (answer.status_code, answer.json()["error"]) == (403, "invalid_grant")


def test_without_offline_access_there_is_no_cookie(cookie_stack: CookieStack) -> None:
    response = post(cookie_stack, "/login", {**ALICE, "scope": "openid email"})
    assert response.status_code == 200
    assert "refresh_token" not in response.json()
    assert set_cookies(response) == []


def test_mfa_answers_set_the_cookie_too(cookie_stack: CookieStack) -> None:
    mfa_token = post(cookie_stack, "/login", CAROL).json()["mfa_token"]
    cookie_stack.registry.add("mfa_token", mfa_token)
    code = pyotp.TOTP(CAROL_TOTP_SECRET).now()
    cookie_stack.registry.add_otp(code)
    response = post(cookie_stack, "/login/mfa", {"mfa_token": mfa_token, "otp": code})
    assert response.status_code == 200
    assert_token_body(response)
    assert cookie_value(response, cookie_stack.registry) is not None


def test_refresh_reads_the_cookie_and_sets_the_rotated_one(cookie_stack: CookieStack) -> None:
    _, first = login(cookie_stack)
    before = cookie_stack.open(first)
    response = post(cookie_stack, "/token/refresh", cookie=first)
    assert response.status_code == 200, response.text
    assert_token_body(response)
    second = cookie_value(response, cookie_stack.registry)
    assert second is not None
    assert second != first
    after = cookie_stack.open(second)
    assert after.refresh_token != before.refresh_token
    assert after.expires_at == before.expires_at  # the absolute lifetime is the first cookie's
    (header,) = set_cookies(response)
    max_age = int(header.rsplit("Max-Age=", 1)[1])
    assert 0 < max_age <= LIFETIME
    assert header == f"{COOKIE_NAME}={second}; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age={max_age}"


def test_a_refresh_token_in_the_body_is_refused_naming_the_cookie(cookie_stack: CookieStack) -> None:
    _, value = login(cookie_stack)
    calls = cookie_stack.auth0_calls()
    refresh_token = cookie_stack.open(value).refresh_token
    response = post(cookie_stack, "/token/refresh", {"refresh_token": refresh_token}, cookie=value)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert COOKIE_NAME in response.json()["error_description"]
    assert cookie_stack.auth0_calls() == calls


@pytest.mark.parametrize(
    "cookie", [None, "", "not-a-sealed-value", "A" * 80], ids=["none", "empty", "junk", "forged"]
)
def test_no_usable_cookie_is_invalid_grant_without_auth0(
    cookie_stack: CookieStack, cookie: str | None
) -> None:
    calls = cookie_stack.auth0_calls()
    response = post(cookie_stack, "/token/refresh", cookie=cookie)
    assert (response.status_code, response.json()["error"]) == (403, "invalid_grant")
    assert cookie_stack.auth0_calls() == calls


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/login", ALICE),
        ("/token/refresh", {}),
        ("/logout", {}),
        ("/login/mfa", {"mfa_token": "x", "otp": "1"}),
    ],
)
@pytest.mark.parametrize(
    "headers",
    [{"X-CSRF": ""}, {"X-CSRF": "0"}, {"Origin": FOREIGN}, {"Origin": "null"}],
    ids=["no-csrf-header", "wrong-csrf-value", "foreign-origin", "opaque-origin"],
)
def test_csrf_refusals_never_reach_auth0(
    cookie_stack: CookieStack, path: str, body: Mapping[str, str], headers: Mapping[str, str]
) -> None:
    _, value = login(cookie_stack)
    calls = cookie_stack.auth0_calls()
    response = post(cookie_stack, path, body, cookie=value, headers=headers)
    assert (response.status_code, response.json()["error"]) == (403, "access_denied")
    assert set_cookies(response) == []
    assert cookie_stack.auth0_calls() == calls


def test_a_request_without_origin_passes_with_the_header(cookie_stack: CookieStack) -> None:
    """Not every client is a browser: without an Origin the header alone is the check."""
    response = post(cookie_stack, "/login", ALICE, headers={"Origin": ""})
    assert response.status_code == 200
    cookie_value(response, cookie_stack.registry)


def test_logout_revokes_and_clears(cookie_stack: CookieStack) -> None:
    _, value = login(cookie_stack)
    refresh_token = cookie_stack.open(value).refresh_token
    response = post(cookie_stack, "/logout", cookie=value)
    assert (response.status_code, response.json()) == (200, {})
    (header,) = set_cookies(response)
    assert header == f"{COOKIE_NAME}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"
    answer = cookie_stack.refresh_at_auth0(refresh_token)
    assert (answer.status_code, answer.json()["error"]) == (403, "invalid_grant")
    again = post(cookie_stack, "/token/refresh", cookie=value)  # the browser would have dropped it
    assert (again.status_code, again.json()["error"]) == (403, "invalid_grant")


@pytest.mark.parametrize("cookie", [None, "junk"], ids=["none", "junk"])
def test_logout_without_a_usable_cookie_still_clears_it(
    cookie_stack: CookieStack, cookie: str | None
) -> None:
    calls = cookie_stack.auth0_calls()
    response = post(cookie_stack, "/logout", cookie=cookie)
    assert (response.status_code, response.json()) == (200, {})
    assert set_cookies(response) == [f"{COOKIE_NAME}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"]
    assert cookie_stack.auth0_calls() == calls


def test_cors_allows_credentials_for_the_listed_origin_only(cookie_stack: CookieStack) -> None:
    api = cookie_stack.stack.api_url
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type,x-csrf",
    }
    allowed = httpx.options(f"{api}/token/refresh", headers={"Origin": cookie_stack.origin, **preflight})
    assert allowed.headers["access-control-allow-origin"] == cookie_stack.origin
    assert allowed.headers["access-control-allow-credentials"] == "true"
    assert "x-csrf" in allowed.headers["access-control-allow-headers"].lower()
    refused = httpx.options(f"{api}/token/refresh", headers={"Origin": FOREIGN, **preflight})
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-credentials" not in refused.headers
    response, _ = login(cookie_stack)
    assert response.headers["access-control-allow-origin"] == cookie_stack.origin
    assert response.headers["access-control-allow-credentials"] == "true"


def test_a_csrf_refusal_is_counted(cookie_stack: CookieStack, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=OUTPUT_LOGGER)
    response = post(cookie_stack, "/login", ALICE, headers={"X-CSRF": ""})
    assert response.status_code == 403
    metrics = metric_totals("\n".join(record.getMessage() for record in caplog.records))
    assert metrics.get("LoginCsrfRefused") == 1
