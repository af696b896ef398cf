"""Tenant files: the demo loads, and every kind of mistake is named precisely."""

from __future__ import annotations

import io
from typing import Any

import pytest
import yaml

from auth0_emulator.__main__ import main
from auth0_emulator.hashing import verify_password
from auth0_emulator.tenant import load_tenant_file, parse_tenant
from auth0_emulator.validation import ValidationError
from tests.fixtures.emulator import DEMO_TENANT, DEMO_USERS

HASH = "$2b$04$VyqsS3uBLsJ/6B5LCZTCceHlHD/k2J4snjJ4R2eci6zigfrh6MMam"
BAD_TOTP_USER = {"email": "a", "password_hash": HASH, "mfa": {"totp_secret": "not base32!"}}
ZERO_RATE = {"pre-login": {"rate": 0}}
RECOVERY_ONLY_USER = {"email": "a", "password_hash": HASH, "mfa": {"recovery_codes": ["ABC"]}}
SMS_WITHOUT_NUMBER = {"email": "a", "password_hash": HASH, "mfa": {"sms": {}}}


def minimal(**overrides: Any) -> dict[str, Any]:
    document: dict[str, Any] = {
        "tenant": {"management_api_token": "t"},
        "clients": [{"client_id": "c", "client_secret": "s", "grant_types": ["password"]}],
        "connections": [{"name": "db", "users": [{"email": "a@example.com", "password_hash": HASH}]}],
    }
    document.update(overrides)
    return document


def test_demo_tenant_matches_its_documented_passwords() -> None:
    config = load_tenant_file(DEMO_TENANT)
    users = {u.email: u for c in config.connections for u in c.users}
    for email, password in DEMO_USERS.values():
        assert verify_password(password, users[email].password_hash)
    assert config.brute_force.max_attempts == 10
    assert config.suspicious_ip.pre_login.max_attempts == 100
    assert config.suspicious_ip.pre_login.rate == 864_000
    assert config.bcrypt_rounds == 4
    assert [c.is_token_endpoint_ip_header_trusted for c in config.clients] == [True, False, False, False]
    assert [c.client_id for c in config.clients][-1] == "ropguard-doctor"


def test_defaults_are_auth0_defaults() -> None:
    config = parse_tenant(minimal())
    assert (config.mfa_error_format, config.revoke_refresh_token_grant, config.client_grants) == (
        "legacy",
        False,
        (),
    )
    (client,) = config.clients
    assert client.refresh_token.to_api() == {
        "rotation_type": "non-rotating",
        "expiration_type": "non-expiring",
        "token_lifetime": 2_592_000,
        "idle_token_lifetime": 1_296_000,
        "infinite_token_lifetime": True,
        "infinite_idle_token_lifetime": True,
        "leeway": 0,
    }
    assert config.brute_force.to_api() == {
        "enabled": True,
        "shields": ["block", "user_notification"],
        "mode": "count_per_identifier_and_ip",
        "max_attempts": 10,
        "allowlist": [],
    }
    assert config.suspicious_ip.to_api()["stage"]["pre-login"] == {"max_attempts": 100, "rate": 864000}


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (minimal(extra=1), "unknown field"),
        (minimal(tenant={}), "management_api_token"),
        (minimal(clients=[{"client_id": "c"}]), "client_secret"),
        (minimal(clients=[{"client_id": "c", "client_secret": "s", "grant_types": ["x"]}]), "grant_types"),
        (minimal(connections=[{"name": "db", "users": [{"email": "a", "password_hash": "x"}]}]), "bcrypt"),
        (minimal(connections=[{"name": "db", "users": [BAD_TOTP_USER]}]), "base32"),
        (minimal(attack_protection={"brute_force_protection": {"max_attempts": 101}}), "max_attempts"),
        (minimal(attack_protection={"brute_force_protection": {"allowlist": ["nope"]}}), "allowlist"),
        (minimal(attack_protection={"suspicious_ip_throttling": {"stage": ZERO_RATE}}), "rate"),
        (minimal(tenant={"management_api_token": "t", "default_directory": "nope"}), "default_directory"),
        (minimal(tenant={"management_api_token": "t", "mfa_error_format": "newest"}), "mfa_error_format"),
        (minimal(tenant={"management_api_token": "t", "flags": {"revoke_grant": True}}), "tenant.flags"),
        (minimal(clients=[{"client_id": "c", "token_endpoint_auth_method": "none",
                           "is_token_endpoint_ip_header_trusted": True}]), "can only be true"),
        (minimal(clients=[{"client_id": "c", "client_secret": "s",
                           "refresh_token": {"leeway": 61}}]), "leeway"),
        (minimal(clients=[{"client_id": "c", "client_secret": "s",
                           "refresh_token": {"rotation_type": "sometimes"}}]), "rotation_type"),
        (minimal(clients=[{"client_id": "c", "client_secret": "s", "app_type": "robot"}]), "app_type"),
        (minimal(client_grants=[{"client_id": "nobody", "audience": "a", "scope": []}]), "client_grants"),
        (minimal(connections=[{"name": "db", "users": [RECOVERY_ONLY_USER]}]), "recovery_codes"),
        (minimal(connections=[{"name": "db", "users": [SMS_WITHOUT_NUMBER]}]), "phone_number"),
    ],
)  # fmt: skip
def test_invalid_tenants_name_the_field(document: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        parse_tenant(yaml.safe_load(yaml.safe_dump(document)))


def test_hash_password_helper(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a-new-password\n"))
    assert main(["hash-password", "--rounds", "4"]) == 0
    printed = capsys.readouterr().out.strip()
    assert printed.startswith("$2b$04$")
    assert verify_password("a-new-password", printed)
