"""Which TLS verification a client gets, so plain-http clients skip the CA bundle.

Loading certifi's CA bundle costs tens of milliseconds of a cold start per client, for nothing when
the client never speaks TLS: the extension on localhost, or a loopback Auth0 emulator. Such clients
get a context that still requires a certificate and a matching host name but trusts no CA, so an
https URL reaching them would fail its handshake: closed, never silently unverified.
"""

from __future__ import annotations

import ssl


def tls_context_for(base_url: str) -> ssl.SSLContext | bool:
    """For httpx: ``True`` (httpx's default: verify against certifi's bundle) for https; no-CA otherwise."""
    if base_url.lower().startswith("https://"):
        return True
    return no_ca_context()


def ssl_context_for(base_url: str) -> ssl.SSLContext:
    """For ``ropguard.http_pool``: what httpx builds for ``verify=True`` for https (certificate and
    host name checked against certifi's bundle), a no-CA context otherwise.

    Unlike httpx's transport it never reads ``SSL_CERT_FILE`` or ``SSL_CERT_DIR``: like proxies, the
    trusted roots are not the environment's to change.
    """
    if base_url.lower().startswith("https://"):
        import certifi  # noqa: PLC0415 - only https clients load the bundle

        return ssl.create_default_context(cafile=certifi.where())
    return no_ca_context()


def no_ca_context() -> ssl.SSLContext:
    """Requires a certificate and a matching host name (PROTOCOL_TLS_CLIENT) but trusts no CA."""
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
