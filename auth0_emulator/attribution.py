"""Which IP a token request is attributed to: the decision every IP-keyed protection rests on."""

from __future__ import annotations

from dataclasses import dataclass

from auth0_emulator.addresses import normalise_ip, parse_ip
from auth0_emulator.clients import ClientConfig


@dataclass(frozen=True)
class Attribution:
    ip: str
    source: str  # "header" or "peer"
    reason: str


def attribute_ip(
    peer_ip: str, forwarded_for: str | None, client: ClientConfig | None, secret_verified: bool
) -> Attribution:
    """Honour ``auth0-forwarded-for`` only for a confidential, trusted client that proved its secret.

    Anything else falls back to the TCP peer with no error, as Auth0 does; an invalid header value
    (Auth0 documents nothing) is ignored the same way, so a bad header can never pick a fresh IP.
    """
    peer = normalise_ip(peer_ip)
    if forwarded_for is None:
        return Attribution(peer, "peer", "no auth0-forwarded-for header")
    if client is None:
        return Attribution(peer, "peer", "header ignored: unknown client")
    if not client.is_confidential:
        return Attribution(peer, "peer", "header ignored: client auth method is none")
    if not secret_verified:
        return Attribution(peer, "peer", "header ignored: client did not authenticate with its secret")
    if not client.is_token_endpoint_ip_header_trusted:
        return Attribution(peer, "peer", "header ignored: is_token_endpoint_ip_header_trusted is false")
    address = parse_ip(forwarded_for)
    if address is None:
        return Attribution(peer, "peer", "header ignored: not exactly one valid IP address")
    return Attribution(str(address), "header", "trusted confidential client sent auth0-forwarded-for")
