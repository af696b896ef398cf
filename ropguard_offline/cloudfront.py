"""The offline stack's stand-in for the template's CloudFront distribution (ClientAddressSource=cloudfront).

A real distribution adds two headers to every origin request, replacing any the viewer sent:
``CloudFront-Viewer-Address`` (the viewer's IP and port, IPv6 unbracketed) and the origin custom
header ``X-Origin-Verify``, whose value CloudFormation resolved from the template's
``{{resolve:secretsmanager:...}}`` dynamic reference. ``DistributionFront`` does the same in front of
the local HTTP API, through its ``viewer_headers`` hook: the viewer is the TCP peer, and the secret
is read from moto on each request (the stage or version the reference names), so a rotation made
in moto is what the next request carries. The API's own endpoint is served beside it without the
hook, so both paths can be tried.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

DISTRIBUTION = "AWS::CloudFront::Distribution"
VIEWER_ADDRESS_HEADER = "CloudFront-Viewer-Address"

#: ``{{resolve:secretsmanager:secret-id:SecretString:json-key:version-stage:version-id}}``; the
#: secret id may be an ARN (colons included), so the fields are matched from ``:SecretString:`` on.
_REFERENCE = re.compile(
    r"\{\{resolve:secretsmanager:(?P<secret_id>.+?)"
    r"(?::SecretString(?::(?P<json_key>[^:}]*)(?::(?P<stage>[^:}]*)(?::(?P<version_id>[^:}]*))?)?)?)?\}\}"
)


class CloudFrontTemplateError(ValueError):
    """The distribution cannot be played locally as the template declares it (names the problem)."""


@dataclass(frozen=True, slots=True)
class SecretReference:
    """What a ``{{resolve:secretsmanager:...}}`` reference reads."""

    secret_id: str
    version_stage: str | None = None
    version_id: str | None = None

    @classmethod
    def parse(cls, value: str) -> SecretReference:
        match = _REFERENCE.fullmatch(value.strip())
        if match is None:
            raise CloudFrontTemplateError(
                "the X-Origin-Verify origin header is not a {{resolve:secretsmanager:...}} reference"
            )
        if match["json_key"]:
            raise CloudFrontTemplateError(
                "the origin secret reference names a JSON key; it must be the whole string"
            )
        return cls(match["secret_id"], match["stage"] or None, match["version_id"] or None)

    def read(self, secretsmanager: Any) -> str:
        """The value CloudFormation would resolve now (AWSCURRENT unless a stage or version is named)."""
        options: dict[str, str] = {"SecretId": self.secret_id}
        if self.version_id:
            options["VersionId"] = self.version_id
        elif self.version_stage:
            options["VersionStage"] = self.version_stage
        return str(secretsmanager.get_secret_value(**options)["SecretString"])


@dataclass(frozen=True, slots=True)
class OriginHeaders:
    """The custom headers one distribution origin adds (name -> value as resolved from the template)."""

    origin_domain: str
    headers: Mapping[str, str]


def origin_headers(distribution_properties: Mapping[str, Any]) -> OriginHeaders:
    """The one origin of a distribution and its custom headers (the template has exactly one)."""
    config = distribution_properties.get("DistributionConfig", {})
    origins = config.get("Origins", [])
    if len(origins) != 1:
        raise CloudFrontTemplateError(f"the distribution must have exactly one origin, it has {len(origins)}")
    (origin,) = origins
    headers = {
        str(item["HeaderName"]): str(item["HeaderValue"]) for item in origin.get("OriginCustomHeaders", [])
    }
    return OriginHeaders(str(origin.get("DomainName", "")), headers)


def viewer_address(host: str, port: int) -> str:
    """``CloudFront-Viewer-Address`` as CloudFront writes it: ``ip:port``, IPv6 without brackets."""
    address = ipaddress.ip_address(host.strip("[]"))
    return f"{address}:{port}"


class DistributionFront:
    """``viewer_headers`` for the local HTTP API: what the distribution adds to each origin request.

    ``secretsmanager`` builds a boto3 Secrets Manager client for moto (called once, lazily).
    Header values that are not secret references pass as they are.
    """

    def __init__(self, origin: OriginHeaders, secretsmanager: Callable[[], Any]) -> None:
        self.origin = origin
        self._references = {
            name: SecretReference.parse(value)
            for name, value in origin.headers.items()
            if "{{resolve:" in value
        }
        self._plain = {name: value for name, value in origin.headers.items() if name not in self._references}
        self._client_factory = secretsmanager
        self._client: Any = None

    def _secretsmanager(self) -> Any:
        if self._client is None:
            self._client = self._client_factory()
        return self._client

    def __call__(self, host: str, port: int) -> dict[str, str]:
        headers = {VIEWER_ADDRESS_HEADER: viewer_address(host, port), **self._plain}
        for name, reference in self._references.items():
            headers[name] = reference.read(self._secretsmanager())
        return headers


# -- python -m ropguard_offline.cloudfront secret | rotate --------------------------------------------------


def find_origin_secret(secretsmanager: Any, logical_id: str = "OriginVerifySecret") -> str:
    """The ARN of the offline stack's origin secret in moto (its name holds the logical id)."""
    found = [
        str(entry["ARN"])
        for page in secretsmanager.get_paginator("list_secrets").paginate()
        for entry in page["SecretList"]
        if logical_id in str(entry.get("Name", ""))
    ]
    if len(found) != 1:
        raise SystemExit(
            f"expected one secret named like {logical_id} in moto, found {len(found)}: "
            'is the offline stack running with PARAMS="ClientAddressSource=cloudfront"?'
        )
    return found[0]


def rotate(secretsmanager: Any, secret_id: str) -> str:
    """Put a new random value: it becomes AWSCURRENT and the old one AWSPREVIOUS. Returns the VersionId."""
    import secrets  # noqa: PLC0415

    answer = secretsmanager.put_secret_value(SecretId=secret_id, SecretString=secrets.token_urlsafe(48))
    return str(answer["VersionId"])


def main(argv: list[str] | None = None) -> int:
    import argparse  # noqa: PLC0415
    import os  # noqa: PLC0415
    import sys  # noqa: PLC0415

    from ropguard_offline.aws_resources import AwsEndpoint  # noqa: PLC0415

    parser = argparse.ArgumentParser(
        prog="python -m ropguard_offline.cloudfront",
        description="The offline stack's CloudFront origin secret (ClientAddressSource=cloudfront).",
    )
    parser.add_argument("command", choices=("secret", "rotate"), help="print the current value, or rotate it")
    port = os.environ.get("ROPGUARD_AWS_PORT", "5000")
    parser.add_argument("--aws-url", default=f"http://127.0.0.1:{port}", help="moto server (%(default)s)")
    parser.add_argument("--region", default=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    client = AwsEndpoint(args.aws_url, args.region).client("secretsmanager")
    secret_id = find_origin_secret(client)
    if args.command == "secret":
        print(client.get_secret_value(SecretId=secret_id)["SecretString"])
    else:
        print(f"rotated {secret_id}: new AWSCURRENT VersionId {rotate(client, secret_id)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
