"""ropguard-doctor against the Auth0 emulator over HTTP (and the offline stack for ``smoke``):
every finding kind, the proofs, ``apply`` twice, and no secret in any output.

The tenant is changed only through its Management API, as an operator (or an attacker with a
leaked M2M token) would change a real one.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ropguard.errors import RopguardError
from ropguard_doctor.cli import main
from ropguard_doctor.scheduled import run_tenant_check
from ropguard_offline.stack import DEFAULT_TENANT, OfflineStack, demo_client
from tests.fixtures.emulator import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, EmulatorHandle
from tests.fixtures.secret_hygiene import SECRETS

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
M2M_ID = "ropguard-doctor"
M2M_SECRET = "ropguard-doctor-secret-not-for-production"
SECRETS.add("client_secret", M2M_SECRET, DEMO_CLIENT_SECRET)


def run(env: dict[str, str], *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    status = main(list(argv), env=env, out=out, ask=lambda prompt: "n")
    text = out.getvalue()
    assert not SECRETS.found_in(text), f"secret in output: {SECRETS.found_in(text)}"
    print(text)  # and scanned again by the secret-hygiene plugin
    return status, text


@pytest.fixture
def env(auth0_emulator: EmulatorHandle) -> dict[str, str]:
    return {
        "AUTH0_DOMAIN": auth0_emulator.base_url.rstrip("/"),
        "AUTH0_MANAGEMENT_CLIENT_ID": M2M_ID,
        "AUTH0_MANAGEMENT_CLIENT_SECRET": M2M_SECRET,
        "AUTH0_CLIENT_ID": DEMO_CLIENT_ID,
        "AUTH0_CLIENT_SECRET": DEMO_CLIENT_SECRET,
        "ROPGUARD_ROUTES": "POST /login, POST /login/mfa, POST /token/refresh",
        "ROPGUARD_EGRESS_ADDRESSES": "127.0.0.1",
    }


@pytest.fixture
def management(auth0_emulator: EmulatorHandle) -> Iterator[httpx.Client]:
    """The emulator's Management API with the M2M client's token (client_credentials)."""
    base = auth0_emulator.base_url.rstrip("/")
    token = httpx.post(
        f"{base}/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": M2M_ID,
            "client_secret": M2M_SECRET,
            "audience": f"{base}/api/v2/",
        },
    )
    assert token.status_code == 200, token.text
    access_token = token.json()["access_token"]
    SECRETS.add("token", access_token)
    with httpx.Client(base_url=base, headers={"authorization": f"Bearer {access_token}"}) as client:
        yield client


def patch(management: httpx.Client, path: str, body: dict[str, Any]) -> None:
    response = management.patch(path, json=body)
    assert response.status_code == 200, response.text


def client_patch(management: httpx.Client, body: dict[str, Any]) -> None:
    patch(management, f"/api/v2/clients/{DEMO_CLIENT_ID}", body)


def found(env: dict[str, str]) -> set[tuple[str, str]]:
    status, text = run(env, "check", "--json")
    document = json.loads(text)
    assert status == (1 if document["findings"] else 0), document
    return {(f["kind"], f["field"]) for f in document["findings"]}


def test_the_demo_tenant_is_clean_and_proven(env) -> None:
    assert found(env) == set()
    status, text = run(env, "prove", "--json")
    proof = json.loads(text)
    assert status == 0, proof
    assert proof["event"]["ip"] == proof["expected_ip"]
    assert proof["event"]["client_ip"] == "127.0.0.1"


def test_trust_flag_off_is_named_and_prove_fails_on_our_address(env, management) -> None:
    client_patch(management, {"is_token_endpoint_ip_header_trusted": False})
    assert found(env) == {("header_not_trusted", "client.is_token_endpoint_ip_header_trusted")}
    status, text = run(env, "prove")
    assert status == 1
    assert "Trust Token Endpoint IP Header is off" in text
    assert "logged ip 127.0.0.1" in text


def test_a_public_client_is_named(env, management) -> None:
    client_patch(
        management, {"is_token_endpoint_ip_header_trusted": False, "token_endpoint_auth_method": "none"}
    )
    assert {kind for kind, _ in found(env)} >= {"auth_method_none", "header_not_trusted"}


def test_the_emulator_refuses_the_trusted_header_on_a_public_client(management) -> None:
    response = management.patch(
        f"/api/v2/clients/{DEMO_CLIENT_ID}", json={"token_endpoint_auth_method": "none"}
    )
    assert response.status_code == 400


def test_a_missing_grant_is_named(env, management) -> None:
    client_patch(
        management, {"grant_types": ["password", "http://auth0.com/oauth/grant-type/password-realm"]}
    )
    kinds = found(env)
    assert ("grant_type_missing", "client.grant_types") in kinds


@pytest.mark.parametrize(
    "kind", ["brute-force-protection", "suspicious-ip-throttling", "breached-password-detection"]
)
def test_protections_disabled_or_not_blocking(env, management, kind: str) -> None:
    patch(management, f"/api/v2/attack-protection/{kind}", {"enabled": False})
    assert found(env) == {("protection_disabled", f"{kind}.enabled")}
    shields = {"suspicious-ip-throttling": ["admin_notification"]}.get(kind, ["user_notification"])
    patch(management, f"/api/v2/attack-protection/{kind}", {"enabled": True, "shields": shields})
    assert found(env) == {("protection_not_blocking", f"{kind}.shields")}


@pytest.mark.parametrize(
    ("entry", "kind"),
    [
        ("0.0.0.0/0", "allowlist_everyone"),
        ("::/0", "allowlist_everyone"),
        ("10.0.0.0/8", "allowlist_too_wide"),
        ("2001:db8::/32", "allowlist_too_wide"),
        ("127.0.0.1", "allowlist_egress_address"),
    ],
)
def test_allowlists(env, management, entry: str, kind: str) -> None:
    patch(management, "/api/v2/attack-protection/brute-force-protection", {"allowlist": [entry]})
    assert found(env) == {(kind, "brute-force-protection.allowlist")}


def test_drift_field_by_field(env, management) -> None:
    patch(management, "/api/v2/attack-protection/brute-force-protection", {"max_attempts": 50})
    assert found(env) == {("drift", "brute-force-protection.max_attempts")}


def test_apply_restores_and_twice_changes_nothing(env, management) -> None:
    client_patch(management, {"is_token_endpoint_ip_header_trusted": False})
    patch(management, "/api/v2/attack-protection/suspicious-ip-throttling", {"allowlist": ["0.0.0.0/0"]})
    patch(management, "/api/v2/attack-protection/breached-password-detection", {"enabled": False})
    status, text = run(env, "apply", "--yes")
    assert status == 0, text
    assert "the tenant now matches" in text
    assert found(env) == set()
    status, text = run(env, "apply", "--yes", "--json")
    assert status == 0
    assert json.loads(text) == {"applied": False, "changes": [], "client_patch": {}, "protection_patches": {}}
    status, _ = run(env, "prove")
    assert status == 0


def test_smoke_through_the_offline_stack(offline_stack: OfflineStack) -> None:
    client = demo_client(DEFAULT_TENANT)
    env = {
        "AUTH0_DOMAIN": offline_stack.auth0_url,
        "AUTH0_MANAGEMENT_CLIENT_ID": M2M_ID,
        "AUTH0_MANAGEMENT_CLIENT_SECRET": M2M_SECRET,
        "AUTH0_CLIENT_ID": client.client_id,
    }
    status, text = run(env, "smoke", "--api", offline_stack.api_url, "--json")
    proof = json.loads(text)
    assert status == 0, proof
    assert proof["answer"] == "403 invalid_grant"
    assert (proof["event"]["ip"], proof["event"]["client_ip"]) == ("127.0.0.42", "127.0.0.1")


def test_offline_defaults_find_the_stack_and_its_secret(offline_stack: OfflineStack) -> None:
    """With no tenant named, the doctor finds the offline stack by its ports and reads the login
    client from the stack's secret in moto (what `make doctor` does after `make run`)."""
    env = {
        "ROPGUARD_AUTH0_PORT": offline_stack.auth0_url.rsplit(":", 1)[1],
        "ROPGUARD_AWS_PORT": offline_stack.aws_url.rsplit(":", 1)[1].rstrip("/"),
    }
    status, text = run(env, "check")
    assert status == 0, text
    status, text = run(env, "prove")
    assert status == 0, text


def test_offline_never_sends_credentials_from_the_environment(
    offline_stack: OfflineStack, capsys: pytest.CaptureFixture[str]
) -> None:
    """An operator's real-tenant credentials in the environment stay home: the emulator's port may
    be anyone's. The demo tenant's documented values are used instead, and the doctor says so."""
    leaked = {
        "AUTH0_MANAGEMENT_CLIENT_ID": "real-m2m-client",
        "AUTH0_MANAGEMENT_CLIENT_SECRET": "real-m2m-secret-from-the-environment",
        "AUTH0_CLIENT_ID": "real-login-client",
        "AUTH0_CLIENT_SECRET": "real-login-secret-from-the-environment",
    }
    SECRETS.add("client_secret", leaked["AUTH0_MANAGEMENT_CLIENT_SECRET"], leaked["AUTH0_CLIENT_SECRET"])
    env = {
        "ROPGUARD_AUTH0_PORT": offline_stack.auth0_url.rsplit(":", 1)[1],
        "ROPGUARD_AWS_PORT": offline_stack.aws_url.rsplit(":", 1)[1].rstrip("/"),
        **leaked,
    }
    for command in ("check", "prove"):
        status, text = run(env, command)
        assert status == 0, text
        notice = capsys.readouterr().err
        assert "offline" in notice
        assert "demo tenant's documented M2M client (ropguard-doctor" in notice
        assert f"not sent there: {', '.join(leaked)}" in notice
        assert not any(value in notice + text for value in leaked.values())
    requests = httpx.get(f"{offline_stack.auth0_url}/__emulator/token-requests").json()
    assert {request["client_id"] for request in requests} <= {M2M_ID, DEMO_CLIENT_ID}
    assert {M2M_ID, DEMO_CLIENT_ID} <= {request["client_id"] for request in requests}


def test_refresh_rotation_without_leeway_is_named_and_applied(env, management) -> None:
    client_patch(
        management,
        {"refresh_token": {"rotation_type": "rotating", "expiration_type": "expiring", "leeway": 0}},
    )
    assert found(env) == {("refresh_rotation_without_leeway", "client.refresh_token.leeway")}
    status, text = run(env, "apply", "--yes")
    assert status == 0, text
    assert found(env) == set()


def test_a_login_client_on_basic_must_match_the_deployments_method(env, management) -> None:
    """Auth0 refuses a secret sent the other way (401 ``invalid_client``), so the doctor names the
    difference, and with ``AUTH0_CLIENT_AUTH_METHOD`` set to Basic the tenant is clean and proven."""
    client_patch(management, {"token_endpoint_auth_method": "client_secret_basic"})
    assert found(env) == {("auth_method_mismatch", "client.token_endpoint_auth_method")}

    basic = {**env, "AUTH0_CLIENT_AUTH_METHOD": "client_secret_basic"}
    assert found(basic) == set()
    status, text = run(basic, "prove", "--json")
    assert status == 0, text


def test_the_scheduled_check_reads_the_login_secret_only_to_prove(
    env: dict[str, str], auth0_emulator: EmulatorHandle
) -> None:
    """As deployed, the login client's secret lives behind AUTH0_SECRET_ID, here in a Secrets
    Manager nobody can reach: the check without its proof never needs it, and Auth0 sees only the
    M2M client; with the proof on, the unreadable secret is named."""
    deployed = {name: value for name, value in env.items() if name != "AUTH0_CLIENT_SECRET"} | {
        "AUTH0_SECRET_ID": "ropguard/auth0-client",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:9",  # the discard port: nothing listens
        "AWS_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }
    result = run_tenant_check(deployed)
    assert (result.finding_count, result.proof) == (0, None)
    assert {request["client_id"] for request in auth0_emulator.token_requests()} == {M2M_ID}

    with pytest.raises(RopguardError, match="cannot read secret ropguard/auth0-client"):
        run_tenant_check({**deployed, "TENANT_CHECK_PROVE": "true"})


def test_a_tenant_file_naming_an_undocumented_variable_is_refused_without_its_value(
    env: dict[str, str], tmp_path: Path
) -> None:
    """A drift finding prints the desired value: ``${AWS_SECRET_ACCESS_KEY}`` would print the
    function's AWS secret, so only the documented variables may be named."""
    tenant_file = tmp_path / "tenant.yaml"
    shipped = (REPO / "auth0" / "tenant.yaml").read_text()
    tenant_file.write_text(shipped.replace("${ROPGUARD_BRUTE_FORCE_ALLOWLIST:-}", "${AWS_SECRET_ACCESS_KEY}"))
    leaked = {**env, "AWS_SECRET_ACCESS_KEY": "aws-secret-from-the-functions-environment"}
    SECRETS.add("aws_secret", leaked["AWS_SECRET_ACCESS_KEY"])

    status, text = run(leaked, "check", "--tenant-file", str(tenant_file))

    assert status == 2, text
    assert "${AWS_SECRET_ACCESS_KEY} is not a variable tenant.yaml may use" in text
    assert leaked["AWS_SECRET_ACCESS_KEY"] not in text
