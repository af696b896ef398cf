"""ropguard-doctor end to end over HTTP against a fake tenant (pytest-httpserver): exit codes,
every finding kind, --json, prove's verdict and cause, apply's idempotence, and no secret in output."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from ropguard_doctor.cli import main
from tests.fixtures.secret_hygiene import SECRETS
from tests.unit.doctor.fake_tenant import FakeTenant


def run(env: dict[str, str], *argv: str, answer: str = "") -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), env=env, out=out, ask=lambda prompt: answer)
    text = out.getvalue()
    assert not SECRETS.found_in(text), f"secret in output: {SECRETS.found_in(text)}"
    print(text)  # scanned again by the secret-hygiene plugin
    return status, text


def findings(env: dict[str, str]) -> list[dict[str, Any]]:
    status, text = run(env, "check", "--json")
    document = json.loads(text)
    assert status == (1 if document["findings"] else 0)
    return list(document["findings"])


def kinds(env: dict[str, str]) -> set[tuple[str, str]]:
    return {(f["kind"], f["field"]) for f in findings(env)}


def test_a_tenant_like_tenant_yaml_is_clean(doctor_env, tenant) -> None:
    status, text = run(doctor_env, "check")
    assert status == 0
    assert "clean: no findings" in text


def test_header_not_trusted(doctor_env, tenant: FakeTenant) -> None:
    tenant.client["is_token_endpoint_ip_header_trusted"] = False
    status, text = run(doctor_env, "check")
    assert status == 1
    assert "[CRITICAL] header_not_trusted: client.is_token_endpoint_ip_header_trusted = false" in text
    assert '"is_token_endpoint_ip_header_trusted": true' in text  # the exact fix
    assert "Trust Token Endpoint IP Header" in text
    # reported once: the rule, not also as drift
    assert kinds(doctor_env) == {("header_not_trusted", "client.is_token_endpoint_ip_header_trusted")}


def test_auth_method_none(doctor_env, tenant: FakeTenant) -> None:
    tenant.client["token_endpoint_auth_method"] = "none"
    tenant.client["is_token_endpoint_ip_header_trusted"] = False
    assert kinds(doctor_env) == {
        ("auth_method_none", "client.token_endpoint_auth_method"),
        ("header_not_trusted", "client.is_token_endpoint_ip_header_trusted"),
    }


def test_grant_type_missing_names_the_route(doctor_env, tenant: FakeTenant) -> None:
    tenant.client["grant_types"] = ["password", "refresh_token"]
    found = findings(doctor_env)
    assert [f["kind"] for f in found] == ["grant_type_missing"]
    assert found[0]["breaks"].startswith("POST /login/mfa fails")
    assert "mfa-recovery-code" in found[0]["fix"]


def test_password_realm_is_required_with_a_realm(doctor_env, tenant: FakeTenant) -> None:
    tenant.client["grant_types"] = [g for g in tenant.client["grant_types"] if "password-realm" not in g]
    assert ("grant_type_missing", "client.grant_types") in kinds({**doctor_env, "AUTH0_REALM": "db"})
    # without a realm the plain password grant is used: only drift from tenant.yaml remains
    assert kinds(doctor_env) == {("drift", "client.grant_types")}


@pytest.mark.parametrize(
    "kind", ["brute-force-protection", "suspicious-ip-throttling", "breached-password-detection"]
)
def test_protection_disabled_or_not_blocking(doctor_env, tenant: FakeTenant, kind: str) -> None:
    tenant.protections[kind]["enabled"] = False
    assert kinds(doctor_env) == {("protection_disabled", f"{kind}.enabled")}
    tenant.protections[kind]["enabled"] = True
    tenant.protections[kind]["shields"] = [s for s in tenant.protections[kind]["shields"] if s != "block"]
    assert kinds(doctor_env) == {("protection_not_blocking", f"{kind}.shields")}


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        ("0.0.0.0/0", "allowlist_everyone"),
        ("::/0", "allowlist_everyone"),
        ("10.0.0.0/16", "allowlist_too_wide"),
        ("2001:db8::/32", "allowlist_too_wide"),
        ("198.51.100.20", "allowlist_egress_address"),
        ("198.51.100.0/24", "allowlist_egress_address"),
    ],
)
@pytest.mark.parametrize("setting", ["brute-force-protection", "suspicious-ip-throttling"])
def test_allowlists(doctor_env, tenant: FakeTenant, setting: str, entry: str, kind: str) -> None:
    tenant.protections[setting]["allowlist"] = ["192.0.2.10", entry]
    found = findings(doctor_env)
    assert [(f["kind"], f["field"]) for f in found] == [(kind, f"{setting}.allowlist")]
    assert found[0]["expected"] == ["192.0.2.10"]


def test_an_egress_address_is_an_exemption_for_everyone_without_the_trusted_header(
    doctor_env, tenant: FakeTenant
) -> None:
    tenant.protections["brute-force-protection"]["allowlist"] = ["198.51.100.20"]
    tenant.client["is_token_endpoint_ip_header_trusted"] = False
    egress = [f for f in findings(doctor_env) if f["kind"] == "allowlist_egress_address"]
    assert "everyone is exempt" in egress[0]["breaks"]


def test_a_narrow_allowlist_set_in_tenant_yaml_is_clean(doctor_env, tenant: FakeTenant) -> None:
    tenant.protections["brute-force-protection"]["allowlist"] = ["192.0.2.0/24", "2001:db8:1::/48"]
    env = {**doctor_env, "ROPGUARD_BRUTE_FORCE_ALLOWLIST": "192.0.2.0/24, 2001:db8:1::/48"}
    assert kinds(env) == set()


def test_refresh_rotation_without_leeway(doctor_env, tenant: FakeTenant) -> None:
    tenant.client["refresh_token"]["leeway"] = 0
    assert kinds(doctor_env) == {("refresh_rotation_without_leeway", "client.refresh_token.leeway")}


def test_drift_is_reported_field_by_field(doctor_env, tenant: FakeTenant) -> None:
    tenant.client["app_type"] = "native"
    tenant.protections["brute-force-protection"]["max_attempts"] = 50
    tenant.protections["suspicious-ip-throttling"]["stage"]["pre-login"]["rate"] = 1
    found = {f["field"]: f for f in findings(doctor_env)}
    assert set(found) == {
        "client.app_type",
        "brute-force-protection.max_attempts",
        "suspicious-ip-throttling.stage.pre-login.rate",
    }
    assert {f["kind"] for f in found.values()} == {"drift"}
    assert found["brute-force-protection.max_attempts"]["actual"] == 50
    assert found["brute-force-protection.max_attempts"]["expected"] == 10


def test_could_not_check_exits_2(doctor_env, tenant) -> None:
    status, text = run({**doctor_env, "AUTH0_MANAGEMENT_CLIENT_SECRET": "wrong-but-long-secret"}, "check")
    assert status == 2
    assert "could not check" in text
    assert "Management API token was refused for client doctor-m2m" in text
    status, text = run(
        {k: v for k, v in doctor_env.items() if k != "AUTH0_CLIENT_ID"} | {"AUTH0_CLIENT_SECRET": ""},
        "check",
        "--json",
    )
    assert status == 2
    assert "AUTH0_CLIENT_ID" in json.loads(text)["error"]


def test_a_named_tenant_needs_named_credentials(doctor_env) -> None:
    env = {k: v for k, v in doctor_env.items() if "MANAGEMENT" not in k}
    status, text = run(env, "check")
    assert status == 2
    assert "no Management API credentials" in text


def test_prove_passes_when_auth0_logs_the_forwarded_address(doctor_env, tenant) -> None:
    status, text = run(doctor_env, "prove", "--json")
    proof = json.loads(text)
    assert status == 0, proof
    assert proof["passed"] is True
    assert proof["event"]["ip"] == proof["expected_ip"]
    assert proof["expected_ip"].startswith(("192.0.2.", "198.51.100.", "203.0.113."))
    assert proof["canary"].startswith("ropguard-doctor-canary-")


def test_prove_authenticates_the_login_client_as_the_deployment_does(doctor_env, tenant: FakeTenant) -> None:
    """With ``AUTH0_CLIENT_AUTH_METHOD=client_secret_basic`` the proof's secret goes in the header
    only (a Basic-only client refuses one in the body); by default in the body."""
    basic = {**doctor_env, "AUTH0_CLIENT_AUTH_METHOD": "client_secret_basic"}
    status, text = run(basic, "prove", "--json")
    assert status == 0, text
    status, text = run(doctor_env, "prove", "--json")
    assert status == 0, text
    assert tenant.client_auth == ["basic", "post"]


def test_prove_uses_a_fresh_documentation_address_each_run(doctor_env, tenant) -> None:
    addresses = {json.loads(run(doctor_env, "prove", "--json")[1])["expected_ip"] for _ in range(4)}
    assert len(addresses) > 1


def test_prove_fails_and_names_the_trust_flag(doctor_env, tenant: FakeTenant) -> None:
    tenant.client["is_token_endpoint_ip_header_trusted"] = False
    status, text = run(doctor_env, "prove")
    assert status == 1
    assert "prove: FAILED" in text
    assert "likely cause: Trust Token Endpoint IP Header is off" in text
    assert "logged ip 127.0.0.1" in text


def test_prove_fails_and_names_a_public_client(doctor_env, tenant: FakeTenant) -> None:
    tenant.client["token_endpoint_auth_method"] = "none"
    status, text = run(doctor_env, "prove")
    assert status == 1
    assert "token_endpoint_auth_method is none" in text


def test_prove_names_wrong_login_credentials_and_a_missing_grant(doctor_env, tenant: FakeTenant) -> None:
    status, text = run({**doctor_env, "AUTH0_CLIENT_SECRET": "not-the-login-secret"}, "prove")
    assert status == 1
    assert "client_id or secret is wrong" in text
    tenant.client["grant_types"] = ["refresh_token"]
    status, text = run(doctor_env, "prove")
    assert "the grant password is not enabled" in text


def test_prove_gives_up_after_the_bounded_wait(doctor_env, tenant: FakeTenant) -> None:
    tenant.hide_logs = True
    status, text = run(doctor_env, "prove", "--wait-seconds", "0")
    assert status == 1
    assert "no tenant log event for the canary within 0 s" in text


def test_apply_writes_the_diff_then_changes_nothing(doctor_env, tenant: FakeTenant) -> None:
    tenant.client["is_token_endpoint_ip_header_trusted"] = False
    tenant.client["refresh_token"]["leeway"] = 0
    tenant.protections["brute-force-protection"]["shields"] = ["user_notification"]
    tenant.protections["suspicious-ip-throttling"]["allowlist"] = ["0.0.0.0/0"]
    status, text = run(doctor_env, "apply", "--yes")
    assert status == 0, text
    assert "- client.is_token_endpoint_ip_header_trusted: false" in text
    assert "+ client.is_token_endpoint_ip_header_trusted: true" in text
    assert "the tenant now matches" in text
    assert (
        "client",
        {"is_token_endpoint_ip_header_trusted": True, "refresh_token": tenant.client["refresh_token"]},
    ) in tenant.patches
    assert tenant.client["refresh_token"]["policies"] == []  # fields tenant.yaml does not name are kept
    assert kinds(doctor_env) == set()

    sent = len(tenant.patches)
    status, text = run(doctor_env, "apply", "--yes")
    assert status == 0
    assert "nothing to change" in text
    assert len(tenant.patches) == sent  # applying twice sends nothing


def test_apply_asks_first(doctor_env, tenant: FakeTenant) -> None:
    tenant.protections["breached-password-detection"]["enabled"] = False
    status, text = run(doctor_env, "apply", answer="n")
    assert status == 1
    assert "nothing applied" in text
    assert tenant.patches == []
    status, text = run(doctor_env, "apply", answer="y")
    assert status == 0
    assert tenant.patches == [("breached-password-detection", {"enabled": True})]


def test_apply_json_is_a_document(doctor_env, tenant: FakeTenant) -> None:
    tenant.client["app_type"] = "spa"
    status, text = run(doctor_env, "apply", "--yes", "--json")
    document = json.loads(text)
    assert status == 0
    assert document["applied"] is True
    assert document["client_patch"] == {"app_type": "regular_web"}
    assert document["remaining"] == []


def test_smoke_passes_when_the_deployed_api_forwards_the_callers_address(
    doctor_env, tenant, httpserver
) -> None:
    status, text = run(doctor_env, "smoke", "--api", httpserver.url_for("/"), "--json")
    proof = json.loads(text)
    assert status == 0, proof
    assert proof["answer"] == "403 invalid_grant"
    assert proof["expected_ip"] == "127.0.0.42"  # a loopback API: sent from a loopback address of its own
    assert (proof["event"]["ip"], proof["event"]["client_ip"]) == ("127.0.0.42", "10.0.0.5")


def test_smoke_fails_when_auth0_logs_the_functions_address_twice(
    doctor_env, tenant: FakeTenant, httpserver
) -> None:
    tenant.client["is_token_endpoint_ip_header_trusted"] = False
    status, text = run(doctor_env, "smoke", "--api", httpserver.url_for("/"))
    assert status == 1
    assert "ip 10.0.0.5, client_ip 10.0.0.5" in text
    assert "Trust Token Endpoint IP Header is off" in text


def test_smoke_names_a_wrong_answer(doctor_env, tenant, httpserver) -> None:
    status, text = run(doctor_env, "smoke", "--api", httpserver.url_for("/nowhere"))
    assert status == 1
    assert "the API has no POST /login" in text


def test_a_missing_scope_is_named(doctor_env, tenant: FakeTenant) -> None:
    tenant.missing_scope = "read:attack_protection"
    status, text = run(doctor_env, "check")
    assert status == 2
    assert "403 Insufficient scope, expected any of: read:attack_protection" in text
