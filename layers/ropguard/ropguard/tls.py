"""Which TLS verification an httpx client gets, so plain-http clients skip the CA bundle.

Loading certifi's CA bundle costs tens of milliseconds of a cold start per client, for nothing when
the client never speaks TLS: the extension on localhost, or a loopback Auth0 emulator. Such clients
get a context that still requires a certificate and a matching host name but trusts no CA, so an
https URL reaching them would fail its handshake: closed, never silently unverified.
"""

from __future__ import annotations

import ssl


def tls_context_for(base_url: str) -> ssl.SSLContext | bool:
    """``True`` (httpx's default: verify against certifi's bundle) for https; a no-CA context otherwise."""
    if base_url.lower().startswith("https://"):
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
