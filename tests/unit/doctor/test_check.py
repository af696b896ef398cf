"""check's rules as pure functions: boundaries of the allowlist rule, set comparison, no double report."""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path

import pytest

from ropguard_doctor.check import CheckContext, TenantState, check, same
from ropguard_doctor.desired import parse_desired_state
from tests.unit.doctor.fake_tenant import GOOD_CLIENT, GOOD_PROTECTIONS

TENANT_YAML = (Path(__file__).resolve().parents[3] / "auth0" / "tenant.yaml").read_text()
DESIRED = parse_desired_state(TENANT_YAML, {"AUTH0_CLIENT_ID": "login-client"})


def state(**allowlist: list[str]) -> TenantState:
    protections = copy.deepcopy(GOOD_PROTECTIONS)
    for kind, entries in allowlist.items():
        protections[kind.replace("_", "-")]["allowlist"] = entries
    return TenantState(client=copy.deepcopy(GOOD_CLIENT), protections=protections)


@pytest.mark.parametrize(
    ("entry", "reported"),
    [
        ("192.0.2.0/24", False),  # one site: the widest allowed
        ("192.0.2.0/23", True),
        ("2001:db8:1::/48", False),
        ("2001:db8::/47", True),
        ("192.0.2.7", False),
        ("not-an-address", False),  # Auth0 would have refused it; nothing to judge
    ],
)
def test_allowlist_width_boundaries(entry: str, reported: bool) -> None:
    tenant = state(brute_force_protection=[entry])
    desired = parse_desired_state(
        TENANT_YAML, {"AUTH0_CLIENT_ID": "login-client", "ROPGUARD_BRUTE_FORCE_ALLOWLIST": entry}
    )
    kinds = {finding.kind.value for finding in check(tenant, desired, CheckContext())}
    assert ("allowlist_too_wide" in kinds) is reported


def test_egress_addresses_inside_a_range_are_found() -> None:
    tenant = state(suspicious_ip_throttling=["198.51.100.0/24"])
    context = CheckContext(egress=(ipaddress.ip_address("198.51.100.99"),))
    kinds = [(f.kind.value, f.field) for f in check(tenant, DESIRED, context)]
    assert kinds == [("allowlist_egress_address", "suspicious-ip-throttling.allowlist")]


def test_lists_compare_as_sets_and_scalars_by_type() -> None:
    assert same(["a", "b"], ["b", "a", "a"])
    assert not same(["a"], ["a", "b"])
    assert not same(True, 1)
    assert same({"x": 1}, {"x": 1})


def test_a_field_a_rule_reported_is_not_reported_again_as_drift() -> None:
    tenant = state()
    tenant.client["is_token_endpoint_ip_header_trusted"] = False  # type: ignore[index]
    findings = check(tenant, DESIRED, CheckContext())
    assert [f.kind.value for f in findings] == ["header_not_trusted"]


@pytest.mark.parametrize(
    ("tenant_method", "configured", "reported"),
    [
        ("client_secret_post", "client_secret_post", []),
        ("client_secret_basic", "client_secret_basic", []),
        ("client_secret_basic", "client_secret_post", ["auth_method_mismatch"]),
        ("client_secret_post", "client_secret_basic", ["auth_method_mismatch"]),
        ("private_key_jwt", "client_secret_post", ["auth_method_mismatch"]),
        ("none", "client_secret_basic", ["auth_method_none"]),
    ],
)
def test_the_tenants_auth_method_must_be_the_configured_one(
    tenant_method: str, configured: str, reported: list[str]
) -> None:
    tenant = state()
    tenant.client["token_endpoint_auth_method"] = tenant_method  # type: ignore[index]
    findings = check(tenant, DESIRED, CheckContext(client_auth_method=configured))
    method_findings = [f for f in findings if f.field == "client.token_endpoint_auth_method"]
    assert [f.kind.value for f in method_findings] == reported
    for finding in method_findings:
        assert finding.expected == configured
        assert f'"token_endpoint_auth_method": "{configured}"' in finding.fix
