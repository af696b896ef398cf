"""The end user's IP address, taken only from the request context API Gateway writes.

Headers such as X-Forwarded-For or auth0-forwarded-for are written by the client; trusting them
would let an attacker pick a fresh address per attempt and defeat Auth0's per-IP protections.
"""

from __future__ import annotations

import ipaddress
from typing import Any


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


def source_ip(event: dict[str, Any]) -> str | None:
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
