"""IP address parsing and allowlists: one place decides what counts as "the same address"."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_ip(text: str) -> IPAddress | None:
    """Parse one address; IPv4-mapped IPv6 becomes IPv4 so both spellings share one counter."""
    candidate = text.strip()
    if not candidate or candidate != text:
        return None
    try:
        address = ipaddress.ip_address(candidate)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address):
        if address.scope_id is not None:
            return None
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
    return address


def normalise_ip(text: str) -> str:
    """Canonical text of an address we already trust to be valid (e.g. a TCP peer)."""
    address = parse_ip(text)
    return str(address) if address is not None else text


@dataclass(frozen=True)
class Allowlist:
    """IPs and CIDR ranges exempt from a protection (IPv4 and IPv6, as Auth0 accepts)."""

    entries: tuple[str, ...]
    networks: tuple[IPNetwork, ...]

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        """Raise ``ValueError`` naming the first entry that is neither an address nor a CIDR range."""
        texts = tuple(entries)
        networks: list[IPNetwork] = []
        for entry in texts:
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError as exc:
                raise ValueError(f"not an IP address or CIDR range: {entry!r}") from exc
        return cls(entries=texts, networks=tuple(networks))

    def contains(self, ip: str) -> bool:
        address = parse_ip(ip)
        if address is None:
            return False
        return any(address.version == net.version and address in net for net in self.networks)
