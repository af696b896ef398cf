"""auth0/tenant.yaml: the shipped defaults, ${VAR} substitution, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ropguard_doctor.desired import load_desired_state, parse_desired_state
from ropguard_doctor.errors import TenantFileError
from ropguard_doctor.routes import MFA_GRANTS, PASSWORD, PASSWORD_REALM, REFRESH_TOKEN

TENANT_YAML = Path(__file__).resolve().parents[3] / "auth0" / "tenant.yaml"


def test_shipped_defaults_are_the_safe_ones() -> None:
    desired = load_desired_state(TENANT_YAML, {"AUTH0_CLIENT_ID": "abc"})
    client = desired.client
    assert client["client_id"] == "abc"
    assert client["app_type"] == "regular_web"
    assert client["token_endpoint_auth_method"] == "client_secret_post"
    assert client["is_token_endpoint_ip_header_trusted"] is True
    assert set(client["grant_types"]) == {PASSWORD, PASSWORD_REALM, *MFA_GRANTS, REFRESH_TOKEN}
    assert client["refresh_token"]["rotation_type"] == "rotating"
    assert client["refresh_token"]["leeway"] > 0
    brute = desired.protections["brute-force-protection"]
    assert brute == {
        "enabled": True,
        "shields": ["block", "user_notification"],
        "mode": "count_per_identifier_and_ip",
        "max_attempts": 10,
        "allowlist": [],
    }
    throttling = desired.protections["suspicious-ip-throttling"]
    assert throttling["enabled"] is True
    assert "block" in throttling["shields"]
    assert throttling["allowlist"] == []
    breached = desired.protections["breached-password-detection"]
    assert breached["enabled"] is True
    assert set(breached["shields"]) == {"block", "user_notification"}


def test_list_variables_expand_into_entries() -> None:
    desired = load_desired_state(
        TENANT_YAML,
        {
            "AUTH0_CLIENT_ID": "abc",
            "ROPGUARD_BRUTE_FORCE_ALLOWLIST": "192.0.2.0/24, 2001:db8::/48",
            "ROPGUARD_SUSPICIOUS_IP_ALLOWLIST": "",
        },
    )
    assert desired.protections["brute-force-protection"]["allowlist"] == ["192.0.2.0/24", "2001:db8::/48"]
    assert desired.protections["suspicious-ip-throttling"]["allowlist"] == []


def test_a_missing_variable_is_an_error_naming_it() -> None:
    with pytest.raises(TenantFileError, match=r"clients\[0\]\.client_id: \$\{AUTH0_CLIENT_ID\} is not set"):
        load_desired_state(TENANT_YAML, {})


MINIMAL = """
clients:
  - client_id: "${ID}-x"
    name: "${NAME:-ropguard}"
attackProtection:
  bruteForceProtection: {enabled: true}
  suspiciousIpThrottling: {enabled: true}
  breachedPasswordDetection: {enabled: true}
"""


def test_variables_inside_strings_and_defaults() -> None:
    desired = parse_desired_state(MINIMAL, {"ID": "abc"})
    assert desired.client == {"client_id": "abc-x", "name": "ropguard"}
    assert desired.client_fields == {"name": "ropguard"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a list", "must be a mapping"),
        ("clients: []\nattackProtection: {}", "exactly the login client"),
        (MINIMAL + "extra: 1", "unknown top-level key"),
        (MINIMAL.replace("breachedPasswordDetection", "breachedPasswords"), "unknown key"),
        ("clients: [\n", "not valid YAML"),
    ],
)
def test_invalid_files_are_clear_errors(text: str, message: str) -> None:
    with pytest.raises(TenantFileError, match=message):
        parse_desired_state(text, {"ID": "abc"})
