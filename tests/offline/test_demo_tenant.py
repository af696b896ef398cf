"""The demo tenant is what issue 5 documents: four users, Auth0's default attack protection,
a confidential client that trusts auth0-forwarded-for, and the local Management API token."""

from __future__ import annotations

import bcrypt
import pytest

from auth0_emulator.tenant import TenantConfig, UserConfig, load_tenant_file
from ropguard_offline.stack import DEFAULT_TENANT, demo_client

USERS = {
    "alice@example.com": "correct-horse-battery-staple",
    "bob@example.com": "AUTH0-TEST-bob-breached-1",
    "carol@example.com": "carol-has-mfa-9",
    "dave@example.com": "dave-is-blocked-0",
}


@pytest.fixture(scope="module")
def tenant() -> TenantConfig:
    return load_tenant_file(DEFAULT_TENANT)


def users(tenant: TenantConfig) -> dict[str, UserConfig]:
    (directory,) = [c for c in tenant.connections if c.name == tenant.default_directory]
    return {user.email: user for user in directory.users}


@pytest.mark.parametrize(("email", "password"), USERS.items())
def test_documented_passwords_match(tenant: TenantConfig, email: str, password: str) -> None:
    assert bcrypt.checkpw(password.encode(), users(tenant)[email].password_hash.encode())


def test_each_user_plays_their_part(tenant: TenantConfig) -> None:
    by_email = users(tenant)
    assert USERS["bob@example.com"].startswith("AUTH0-TEST-")  # Auth0's breached-password test prefix
    assert by_email["carol@example.com"].totp_secret
    assert [email for email, user in by_email.items() if user.blocked] == ["dave@example.com"]
    assert [email for email, user in by_email.items() if user.totp_secret] == ["carol@example.com"]


def test_attack_protection_is_at_auth0_defaults(tenant: TenantConfig) -> None:
    brute = tenant.brute_force
    assert (brute.enabled, brute.mode, brute.max_attempts) == (True, "count_per_identifier_and_ip", 10)
    assert "block" in brute.shields
    suspicious = tenant.suspicious_ip
    assert suspicious.enabled
    assert (suspicious.pre_login.max_attempts, suspicious.pre_login.rate) == (100, 864_000)
    breached = tenant.breached_password
    assert breached.enabled
    assert "block" in breached.shields


def test_the_demo_client_is_confidential_and_trusts_the_header(tenant: TenantConfig) -> None:
    client = demo_client(DEFAULT_TENANT)
    (config,) = [c for c in tenant.clients if c.client_id == client.client_id]
    assert config.is_confidential
    assert config.is_token_endpoint_ip_header_trusted
    assert "password" in config.grant_types
    assert tenant.management_api_token == "local-management-token"
