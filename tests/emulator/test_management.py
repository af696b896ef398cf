"""The Management API over real HTTP (``management_responses.py`` and ``admin.py``): bearer tokens
and per-endpoint scopes, client reads with ``fields``, and validation where Auth0 refuses a change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.emulator import (
    DEMO_CLIENT_ID,
    DOCTOR_CLIENT_ID,
    DOCTOR_CLIENT_SECRET,
    MANAGEMENT_TOKEN,
    UNTRUSTED_CLIENT_ID,
    EmulatorHandle,
)
from tests.fixtures.secret_hygiene import SecretRegistry

pytestmark = pytest.mark.integration

AUTH = {"Authorization": f"Bearer {MANAGEMENT_TOKEN}"}


def scoped_token(emulator: EmulatorHandle, registry: SecretRegistry, scope: str) -> dict[str, str]:
    answer = emulator.management_token(DOCTOR_CLIENT_ID, DOCTOR_CLIENT_SECRET, scope)
    registry.add_tokens_from(answer)
    return {"Authorization": f"Bearer {answer['access_token']}"}


def patch(http: httpx.Client, path: str, body: Any, headers: dict[str, str] = AUTH) -> httpx.Response:
    return http.patch(path, json=body, headers=headers)


# ---- authentication and scopes ----------------------------------------------------------------


def test_missing_or_unknown_token_is_401(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    assert http.get("/api/v2/logs").status_code == 401
    bad = http.get("/api/v2/logs", headers={"Authorization": "Bearer eyJhbGciOiJub25lIn0.e30."})
    assert (bad.status_code, bad.json()["errorCode"]) == (401, "invalid_token")


@pytest.mark.parametrize(
    ("method", "path", "needed"),
    [
        ("GET", f"/api/v2/clients/{DEMO_CLIENT_ID}", "read:clients"),
        ("PATCH", f"/api/v2/clients/{DEMO_CLIENT_ID}", "update:clients"),
        ("GET", "/api/v2/attack-protection/brute-force-protection", "read:attack_protection"),
        ("PATCH", "/api/v2/attack-protection/suspicious-ip-throttling", "update:attack_protection"),
        ("GET", "/api/v2/logs", "read:logs"),
        ("GET", "/api/v2/logs/900200000000000000001", "read:logs"),
        ("GET", "/api/v2/user-blocks?identifier=a", "read:users"),
        ("DELETE", "/api/v2/anomaly/blocks/ips/192.0.2.1", "delete:anomaly_blocks"),
    ],
)
def test_each_endpoint_checks_its_scope(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry, method: str, path: str, needed: str
) -> None:
    other = "read:logs" if needed != "read:logs" else "read:clients"
    response = auth0_emulator.http.request(
        method, path, json={}, headers=scoped_token(auth0_emulator, secret_registry, other)
    )
    assert response.status_code == 403
    assert response.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": f"Insufficient scope, expected any of: {needed}",
        "errorCode": "insufficient_scope",
    }


def test_doctor_scopes_cover_the_doctors_calls(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    headers = scoped_token(
        auth0_emulator,
        secret_registry,
        "read:clients update:clients read:attack_protection update:attack_protection",
    )
    http = auth0_emulator.http
    assert http.get(f"/api/v2/clients/{DEMO_CLIENT_ID}", headers=headers).status_code == 200
    assert patch(http, f"/api/v2/clients/{DEMO_CLIENT_ID}", {"name": "renamed"}, headers).status_code == 200
    for kind in ("brute-force-protection", "suspicious-ip-throttling", "breached-password-detection"):
        assert http.get(f"/api/v2/attack-protection/{kind}", headers=headers).status_code == 200
        assert patch(http, f"/api/v2/attack-protection/{kind}", {"enabled": True}, headers).status_code == 200


# ---- clients --------------------------------------------------------------------------------------


def test_client_fields_and_the_secret(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    path = f"/api/v2/clients/{DEMO_CLIENT_ID}"
    full = http.get(path, headers=AUTH).json()
    assert "client_secret" not in full
    assert full["refresh_token"]["rotation_type"] == "rotating"
    assert full["refresh_token"]["leeway"] == 5
    picked = http.get(
        path,
        params={"fields": "is_token_endpoint_ip_header_trusted,token_endpoint_auth_method"},
        headers=AUTH,
    ).json()
    assert picked == {
        "token_endpoint_auth_method": "client_secret_post",
        "is_token_endpoint_ip_header_trusted": True,
    }
    excluded = http.get(
        path, params={"fields": "grant_types,name", "include_fields": "false"}, headers=AUTH
    ).json()
    assert {"grant_types", "name", "client_secret"}.isdisjoint(excluded)
    assert "client_id" in excluded
    with_secret = http.get(path, params={"fields": "client_id,client_secret"}, headers=AUTH).json()
    secret_registry.add("client_secret", with_secret.get("client_secret"))
    assert set(with_secret) == {"client_id", "client_secret"}
    assert http.get(path, params={"include_fields": "maybe"}, headers=AUTH).status_code == 400


def test_trusted_header_needs_a_confidential_client(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    path = f"/api/v2/clients/{UNTRUSTED_CLIENT_ID}"
    both = patch(
        http, path, {"is_token_endpoint_ip_header_trusted": True, "token_endpoint_auth_method": "none"}
    )
    assert (both.status_code, both.json()["errorCode"]) == (400, "invalid_body")
    assert "is_token_endpoint_ip_header_trusted" in both.json()["message"]
    assert patch(http, path, {"token_endpoint_auth_method": "none"}).status_code == 200  # untrusted: fine
    already = patch(http, path, {"is_token_endpoint_ip_header_trusted": True})
    assert already.status_code == 400
    trusted = patch(http, f"/api/v2/clients/{DEMO_CLIENT_ID}", {"token_endpoint_auth_method": "none"})
    assert trusted.status_code == 400  # the demo client trusts the header already
    assert http.get(path, headers=AUTH).json()["is_token_endpoint_ip_header_trusted"] is False


def test_refresh_token_settings_can_be_patched(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    path = f"/api/v2/clients/{DEMO_CLIENT_ID}"
    changed = patch(
        http, path, {"refresh_token": {"leeway": 0, "rotation_type": "non-rotating"}, "app_type": "spa"}
    )
    assert changed.status_code == 200
    body = changed.json()
    assert (body["refresh_token"]["leeway"], body["refresh_token"]["rotation_type"], body["app_type"]) == (
        0,
        "non-rotating",
        "spa",
    )
    for bad in (
        {"refresh_token": {"leeway": 61}},
        {"refresh_token": {"rotation": "x"}},
        {"app_type": "robot"},
    ):
        assert patch(http, path, bad).status_code == 400


# ---- attack protection --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "body", "fragment"),
    [
        ("brute-force-protection", {"max_attempts": 0}, "max_attempts: must be between 1 and 100"),
        ("brute-force-protection", {"max_attempts": 101}, "max_attempts: must be between 1 and 100"),
        ("brute-force-protection", {"max_attempts": "10"}, "max_attempts: expected an integer"),
        (
            "brute-force-protection",
            {"shields": ["block", "admin_notification"]},
            "'admin_notification' is not one",
        ),
        ("brute-force-protection", {"allowlist": ["10.0.0.0/33"]}, "not an IP address or CIDR range"),
        ("brute-force-protection", {"allowlist": ["example.com"]}, "not an IP address or CIDR range"),
        ("brute-force-protection", {"mode": "count_per_ip"}, "mode"),
        ("brute-force-protection", {"max_attempt": 5}, "unknown field(s) max_attempt"),
        ("suspicious-ip-throttling", {"shields": ["user_notification"]}, "'user_notification' is not one"),
        ("suspicious-ip-throttling", {"allowlist": [f"10.0.0.{i}" for i in range(101)]}, "at most 100"),
        ("suspicious-ip-throttling", {"stage": {"pre_login": {}}}, "unknown field(s) pre_login"),
        ("suspicious-ip-throttling", {"stage": {"pre-login": {"rate": 0}}}, "rate: must be at least 1"),
        ("breached-password-detection", {"method": "perfect"}, "method"),
        ("breached-password-detection", {"enabled": "yes"}, "enabled: expected true or false"),
        ("breached-password-detection", {"stage": {"pre-login": {}}}, "unknown field(s) pre-login"),
    ],
)
def test_attack_protection_validation(
    auth0_emulator: EmulatorHandle, kind: str, body: Any, fragment: str
) -> None:
    response = patch(auth0_emulator.http, f"/api/v2/attack-protection/{kind}", body)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "invalid_body"
    assert fragment in response.json()["message"]


def test_attack_protection_accepts_valid_changes(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    body = {"max_attempts": 5, "allowlist": ["198.51.100.0/24", "2001:db8::/48"], "shields": ["block"]}
    changed = patch(http, "/api/v2/attack-protection/brute-force-protection", body).json()
    assert {k: changed[k] for k in body} == body
    stage = {"pre-user-registration": {"shields": ["block"]}, "pre-change-password": {"shields": []}}
    breached = patch(http, "/api/v2/attack-protection/breached-password-detection", {"stage": stage}).json()
    assert breached["stage"] == stage
