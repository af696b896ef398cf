"""ropguard_offline/cloudfront.py: the distribution stand-in's parsing (the headers it adds go through the
whole stack in tests/integration/test_spoofing.py)."""

from __future__ import annotations

import pytest

from ropguard_offline.cloudfront import (
    CloudFrontTemplateError,
    DistributionFront,
    OriginHeaders,
    SecretReference,
    origin_headers,
    viewer_address,
)

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
    front = DistributionFront(origin, lambda: secrets)
    assert front("127.0.0.9", 5555) == {
        "CloudFront-Viewer-Address": "127.0.0.9:5555",
        "X-Origin-Verify": "first-origin-secret-value",
        "X-Plain": "v",
    }
    secrets.value = "rotated-origin-secret-value"
    assert front("127.0.0.9", 5556)["X-Origin-Verify"] == "rotated-origin-secret-value"
