"""auth0/tenant.yaml: the shipped defaults, ${VAR} substitution, and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ropguard_doctor.desired import (
    _VARIABLE,
    SECRET_CLIENT_FIELDS,
    TENANT_FILE_VARIABLES,
    load_desired_state,
    parse_desired_state,
)
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
  - client_id: "${AUTH0_CLIENT_ID}-x"
    name: "${ROPGUARD_BRUTE_FORCE_ALLOWLIST:-ropguard}"
attackProtection:
  bruteForceProtection: {enabled: true}
  suspiciousIpThrottling: {enabled: true}
  breachedPasswordDetection: {enabled: true}
"""


def test_variables_inside_strings_and_defaults() -> None:
    desired = parse_desired_state(MINIMAL, {"AUTH0_CLIENT_ID": "abc"})
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
        parse_desired_state(text, {"AUTH0_CLIENT_ID": "abc"})


@pytest.mark.parametrize("name", ["AWS_SECRET_ACCESS_KEY", "AUTH0_CLIENT_SECRET", "HOME"])
def test_only_the_documented_variables_may_be_named(name: str) -> None:
    """Even set, even with a default: a drift finding would print the value."""
    text = MINIMAL.replace("${ROPGUARD_BRUTE_FORCE_ALLOWLIST:-ropguard}", f"${{{name}:-ropguard}}")
    variables = {"AUTH0_CLIENT_ID": "abc", name: "value-from-the-environment"}
    with pytest.raises(
        TenantFileError, match=rf"\$\{{{name}\}} is not a variable tenant.yaml may use"
    ) as caught:
        parse_desired_state(text, variables)
    assert "value-from-the-environment" not in str(caught.value)


def test_the_shipped_file_and_the_docs_name_exactly_the_documented_variables() -> None:
    lines = [line for line in TENANT_YAML.read_text().splitlines() if not line.lstrip().startswith("#")]
    named = {match["name"] for match in _VARIABLE.finditer("\n".join(lines))}
    assert named == set(TENANT_FILE_VARIABLES)
    operations = (TENANT_YAML.parents[1] / "docs" / "operations.md").read_text()
    for name in TENANT_FILE_VARIABLES:
        assert f"| `{name}` |" in operations, name


@pytest.mark.parametrize("field", sorted(SECRET_CLIENT_FIELDS))
def test_a_secret_client_field_is_refused(field: str) -> None:
    """The doctor would GET it and print it in a drift finding."""
    text = MINIMAL.replace('    name: "', f'    {field}: x\n    name: "')
    with pytest.raises(TenantFileError, match=f"{field} holds a secret"):
        parse_desired_state(text, {"AUTH0_CLIENT_ID": "abc"})
