"""Unit tests of ropguard.cookie_delivery: the CSRF rule, the cookie's exact attributes, the refresh
token out of the body and into the sealed cookie, its expiry kept across rotations."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ropguard.api_event import read_event
from ropguard.cookie_delivery import (
    CLEAR_COOKIE,
    COOKIE_NAME,
    CookieDelivery,
    csrf_refusal,
    read_origins,
)
from ropguard.cookie_seal import CookieKeys, derive_key
from ropguard.errors import ConfigurationError
from tests.fixtures.login import http_api_event

ROOT = Path(__file__).resolve().parents[2]
APP = "https://app.example.com"
ALLOWED = frozenset({APP})
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


@pytest.fixture(autouse=True)
def _register(secret_registry: Any) -> None:
    secret_registry.add("secret", RT, KEY, TOKENS["access_token"])


class Keys:
    def keys(self, *, refresh: bool = False) -> CookieKeys:
        return CookieKeys(derive_key(KEY))


def delivery(now: float = NOW) -> CookieDelivery:
    from ropguard.cookie_seal import CookieSealer  # noqa: PLC0415

    sealer = CookieSealer(COOKIE_NAME, Keys(), clock=lambda: now)
    return CookieDelivery(sealer, lifetime_seconds=LIFETIME, clock=lambda: now)


def event(headers: dict[str, str] | None = None, cookies: list[str] | None = None) -> Any:
    raw = http_api_event("{}", headers=headers)
    if cookies is not None:
        raw["cookies"] = cookies
    return read_event(raw)


@pytest.mark.parametrize(
    ("headers", "refusal"),
    [
        ({"x-csrf": "1", "origin": APP}, None),
        ({"x-csrf": "1"}, None),  # not a browser's cross-origin request: the header is the check
        ({"X-CSRF": " 1 ", "Origin": APP + "/"}, None),
        ({}, "the X-CSRF: 1 header is missing"),
        ({"x-csrf": "true", "origin": APP}, "the X-CSRF: 1 header is missing"),
        ({"x-csrf": "1", "origin": "https://evil.example"}, "the Origin is not one of AllowedOrigins"),
        ({"x-csrf": "1", "origin": "null"}, "the Origin is not one of AllowedOrigins"),
        (
            {"x-csrf": "1", "origin": "https://app.example.com.evil.example"},
            "the Origin is not one of AllowedOrigins",
        ),
    ],
)
def test_csrf(headers: dict[str, str], refusal: str | None) -> None:
    assert csrf_refusal(event(headers), ALLOWED) == refusal


def test_origins_are_exact_and_never_a_wildcard() -> None:
    assert read_origins({"O": f" {APP}/ ,https://admin.example.com"}, "O") == {
        APP,
        "https://admin.example.com",
    }
    assert read_origins({}, "O") == frozenset()
    for value in ("*", f"{APP},*", "https://*"):
        with pytest.raises(ConfigurationError, match="never '\\*'"):
            read_origins({"O": value}, "O")


def test_a_login_answer_loses_its_refresh_token_to_the_cookie() -> None:
    delivered = delivery().deliver(dict(TOKENS))
    assert delivered.body == {key: value for key, value in TOKENS.items() if key != "refresh_token"}
    (header,) = delivered.cookies
    name, _, rest = header.partition("=")
    value, _, attributes = rest.partition("; ")
    assert name == COOKIE_NAME
    assert attributes == f"Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age={LIFETIME}"
    assert RT not in header
    opened = delivery().opened(event(cookies=[f"{COOKIE_NAME}={value}"]))
    assert opened is not None
    assert (opened.refresh_token, opened.expires_at) == (RT, NOW + LIFETIME)


def test_a_refreshed_token_keeps_the_first_cookies_expiry() -> None:
    first = delivery().deliver(dict(TOKENS)).cookies[0].split(";")[0].partition("=")[2]
    later = NOW + 1000
    opened = delivery(later).opened(event(cookies=[f"{COOKIE_NAME}={first}"]))
    assert opened is not None
    (header,) = delivery(later).deliver({**TOKENS, "refresh_token": RT + "-rotated"}, opened).cookies
    assert header.endswith(f"Max-Age={LIFETIME - 1000}")
    reopened = delivery(later).opened(event(cookies=[header.split(";")[0]]))
    assert reopened is not None
    assert (reopened.refresh_token, reopened.expires_at) == (RT + "-rotated", NOW + LIFETIME)


def test_answers_without_a_refresh_token_set_no_cookie() -> None:
    without = {key: value for key, value in TOKENS.items() if key != "refresh_token"}
    assert delivery().deliver(without).cookies == ()
    assert delivery().deliver({"error": "invalid_grant"}).cookies == ()
    assert delivery().deliver([1, 2]).body == [1, 2]


def test_a_recovery_code_stays_in_the_body() -> None:
    delivered = delivery().deliver({**TOKENS, "recovery_code": "NEWCODE"})
    assert delivered.body["recovery_code"] == "NEWCODE"
    assert "refresh_token" not in delivered.body


@pytest.mark.parametrize("cookies", [None, [], ["other=1"], [f"{COOKIE_NAME}="], [f"{COOKIE_NAME}=junk"]])
def test_no_usable_cookie_opens_to_none(cookies: list[str] | None) -> None:
    assert delivery().opened(event(cookies=cookies)) is None


def test_the_clearing_cookie_has_the_same_attributes() -> None:
    assert f"{COOKIE_NAME}=; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=0" == CLEAR_COOKIE


def test_importing_the_module_does_not_import_cryptography() -> None:
    code = "import sys, ropguard.cookie_delivery; print(json.dumps('cryptography' in sys.modules))"
    result = subprocess.run(  # noqa: S603 - this venv's interpreter, our own code
        [sys.executable, "-c", "import json; " + code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert json.loads(result.stdout) is False
