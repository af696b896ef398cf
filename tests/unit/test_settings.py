"""ropguard.settings: AUTH0_DOMAIN is a host name (IDNA) or IP address with an optional port."""

from __future__ import annotations

import pytest

from ropguard.errors import ConfigurationError
from ropguard.settings import host_name, read_auth0_base_url


def base_url(domain: str, insecure: frozenset[str] = frozenset()) -> str:
    return read_auth0_base_url({"AUTH0_DOMAIN": domain}, "AUTH0_DOMAIN", insecure)


@pytest.mark.parametrize(
    ("domain", "expected"),
    [
        ("tenant.auth0.com", "https://tenant.auth0.com"),
        ("TENANT.Auth0.com", "https://tenant.auth0.com"),
        ("https://tenant.auth0.com/", "https://tenant.auth0.com"),
        ("login.example.com:8443", "https://login.example.com:8443"),
        ("bücher.example", "https://xn--bcher-kva.example"),
        ("http://127.0.0.1:4000", "http://127.0.0.1:4000"),
        ("http://[::1]:4000", "http://[::1]:4000"),
    ],
)
def test_host_names_and_addresses_are_accepted(domain: str, expected: str) -> None:
    assert base_url(domain) == expected


@pytest.mark.parametrize(
    "domain",
    [
        "https://tenant.auth0.com;x=y",
        "tenant .auth0.com",
        "tenant.auth0.com\nevil.example",
        "tenant.auth0.com\tevil.example",
        "tenant.auth0.com\u200b",
        "-tenant.auth0.com",
        "tenant..auth0.com",
        "tenant_1.auth0.com",
        "tenant.auth0.com:0",
        "https://[fe80::1%25eth0]",
        "a" * 64 + ".example",
    ],
)
def test_anything_else_is_refused_at_start(domain: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        base_url(domain)
    assert raised.value.variable == "AUTH0_DOMAIN"
    assert "\n" not in str(raised.value)


def test_plain_http_only_for_loopback_or_named_hosts() -> None:
    with pytest.raises(ConfigurationError, match="plain http"):
        base_url("http://tenant.auth0.com")
    assert base_url("http://emulator.internal:4000", frozenset({"emulator.internal"})) == (
        "http://emulator.internal:4000"
    )


def test_host_name() -> None:
    assert host_name("Tenant.EU.auth0.com") == "tenant.eu.auth0.com"
    assert host_name("::ffff:7f00:1") == "::ffff:7f00:1"
    assert host_name("tenant.auth0.com;x=y") is None
