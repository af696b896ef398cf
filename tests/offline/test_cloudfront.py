"""ropguard_offline/cloudfront.py: the distribution stand-in's parsing (the headers it adds go through the
whole stack in tests/integration/test_spoofing.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ropguard_offline.aws_resources import read_template
from ropguard_offline.cloudfront import (
    MANAGED_CACHE_POLICIES,
    MANAGED_ORIGIN_REQUEST_POLICIES,
    VIEWER_ADDRESS_HEADER,
    CloudFrontTemplateError,
    DistributionFront,
    Forwarding,
    HeaderPolicy,
    OriginHeaders,
    SecretReference,
    origin_headers,
    viewer_address,
)

ROOT = Path(__file__).resolve().parents[2]
WHITELISTS_THE_ADDRESS = Forwarding(HeaderPolicy("whitelist", frozenset({"cloudfront-viewer-address"})))
#: The managed policies template.yaml used before it had its own (AllViewerExceptHostHeader,
#: CachingDisabled).
ALL_VIEWER_EXCEPT_HOST = "b689b0a8-53d0-40ab-baf2-68738e2966ac"
CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"
ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:OriginVerifySecret-AbCdEf"


@pytest.mark.parametrize(
    ("reference", "expected"),
    [
        (f"{{{{resolve:secretsmanager:{ARN}:SecretString:::}}}}", SecretReference(ARN)),
        (f"{{{{resolve:secretsmanager:{ARN}}}}}", SecretReference(ARN)),
        (f"{{{{resolve:secretsmanager:{ARN}:SecretString}}}}", SecretReference(ARN)),
        (
            f"{{{{resolve:secretsmanager:{ARN}:SecretString:::0123456789abcdef0123456789abcdef}}}}",
            SecretReference(ARN, None, "0123456789abcdef0123456789abcdef"),
        ),
        (
            "{{resolve:secretsmanager:my-secret:SecretString::AWSPREVIOUS:}}",
            SecretReference("my-secret", "AWSPREVIOUS"),
        ),
    ],
)
def test_secret_reference(reference: str, expected: SecretReference) -> None:
    assert SecretReference.parse(reference) == expected


@pytest.mark.parametrize(
    "reference",
    ["plain-value", "{{resolve:ssm:/x}}", f"{{{{resolve:secretsmanager:{ARN}:SecretString:key::}}}}"],
)
def test_unusable_reference_is_refused(reference: str) -> None:
    with pytest.raises(CloudFrontTemplateError):
        SecretReference.parse(reference)


@pytest.mark.parametrize(
    ("host", "port", "expected"),
    [
        ("127.0.0.1", 46532, "127.0.0.1:46532"),
        ("::1", 443, "::1:443"),
        ("[2001:db8::8a2e:370:7334]", 46532, "2001:db8::8a2e:370:7334:46532"),
    ],
)
def test_viewer_address_is_written_as_cloudfront_writes_it(host: str, port: int, expected: str) -> None:
    assert viewer_address(host, port) == expected


def test_origin_headers_need_exactly_one_origin() -> None:
    one = {"DistributionConfig": {"Origins": [{"DomainName": "x", "OriginCustomHeaders": []}]}}
    assert origin_headers(one) == OriginHeaders("x", {})
    with pytest.raises(CloudFrontTemplateError):
        origin_headers({"DistributionConfig": {"Origins": []}})


class _Secrets:
    def __init__(self) -> None:
        self.value = "first-origin-secret-value"

    def get_secret_value(self, **options: str) -> dict[str, str]:
        assert options == {"SecretId": ARN}
        return {"SecretString": self.value}


def test_front_reads_the_secret_per_request_and_adds_the_viewer_address() -> None:
    secrets = _Secrets()
    origin = OriginHeaders(
        "api", {"X-Origin-Verify": f"{{{{resolve:secretsmanager:{ARN}:SecretString:::}}}}", "X-Plain": "v"}
    )
    front = DistributionFront(origin, lambda: secrets, WHITELISTS_THE_ADDRESS)
    assert front("127.0.0.9", 5555) == {
        "CloudFront-Viewer-Address": "127.0.0.9:5555",
        "X-Origin-Verify": "first-origin-secret-value",
        "X-Plain": "v",
    }
    secrets.value = "rotated-origin-secret-value"
    assert front("127.0.0.9", 5556)["X-Origin-Verify"] == "rotated-origin-secret-value"


def test_the_managed_all_viewer_except_host_policy_never_adds_the_viewer_address() -> None:
    """What AWS documents for it: the viewer's own headers, not CloudFront's."""
    forwarding = Forwarding(
        MANAGED_ORIGIN_REQUEST_POLICIES[ALL_VIEWER_EXCEPT_HOST], MANAGED_CACHE_POLICIES[CACHING_DISABLED]
    )
    assert not forwarding.viewer_address
    front = DistributionFront(OriginHeaders("api", {}), lambda: None, forwarding)
    assert VIEWER_ADDRESS_HEADER not in front("127.0.0.9", 5555)
    assert forwarding.forwards("POST", "X-Anything")
    assert not forwarding.forwards("POST", VIEWER_ADDRESS_HEADER)  # a viewer's own copy never passes
    assert not forwarding.forwards("GET", "Authorization")  # only a cache key forwards it on GET


def test_the_templates_own_policies_forward_the_address_and_what_the_routes_read() -> None:
    resources = read_template(
        ROOT / "template.yaml",
        {"Auth0Domain": "tenant.example.auth0.com", "ClientAddressSource": "cloudfront"},
    )
    front = DistributionFront.of(resources, "LoginDistribution", lambda: None)
    forwarding = front.forwarding
    assert forwarding.viewer_address
    for name in ("Content-Type", "Origin", "Access-Control-Request-Method", "Access-Control-Request-Headers"):
        assert forwarding.forwards("POST", name), name
    assert forwarding.forwards("GET", "Authorization")  # GET /login/mfa/authenticators
    for name in ("X-Forwarded-For", "Cookie", "auth0-forwarded-for", VIEWER_ADDRESS_HEADER):
        assert not forwarding.forwards("POST", name), name
    assert front.origin.headers.keys() == {"X-Origin-Verify"}


def test_a_policy_the_offline_front_does_not_know_is_refused() -> None:
    resources = read_template(
        ROOT / "template.yaml",
        {"Auth0Domain": "tenant.example.auth0.com", "ClientAddressSource": "cloudfront"},
    )
    behaviour = resources.properties["LoginDistribution"]["DistributionConfig"]["DefaultCacheBehavior"]
    behaviour["OriginRequestPolicyId"] = "00000000-0000-0000-0000-000000000000"
    with pytest.raises(CloudFrontTemplateError, match="OriginRequestPolicyId"):
        DistributionFront.of(resources, "LoginDistribution", lambda: None)
