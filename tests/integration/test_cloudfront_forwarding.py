"""The offline distribution forwards what the template's policies say, so a policy that drops
``CloudFront-Viewer-Address`` fails offline as it would on AWS: every login a 403, Auth0 never
called. Run with a copy of template.yaml whose cache behaviour uses AWS's managed
AllViewerExceptHostHeader and CachingDisabled policies (what the template used before it had its
own); the template itself logs the same user in through the distribution."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ropguard_offline.stack import DEFAULT_TENANT, OfflineStack, Ports, StackConfig, demo_client
from tests.fixtures.emulator import DEMO_USERS
from tests.fixtures.secret_hygiene import SECRETS
from tests.integration.stack_client import StackClient

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ALICE = DEMO_USERS["alice"]
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
#: Managed-AllViewerExceptHostHeader
ALL_VIEWER = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
MANAGED_POLICIES = {
    "CachePolicyId: !Ref LoginCachePolicy": f"CachePolicyId: {CACHING_DISABLED}",
    "OriginRequestPolicyId: !Ref LoginOriginRequestPolicy": f"OriginRequestPolicyId: {ALL_VIEWER}",
}


@pytest.fixture(scope="module")
def managed_policy_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineStack]:
    """The CloudFront-mode stack from a template copy using the managed policies (its code
    directories linked, so the copy runs the same functions and layer)."""
    directory = tmp_path_factory.mktemp("managed-policy-template")
    text = (ROOT / "template.yaml").read_text(encoding="utf-8")
    for ours, managed in MANAGED_POLICIES.items():
        assert text.count(ours) == 1, ours
        text = text.replace(ours, managed)
    (directory / "template.yaml").write_text(text, encoding="utf-8")
    for name in ("functions", "layers"):
        (directory / name).symlink_to(ROOT / name, target_is_directory=True)
    config = StackConfig(
        template_path=directory / "template.yaml", parameter_overrides={"ClientAddressSource": "cloudfront"}
    )
    with OfflineStack.start(config, ports=Ports.free()) as stack:
        yield stack


def users_of(stack: OfflineStack) -> StackClient:
    SECRETS.add("client_secret", demo_client(DEFAULT_TENANT).client_secret)
    return StackClient(stack, SECRETS)


def test_the_managed_all_viewer_policy_refuses_every_login(managed_policy_stack: OfflineStack) -> None:
    users = users_of(managed_policy_stack)
    response = users.login(*ALICE, source="127.0.41.1")
    assert response.status_code == 403
    assert response.json()["error"] == "access_denied"
    assert users.token_requests() == []  # failed closed before Auth0


def test_the_templates_own_policy_logs_the_viewer_in(cloudfront_stack_session: OfflineStack) -> None:
    cloudfront_stack_session.reset()
    users = users_of(cloudfront_stack_session)
    response = users.login(*ALICE, source="127.0.41.2")
    assert response.status_code == 200
    (request,) = users.token_requests()
    assert request["forwarded_for"] == request["attributed_ip"] == "127.0.41.2"
