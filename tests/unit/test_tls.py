"""ropguard.tls: https is verified against certifi's bundle; plain http gets a context trusting no CA."""

from __future__ import annotations

import ssl

import pytest

from ropguard.tls import ssl_context_for, tls_context_for


def test_https_is_verified_against_certifis_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", "/nonexistent/roots.pem")  # not the environment's to change
    context = ssl_context_for("HTTPS://tenant.eu.auth0.com")
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.cert_store_stats()["x509_ca"] > 0


def test_plain_http_trusts_no_ca_but_still_requires_a_certificate() -> None:
    for context in (ssl_context_for("http://127.0.0.1:4000"), tls_context_for("http://localhost:2773")):
        assert isinstance(context, ssl.SSLContext)
        assert context.verify_mode == ssl.CERT_REQUIRED
        assert context.check_hostname
        assert context.cert_store_stats()["x509_ca"] == 0


def test_httpx_clients_keep_httpxs_own_verification_for_https() -> None:
    assert tls_context_for("https://tenant.eu.auth0.com") is True
