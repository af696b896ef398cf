"""The offline stack's stand-in for the template's CloudFront distribution (ClientAddressSource=cloudfront).

A real distribution adds two headers to every origin request, replacing any the viewer sent:
``CloudFront-Viewer-Address`` (the viewer's IP and port, IPv6 unbracketed) and the origin custom
header ``X-Origin-Verify``, whose value CloudFormation resolved from the template's
``{{resolve:secretsmanager:...}}`` dynamic reference. ``DistributionFront`` does the same in front of
the local HTTP API, through its ``viewer_headers`` hook: the viewer is the TCP peer, and the secret
is read from moto on each request (the stage or version the reference names), so a rotation made
in moto is what the next request carries. The API's own endpoint is served beside it without the
hook, so both paths can be tried.

What reaches the origin is what the cache behaviour's policies say (``Forwarding``), the template's
own or AWS's managed ones (as AWS documents them): ``CloudFront-Viewer-Address`` only when an origin
request policy lists it, and viewer headers only as the policies forward them, so a policy that
drops the address fails offline as it would on AWS.
"""

from __future__ import annotations

import copy
import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ropguard_offline.aws_resources import OfflineResources, refers_to

DISTRIBUTION = "AWS::CloudFront::Distribution"
ORIGIN_REQUEST_POLICY = "AWS::CloudFront::OriginRequestPolicy"
CACHE_POLICY = "AWS::CloudFront::CachePolicy"
VIEWER_ADDRESS_HEADER = "CloudFront-Viewer-Address"
#: Methods whose Authorization header CloudFront removes unless a cache policy's key holds it
#: (docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/RequestAndResponseBehaviorCustomOrigin.html).
_AUTHORIZATION_NEEDS_CACHE_KEY = frozenset({"GET", "HEAD", "OPTIONS"})
#: What the local server needs to read the body; CloudFront sends its own equivalents.
_TRANSPORT = frozenset({"host", "content-length", "transfer-encoding"})
_BEHAVIORS = frozenset({"none", "whitelist", "allViewer", "allViewerAndWhitelistCloudFront", "allExcept"})

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
class HeaderPolicy:
    """A policy's ``HeadersConfig``: ``behavior`` as CloudFormation spells it, ``names`` lower-cased."""

    behavior: str = "none"  # one of _BEHAVIORS
    names: frozenset[str] = frozenset()

    @classmethod
    def of(cls, config: Mapping[str, Any] | None) -> HeaderPolicy:
        config = config or {}
        behavior = str(config.get("HeaderBehavior", "none"))
        if behavior not in _BEHAVIORS:
            raise CloudFrontTemplateError(f"unknown HeaderBehavior {behavior!r}")
        return cls(behavior, frozenset(str(name).lower() for name in config.get("Headers", [])))

    def forwards_viewer(self, name: str) -> bool:
        """Whether a header the viewer sent reaches the origin (``name`` lower-cased)."""
        if self.behavior == "whitelist":
            return name in self.names
        if self.behavior == "allExcept":
            return name not in self.names
        return self.behavior in {"allViewer", "allViewerAndWhitelistCloudFront"}

    def adds(self, name: str) -> bool:
        """Whether CloudFront adds one of its own headers (``CloudFront-*``) to the origin request."""
        listed = name.lower() in self.names
        return listed and self.behavior in {"whitelist", "allViewerAndWhitelistCloudFront"}


#: AWS's managed policies by id, as their documentation lists them
#: (docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-origin-request-policies.html,
#: docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/using-managed-cache-policies.html).
MANAGED_ORIGIN_REQUEST_POLICIES = {
    # AllViewerExceptHostHeader: every viewer header but Host, none of CloudFront's own
    "b689b0a8-53d0-40ab-baf2-68738e2966ac": HeaderPolicy("allExcept", frozenset({"host"})),
    "216adef6-5c7f-47e4-b989-5492eafa07d3": HeaderPolicy("allViewer"),  # AllViewer
}
MANAGED_CACHE_POLICIES = {"4135ea2d-6df8-44a3-9df3-4b5a84be39ad": HeaderPolicy()}  # CachingDisabled
_POLICY_KINDS = (
    (
        "OriginRequestPolicyId",
        ORIGIN_REQUEST_POLICY,
        "OriginRequestPolicyConfig",
        MANAGED_ORIGIN_REQUEST_POLICIES,
    ),
    ("CachePolicyId", CACHE_POLICY, "CachePolicyConfig", MANAGED_CACHE_POLICIES),
)


@dataclass(frozen=True, slots=True)
class Forwarding:
    """What one cache behaviour sends to the origin: its origin request policy's headers and its
    cache policy's key headers (CloudFront forwards both)."""

    origin_request: HeaderPolicy = HeaderPolicy()
    cache_key: HeaderPolicy = HeaderPolicy()

    def forwards(self, method: str, name: str) -> bool:
        """Whether the viewer's header ``name`` reaches the origin on a ``method`` request.
        ``Authorization`` goes only through a cache key (or on a method CloudFront always passes
        it on); ``CloudFront-*`` headers are CloudFront's own, never the viewer's."""
        name = name.lower()
        if name in _TRANSPORT:
            return True
        if name.startswith("cloudfront-"):
            return False
        if name == "authorization":
            return method.upper() not in _AUTHORIZATION_NEEDS_CACHE_KEY or self.cache_key.forwards_viewer(
                name
            )
        return self.origin_request.forwards_viewer(name) or self.cache_key.forwards_viewer(name)

    @property
    def viewer_address(self) -> bool:
        return self.origin_request.adds(VIEWER_ADDRESS_HEADER)


def behaviour_forwarding(resources: OfflineResources, behaviour: Mapping[str, Any]) -> Forwarding:
    """The policies a cache behaviour names (as read back from moto): the template's own by
    reference, AWS's managed ones by id. Legacy ``ForwardedValues`` is not played."""
    if "ForwardedValues" in behaviour:
        raise CloudFrontTemplateError("legacy ForwardedValues is not played offline; use policies")
    policies = []
    for key, kind, config_key, managed in _POLICY_KINDS:
        value = behaviour.get(key)
        own = [name for name in resources.of_type(kind) if value is not None and refers_to(value, name)]
        if value is None:
            policies.append(HeaderPolicy())
        elif own:
            config = resources.finish(resources.properties[own[0]], f"Resources.{own[0]}")[config_key]
            headers = config.get("ParametersInCacheKeyAndForwardedToOrigin", config).get("HeadersConfig")
            policies.append(HeaderPolicy.of(headers))
        elif str(value) in managed:
            policies.append(managed[str(value)])
        else:
            raise CloudFrontTemplateError(
                f"{key} {value!r} is neither the template's nor a known managed policy"
            )
    return Forwarding(*policies)


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

    def __init__(
        self, origin: OriginHeaders, secretsmanager: Callable[[], Any], forwarding: Forwarding
    ) -> None:
        self.origin = origin
        self.forwarding = forwarding
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

    @classmethod
    def of(
        cls, resources: OfflineResources, logical_id: str, secretsmanager: Callable[[], Any]
    ) -> DistributionFront:
        """The front of the template's distribution ``logical_id``, as moto resolved it."""
        properties = copy.deepcopy(resources.properties[logical_id])
        behaviour = properties.get("DistributionConfig", {}).get("DefaultCacheBehavior", {})
        forwarding = behaviour_forwarding(resources, behaviour)
        for key, *_ in _POLICY_KINDS:  # read: they may be tokens of the left-out policies
            behaviour.pop(key, None)
        origin = origin_headers(resources.finish(properties, f"Resources.{logical_id}"))
        return cls(origin, secretsmanager, forwarding)

    def forwards(self, method: str, name: str) -> bool:
        """Whether the viewer's header ``name`` reaches the API (the local API's header filter)."""
        return self.forwarding.forwards(method, name)

    def __call__(self, host: str, port: int) -> dict[str, str]:
        headers = dict(self._plain)
        if self.forwarding.viewer_address:
            headers[VIEWER_ADDRESS_HEADER] = viewer_address(host, port)
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
