"""The scheduled check: the handler of TenantCheckFunction and ``python -m ropguard_doctor.scheduled``
run the same code; findings become log lines and the TenantFindings metric, never secrets."""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest

from ropguard.errors import RopguardError
from ropguard_doctor import scheduled
from tests.emf import metric_totals
from tests.fixtures.login import FakeLambdaContext
from tests.unit.doctor.fake_tenant import FakeTenant

ROOT = Path(__file__).resolve().parents[3]


def load_tenant_check_app() -> ModuleType:
    if "tenant_check_app" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "tenant_check_app", ROOT / "functions/tenant_check/app.py"
        )
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["tenant_check_app"] = module
        spec.loader.exec_module(module)
    return sys.modules["tenant_check_app"]


@pytest.fixture
def lambda_env(doctor_env, monkeypatch) -> dict[str, str]:
    env = {
        **doctor_env,
        "POWERTOOLS_SERVICE_NAME": "ropguard-tenant-check",
        "POWERTOOLS_METRICS_NAMESPACE": "Ropguard",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def test_clean_tenant_emits_zero_findings(lambda_env, tenant, capsys) -> None:
    result = load_tenant_check_app().lambda_handler({}, FakeLambdaContext(function_name="TenantCheck"))
    out = capsys.readouterr().out
    assert result["TenantFindings"] == 0
    assert metric_totals(out)["TenantFindings"] == 0
    print(out)


def test_each_finding_is_a_log_line_and_counted(lambda_env, tenant: FakeTenant, capsys) -> None:
    tenant.client["is_token_endpoint_ip_header_trusted"] = False
    tenant.protections["brute-force-protection"]["allowlist"] = ["0.0.0.0/0"]
    load_tenant_check_app().lambda_handler({}, FakeLambdaContext(function_name="TenantCheck"))
    out = capsys.readouterr().out
    logged = [json.loads(line) for line in out.splitlines() if '"tenant finding"' in line]
    assert {line["kind"] for line in logged} == {"header_not_trusted", "allowlist_everyone"}
    assert metric_totals(out)["TenantFindings"] == 2
    print(out)


def test_a_failed_proof_counts_as_a_finding(lambda_env, tenant: FakeTenant, monkeypatch, capsys) -> None:
    monkeypatch.setenv("TENANT_CHECK_PROVE", "true")
    tenant.client["is_token_endpoint_ip_header_trusted"] = False
    result = load_tenant_check_app().lambda_handler({}, FakeLambdaContext(function_name="TenantCheck"))
    assert result["proof"]["passed"] is False
    assert "Trust Token Endpoint IP Header is off" in result["proof"]["cause"]
    assert result["TenantFindings"] == 2
    print(capsys.readouterr().out)


def test_could_not_check_fails_the_invocation(lambda_env, tenant, monkeypatch, capsys) -> None:
    monkeypatch.setenv("AUTH0_MANAGEMENT_CLIENT_SECRET", "not-the-right-secret")
    with pytest.raises(Exception, match="refused"):
        load_tenant_check_app().lambda_handler({}, FakeLambdaContext(function_name="TenantCheck"))
    out = capsys.readouterr().out
    assert metric_totals(out)["TenantCheckFailed"] == 1
    print(out)


def test_the_local_entry_runs_the_same_check(lambda_env, tenant: FakeTenant, capsys) -> None:
    tenant.protections["suspicious-ip-throttling"]["enabled"] = False
    assert scheduled.main() == 1
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines[0]["kind"] == "protection_disabled"
    assert lines[-1]["TenantFindings"] == 1


def test_the_check_reads_the_login_secret_only_when_it_proves(lambda_env, tenant, monkeypatch) -> None:
    """As deployed: the login client's credentials live in AUTH0_SECRET_ID, here in a Secrets
    Manager nobody can reach, so any read of it fails the check."""
    monkeypatch.delenv("AUTH0_CLIENT_SECRET")
    monkeypatch.setenv("AUTH0_SECRET_ID", "ropguard/auth0-client")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # the discard port: nothing listens
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    result = scheduled.run_tenant_check(os.environ)
    assert (result.finding_count, result.proof) == (0, None)
    monkeypatch.setenv("TENANT_CHECK_PROVE", "true")
    with pytest.raises(RopguardError, match="cannot read secret ropguard/auth0-client"):
        scheduled.run_tenant_check(os.environ)


def test_without_the_login_client_id_and_no_proof_the_check_names_the_variable(
    lambda_env, tenant, monkeypatch
) -> None:
    monkeypatch.delenv("AUTH0_CLIENT_SECRET")
    monkeypatch.setenv("AUTH0_CLIENT_ID", "")  # TenantCheckClientId left empty
    with pytest.raises(RopguardError, match=r"\$\{AUTH0_CLIENT_ID\} is not set"):
        scheduled.run_tenant_check(os.environ)
