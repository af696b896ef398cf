"""Unit tests of ropguard.cookie_delivery and its settings: the CSRF rule, the cookie's exact
attributes, the refresh token out of the body and into the sealed cookie (its expiry kept across
rotations), the session routes' token taken from the cookie, never from the body."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ropguard.answers import Answer
from ropguard.api_event import ApiEvent, read_event
from ropguard.cookie_delivery import (
    CLEAR_COOKIE,
    COOKIE_NAME,
    CookieDelivery,
    SessionCookie,
)
from ropguard.cookie_seal import CookieKeys, derive_key
from ropguard.errors import ConfigurationError, InvalidRequestError
from ropguard.settings import ApiSettings, CookieSettings, read_origins
from tests.fixtures.login import http_api_event

ROOT = Path(__file__).resolve().parents[2]
APP = "https://app.example.com"
RT = "v1.refresh-token-delivery-test-never-log-me"
KEY = "cookie-delivery-test-key-material-never-log-me-0123456789"
NOW = 1_900_000_000
LIFETIME = 3600
TOKENS = {
    "access_token": "at-delivery-test-never-log-me",
    "id_token": "id.token.x",
    "token_type": "Bearer",
    "expires_in": 86400,
    "scope": "openid offline_access",
    "refresh_token": RT,
}
COOKIE_ENV = {
    "AUTH0_DOMAIN": "tenant.example.com",
    "AUTH0_SECRET_ID": "auth0",
    "TOKEN_DELIVERY": "cookie",
    "COOKIE_KEY_SECRET_ID": "cookie-key",
    "REFRESH_TOKEN_LIFETIME_SECONDS": str(LIFETIME),
    "ALLOWED_ORIGINS": APP,
}


@pytest.fixture(autouse=True)
def _register(secret_registry: Any) -> None:
    secret_registry.add("secret", RT, KEY, TOKENS["access_token"])


class Keys:
    def keys(self, *, refresh: bool = False) -> CookieKeys:
        return CookieKeys(derive_key(KEY))


def delivery(now: float = NOW) -> CookieDelivery:
    return CookieDelivery.with_keys(Keys(), ApiSettings.from_env(COOKIE_ENV), clock=lambda: now)


def event(
    headers: dict[str, str] | None = None, cookies: list[str] | None = None, body: str | None = "{}"
) -> ApiEvent:
    raw = http_api_event(body, headers=headers)
    if cookies is not None:
        raw["cookies"] = cookies
    return read_event(raw)


def tokens(body: Any = None) -> Answer:
    return Answer("Succeeded", 200, dict(TOKENS) if body is None else body)


def cookie_value(answer: Answer) -> str:
    (header,) = answer.cookies
    return header.split(";", 1)[0].partition("=")[2]


# --- settings -------------------------------------------------------------------------------------


def test_body_mode_is_the_default_and_has_no_cookie_settings() -> None:
    env = {key: value for key, value in COOKIE_ENV.items() if key != "TOKEN_DELIVERY"}
    assert CookieSettings.from_env(env) is None
    assert CookieSettings.from_env({**env, "TOKEN_DELIVERY": "body"}) is None


def test_cookie_settings() -> None:
    settings = CookieSettings.from_env(COOKIE_ENV)
    assert settings == CookieSettings("cookie-key", LIFETIME, frozenset({APP}))


@pytest.mark.parametrize(
    ("change", "variable"),
    [
        ({"TOKEN_DELIVERY": "header"}, "TOKEN_DELIVERY"),
        ({"ALLOWED_ORIGINS": ""}, "ALLOWED_ORIGINS"),
        ({"ALLOWED_ORIGINS": f"{APP},*"}, "ALLOWED_ORIGINS"),
        ({"COOKIE_KEY_SECRET_ID": ""}, "COOKIE_KEY_SECRET_ID"),
        ({"REFRESH_TOKEN_LIFETIME_SECONDS": "10"}, "REFRESH_TOKEN_LIFETIME_SECONDS"),
    ],
)
def test_bad_cookie_settings_name_the_variable(change: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        CookieSettings.from_env({**COOKIE_ENV, **change})
    assert raised.value.variable == variable


def test_origins_are_exact_and_never_a_wildcard() -> None:
    assert read_origins({"O": f" {APP}/ ,https://admin.example.com"}, "O") == {
        APP,
        "https://admin.example.com",
    }
    for value in ("*", f"{APP},*", "https://*"):
        with pytest.raises(ConfigurationError, match=r"never '\*'"):
            read_origins({"O": value}, "O")


# --- CSRF -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({"x-csrf": "1", "origin": APP}, None),
        ({"x-csrf": "1"}, None),  # no Origin: not a browser's cross-origin call; the header is the check
        ({"X-CSRF": " 1 ", "Origin": APP + "/"}, None),
        ({}, "the X-CSRF: 1 header is missing"),
        ({"origin": APP}, "the X-CSRF: 1 header is missing"),
        ({"x-csrf": "true", "origin": APP}, "the X-CSRF: 1 header is missing"),
        ({"x-csrf": "1", "origin": "https://evil.example"}, "the Origin is not one of AllowedOrigins"),
        ({"x-csrf": "1", "origin": "null"}, "the Origin is not one of AllowedOrigins"),
        ({"x-csrf": "1", "origin": APP + ".evil.example"}, "the Origin is not one of AllowedOrigins"),
    ],
)
def test_csrf(headers: dict[str, str], reason: str | None) -> None:
    refusal = delivery().csrf_refusal(event(headers))
    if reason is None:
        assert refusal is None
    else:
        assert refusal is not None
        assert (refusal.outcome, refusal.status, refusal.body["error"]) == (
            "CsrfRefused",
            403,
            "access_denied",
        )
        assert refusal.log_fields == {"reason": reason}


# --- delivering tokens ----------------------------------------------------------------------------


def test_a_token_answer_loses_its_refresh_token_to_the_cookie() -> None:
    answer = delivery().deliver(tokens())
    assert answer.body == {key: value for key, value in TOKENS.items() if key != "refresh_token"}
    (header,) = answer.cookies
    name, _, rest = header.partition("=")
    value, _, attributes = rest.partition("; ")
    assert name == COOKIE_NAME
    assert attributes == f"Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age={LIFETIME}"
    assert RT not in header
    assert RT not in repr(answer)
    opened = delivery().opened(event(cookies=[f"{COOKIE_NAME}={value}"]))
    assert opened is not None
    assert (opened.refresh_token, opened.expires_at) == (RT, NOW + LIFETIME)


def test_answers_without_a_refresh_token_are_left_alone() -> None:
    without = {key: value for key, value in TOKENS.items() if key != "refresh_token"}
    for answer in (tokens(without), Answer("InvalidGrant", 403, {"error": "invalid_grant"}), tokens([1, 2])):
        assert delivery().deliver(answer) == answer


def test_a_recovery_code_stays_in_the_body() -> None:
    answer = delivery().deliver(tokens({**TOKENS, "recovery_code": "NEWCODE"}))
    assert answer.body["recovery_code"] == "NEWCODE"
    assert "refresh_token" not in answer.body


# --- the session routes ---------------------------------------------------------------------------


class Route:
    """Records the event a route handler got; answers rotated tokens."""

    def __init__(self, answer: Answer | None = None) -> None:
        self.seen: list[ApiEvent] = []
        self.answer = answer or tokens({**TOKENS, "refresh_token": RT + "-rotated"})

    def __call__(self, sent: ApiEvent) -> Answer:
        self.seen.append(sent)
        return self.answer


def login_cookie() -> str:
    return cookie_value(delivery().deliver(tokens()))


def test_refresh_takes_the_token_from_the_cookie_and_keeps_its_expiry() -> None:
    later = NOW + 1000
    route = Route()
    sent = event(cookies=[f"{COOKIE_NAME}={login_cookie()}"], body='{"scope": "openid"}')
    answer = delivery(later).serve(SessionCookie.PRESENTED, sent, route)
    (seen,) = route.seen
    assert json.loads(str(seen.body)) == {"scope": "openid", "refresh_token": RT}
    assert seen.header("content-type") == "application/json"
    (header,) = answer.cookies
    assert header.endswith(f"; Max-Age={LIFETIME - 1000}")
    reopened = delivery(later).opened(event(cookies=[header.split(";")[0]]))
    assert reopened is not None
    assert (reopened.refresh_token, reopened.expires_at) == (RT + "-rotated", NOW + LIFETIME)


def test_a_form_body_or_none_reaches_the_route_as_json() -> None:
    route = Route()
    cookie = [f"{COOKIE_NAME}={login_cookie()}"]
    delivery().serve(SessionCookie.PRESENTED, event(cookies=cookie, body=None), route)
    form = event({"content-type": "application/x-www-form-urlencoded"}, cookie, body="scope=openid")
    delivery().serve(SessionCookie.PRESENTED, form, route)
    assert [json.loads(str(seen.body)) for seen in route.seen] == [
        {"refresh_token": RT},
        {"scope": "openid", "refresh_token": RT},
    ]


@pytest.mark.parametrize("use", [SessionCookie.PRESENTED, SessionCookie.ENDED])
def test_a_refresh_token_in_the_body_is_refused_naming_the_cookie(use: SessionCookie) -> None:
    route = Route()
    sent = event(cookies=[f"{COOKIE_NAME}={login_cookie()}"], body=json.dumps({"refresh_token": RT}))
    with pytest.raises(InvalidRequestError, match=COOKIE_NAME):
        delivery().serve(use, sent, route)
    assert route.seen == []


@pytest.mark.parametrize("cookies", [None, [], ["other=1"], [f"{COOKIE_NAME}="], [f"{COOKIE_NAME}=junk"]])
def test_refresh_without_a_usable_cookie_is_invalid_grant_without_the_route(
    cookies: list[str] | None,
) -> None:
    route = Route()
    answer = delivery().serve(SessionCookie.PRESENTED, event(cookies=cookies), route)
    assert (answer.outcome, answer.status, answer.body["error"]) == ("NoSessionCookie", 403, "invalid_grant")
    assert COOKIE_NAME in answer.body["error_description"]
    assert answer.cookies == ()
    assert route.seen == []


def test_logout_without_a_usable_cookie_is_200_and_clears_it_without_the_route() -> None:
    route = Route()
    answer = delivery().serve(SessionCookie.ENDED, event(cookies=[f"{COOKIE_NAME}=junk"]), route)
    assert (answer.status, answer.body, answer.cookies) == (200, {}, (CLEAR_COOKIE,))
    assert route.seen == []


def test_logout_revokes_the_cookies_token_and_clears_it() -> None:
    route = Route(Answer("Revoked", 200, {}))
    answer = delivery().serve(SessionCookie.ENDED, event(cookies=[f"{COOKIE_NAME}={login_cookie()}"]), route)
    (seen,) = route.seen
    assert json.loads(str(seen.body)) == {"refresh_token": RT}
    assert answer.cookies == (CLEAR_COOKIE,)


def test_a_failed_logout_keeps_the_cookie_for_a_retry() -> None:
    route = Route(Answer("UpstreamError", 502, {"error": "temporarily_unavailable"}))
    answer = delivery().serve(SessionCookie.ENDED, event(cookies=[f"{COOKIE_NAME}={login_cookie()}"]), route)
    assert answer.cookies == ()


def test_other_routes_never_read_the_cookie() -> None:
    route = Route()
    sent = event(cookies=[f"{COOKIE_NAME}=junk"], body=json.dumps({"refresh_token": "ignored-here"}))
    answer = delivery().serve(SessionCookie.NONE, sent, route)
    assert route.seen == [sent]
    assert answer.cookies[0].startswith(f"{COOKIE_NAME}=")


def test_the_clearing_cookie_has_the_same_attributes() -> None:
    assert f"{COOKIE_NAME}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0" == CLEAR_COOKIE


def test_body_mode_builds_no_delivery_and_imports_no_cryptography() -> None:
    code = (
        "import json, sys\n"
        "from ropguard.cookie_delivery import CookieDelivery\n"
        "from ropguard.settings import ApiSettings\n"
        "env = {'AUTH0_DOMAIN': 'tenant.example.com', 'AUTH0_SECRET_ID': 'auth0'}\n"
        "print(json.dumps([CookieDelivery.for_api(ApiSettings.from_env(env)) is None,"
        " 'cryptography' in sys.modules]))"
    )
    result = subprocess.run(  # noqa: S603 - this venv's interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(result.stdout) == [True, False]
