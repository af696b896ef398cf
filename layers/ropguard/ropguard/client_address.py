"""The end user's IP address, taken only from what AWS writes, never from what the client writes.

Headers such as X-Forwarded-For or auth0-forwarded-for are written by the client; trusting them
would let an attacker pick a fresh address per attempt and defeat Auth0's per-IP protections.

Two sources, chosen by ``CLIENT_ADDRESS_SOURCE`` (template parameter ``ClientAddressSource``):

``request-context`` (default)
    API Gateway's request context (``sourceIp``): the TCP peer of API Gateway. Every header,
    ``CloudFront-Viewer-Address`` included, is ignored.
``cloudfront``
    The stack's CloudFront distribution is the only client API Gateway should see, so the request
    context holds an edge address. The viewer's address comes from ``CloudFront-Viewer-Address``,
    which CloudFront writes (replacing any the viewer sent), but only when the request carries the
    origin secret CloudFront adds as ``X-Origin-Verify``: the API's own execute-api endpoint stays
    reachable, and a caller going there directly could write both headers itself. Without the
    secret (or with an unusable address) the request is refused before anything reaches Auth0.

``resolve_client_address`` is the one entry point the handlers call.
"""

from __future__ import annotations

import hmac
import ipaddress
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ropguard.errors import ClientAddressError, OriginSecretMismatchError, ViewerAddressError
from ropguard.settings import REQUEST_CONTEXT, ClientAddressSettings

if TYPE_CHECKING:
    from ropguard.settings import ApiSettings


def normalise_ip(raw: object) -> str | None:
    """The canonical text of one usable host address, or None.

    IPv4-mapped IPv6 becomes IPv4 (Auth0 must count the same user as the same address);
    a single-host CIDR such as ``192.168.0.1/32`` (seen in public sample events) is that host.
    Unspecified, multicast and zone-scoped addresses cannot be a client and are refused.
    """
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    try:
        if "/" in text:
            network = ipaddress.ip_network(text, strict=True)
            if network.prefixlen != network.max_prefixlen:
                return None
            address: ipaddress.IPv4Address | ipaddress.IPv6Address = network.network_address
        else:
            address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return None
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
    if address.is_unspecified or address.is_multicast:
        return None
    return str(address)


def source_ip(event: Mapping[str, Any]) -> str | None:
    """The request context's source IP for payload 2.0 (HTTP API) or 1.0 (REST API) events."""
    # Plain dict access: Powertools' event data classes cost a measurable part of a cold start.
    try:
        context = event["requestContext"]
        if event.get("version") == "2.0":
            raw: object = context["http"]["sourceIp"]
        else:
            raw = context["identity"]["sourceIp"]
    except (KeyError, TypeError, AttributeError, IndexError):
        return None
    return normalise_ip(raw)


# --- CloudFront mode ------------------------------------------------------------------------------

#: The header CloudFront adds when an origin request policy forwards it (port after the last colon).
VIEWER_ADDRESS_HEADER = "cloudfront-viewer-address"
#: The origin custom header carrying the stack's origin secret.
ORIGIN_VERIFY_HEADER = "x-origin-verify"
#: Both stages are accepted, so a rotation (new value AWSCURRENT, old one AWSPREVIOUS) drops nothing.
ACCEPTED_STAGES = ("AWSCURRENT", "AWSPREVIOUS")

_PORT = re.compile(r"[0-9]{1,5}")


class SecretStages(Protocol):
    """``ropguard.credentials.CachedSecret``'s reading side ."""

    def value(self, stage: str = "AWSCURRENT", *, refresh: bool = False) -> str | None: ...


def parse_viewer_address(raw: object) -> str | None:
    """The host of a ``CloudFront-Viewer-Address`` value, normalised, or None.

    CloudFront writes ``198.51.100.10:46532`` and, for IPv6, the address unbracketed followed by
    the port (``2001:db8::8a2e:370:7334:46532``): the port is always after the last colon. A value
    without a port, with a port that is not 0-65535 in decimal, with brackets, spaces or a comma
    (API Gateway joins repeated headers with commas) is refused rather than guessed at.
    """
    if not isinstance(raw, str):
        return None
    host, colon, port = raw.rpartition(":")
    if not colon or not _PORT.fullmatch(port) or int(port) > 65535:
        return None
    if not host or host != host.strip() or "/" in host or "[" in host or "%" in host:
        return None
    return normalise_ip(host)


def _header(event: Mapping[str, Any], name: str) -> str | None:
    """The one value of header ``name`` (case-insensitive), or None when absent or ambiguous.

    Payload 2.0 lowercases names and joins repeats with commas; payload 1.0 keeps the caller's
    casing and lists repeats in ``multiValueHeaders``. Two spellings of one name, or several
    values, are ambiguous and count as absent (fail closed).
    """
    values: list[object] = []
    headers = event.get("headers")
    if isinstance(headers, Mapping):
        values = [value for key, value in headers.items() if isinstance(key, str) and key.lower() == name]
    multi = event.get("multiValueHeaders")
    if isinstance(multi, Mapping):
        for key, items in multi.items():
            if isinstance(key, str) and key.lower() == name and isinstance(items, list) and len(items) != 1:
                return None
    if len(values) != 1 or not isinstance(values[0], str):
        return None
    return values[0]


def _matches(sent: str, expected: str | None) -> bool:
    """Constant-time comparison; an empty or missing expected value never matches."""
    if not expected:
        return False
    return hmac.compare_digest(
        sent.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    )


def verify_origin(event: Mapping[str, Any], origin_secret: SecretStages) -> None:
    """Raise ``OriginSecretMismatchError`` unless ``X-Origin-Verify`` holds the current or the
    previous value of the origin secret. The sent value is never logged or echoed.

    ``SecretUnavailableError`` from the secret passes through (503: our fault, not the caller's).
    """
    sent = _header(event, ORIGIN_VERIFY_HEADER)
    if not sent:
        raise OriginSecretMismatchError("the request did not come through the distribution")
    for stage in ACCEPTED_STAGES:
        if _matches(sent, origin_secret.value(stage)):
            return
    raise OriginSecretMismatchError("the request did not come through the distribution")


def viewer_address(event: Mapping[str, Any]) -> str:
    """The verified request's ``CloudFront-Viewer-Address`` host, or ``ViewerAddressError``."""
    raw = _header(event, VIEWER_ADDRESS_HEADER)
    if raw is None:
        raise ViewerAddressError("the distribution sent no viewer address")
    address = parse_viewer_address(raw)
    if address is None:
        raise ViewerAddressError("the distribution sent an unusable viewer address")
    return address


def resolve_client_address(
    event: Mapping[str, Any], settings: ClientAddressSettings, origin_secret: SecretStages | None
) -> str:
    """The end user's address for ``auth0-forwarded-for``: the one entry point of this module.

    Raises ``ClientAddressError`` (request-context mode, no usable address), or in CloudFront mode
    ``OriginSecretMismatchError`` / ``ViewerAddressError`` (both ``OriginNotVerifiedError``).
    """
    if settings.source == REQUEST_CONTEXT:
        address = source_ip(event)
        if address is None:
            raise ClientAddressError("the request context holds no usable source address")
        return address
    if origin_secret is None:
        raise ClientAddressError("CloudFront mode without an origin secret to verify requests")
    verify_origin(event, origin_secret)
    return viewer_address(event)


class ClientAddressResolver:
    """``resolve_client_address`` bound to one container's settings and cached origin secret."""

    def __init__(self, settings: ClientAddressSettings, origin_secret: SecretStages | None = None) -> None:
        self.settings = settings
        self._origin_secret = origin_secret

    @classmethod
    def for_api(cls, api: ApiSettings) -> ClientAddressResolver:
        """The resolver of an API function; the secret is read on the first request, not here."""
        settings = api.client_address
        if settings.origin_verify_secret_id is None:
            return cls(settings)
        from ropguard.credentials import CachedSecret, secret_reader  # noqa: PLC0415 - CloudFront mode only

        secret = CachedSecret(
            settings.origin_verify_secret_id,
            max_age_seconds=api.auth0.secret_max_age_seconds,
            reader=secret_reader(api.auth0.secrets),
        )
        return cls(settings, secret)

    def resolve(self, event: Mapping[str, Any]) -> str:
        return resolve_client_address(event, self.settings, self._origin_secret)
