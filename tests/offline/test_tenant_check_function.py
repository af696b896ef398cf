"""TenantCheckFunction through the offline stack's own function runtime: deployed only with a
management secret, it checks the stack's tenant with the M2M client read from Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from ropguard_offline.stack import OfflineStack, Ports, StackConfig
from tests.fixtures.secret_hygiene import SECRETS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

M2M = {"client_id": "ropguard-doctor", "client_secret": "ropguard-doctor-secret-not-for-production"}
MANAGEMENT_SECRET_NAME = "ropguard/doctor-m2m"
SECRETS.add("client_secret", M2M["client_secret"])


@pytest.fixture(scope="module")
def stack_with_tenant_check() -> Iterator[OfflineStack]:
    config = StackConfig(
        ports=Ports.free(),
        parameter_overrides={"TenantManagementSecretArn": MANAGEMENT_SECRET_NAME, "TenantCheckProve": "true"},
        environment_overrides={"POWERTOOLS_METRICS_NAMESPACE": "Ropguard"},
    )
    with OfflineStack.start(config) as stack:
        stack.aws.client("secretsmanager").create_secret(
            Name=MANAGEMENT_SECRET_NAME, SecretString=json.dumps(M2M)
        )
        yield stack


def test_without_a_management_secret_there_is_no_tenant_check(offline_stack: OfflineStack) -> None:
    assert "TenantCheckFunction" not in offline_stack.functions


def test_the_scheduled_check_runs_on_demand(stack_with_tenant_check: OfflineStack, capsys) -> None:
    stack = stack_with_tenant_check
    result = stack.functions["TenantCheckFunction"].invoke({})
    assert result["TenantFindings"] == 0, result
    assert result["proof"]["passed"] is True

    base = stack.auth0_url
    token = httpx.post(
        f"{base}/oauth/token",
        json={"grant_type": "client_credentials", **M2M, "audience": f"{base}/api/v2/"},
    ).json()["access_token"]
    SECRETS.add("token", token)
    httpx.patch(
        f"{base}/api/v2/clients/ropguard-demo-client",
        json={"is_token_endpoint_ip_header_trusted": False},
        headers={"authorization": f"Bearer {token}"},
    ).raise_for_status()
    result = stack.functions["TenantCheckFunction"].invoke({})
    assert [finding["kind"] for finding in result["findings"]] == ["header_not_trusted"]
    assert result["proof"]["passed"] is False
    assert result["TenantFindings"] == 2
    print(capsys.readouterr().out)
