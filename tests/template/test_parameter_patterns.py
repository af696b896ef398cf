"""The template's AllowedPatterns refuse what CloudFormation should never pass to the functions:
Auth0Domain is a host name and an optional port, AllowedOrigins a list of exact origins."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ropguard_offline.template import load_yaml
from tests.template.sam_translation import ROOT


def allowed_by_pattern(declared: dict[str, Any], value: str) -> bool:
    """Whether ``value`` matches the parameter's AllowedPattern as a whole, as CloudFormation does."""
    return re.fullmatch(str(declared["AllowedPattern"]), value) is not None


@pytest.fixture(scope="module")
def parameters() -> dict[str, Any]:
    declared: dict[str, Any] = load_yaml(ROOT / "template.yaml")["Parameters"]
    return declared


@pytest.mark.parametrize(
    "domain",
    [
        "tenant.auth0.com",
        "my-tenant.us.auth0.com",
        "login.example.com",
        "xn--bcher-kva.example",  # IDNA: bücher.example in its xn-- form
        "127.0.0.1:4000",
        "localhost:8443",
        "a.b-c.d1",
    ],
)
def test_auth0_domain_accepts_a_host_and_an_optional_port(parameters, domain: str) -> None:
    assert allowed_by_pattern(parameters["Auth0Domain"], domain)


@pytest.mark.parametrize(
    "domain",
    [
        "",
        "https://tenant.auth0.com",
        "https://tenant.auth0.com;x=y",
        "tenant .auth0.com",
        "tenant.auth0.com\nevil.example",
        "tenant.auth0.com/path",
        "tenant.auth0.com:",
        "tenant.auth0.com:port",
        "tenant.auth0.com:123456",
        "-tenant.auth0.com",
        "tenant-.auth0.com",
        "tenant..auth0.com",
        "tenant.auth0.com.",
        "user@tenant.auth0.com",
        "bücher.example",
        "tenant.auth0.com?x=1",
        "[::1]:4000",
    ],
)
def test_auth0_domain_refuses_anything_else(parameters, domain: str) -> None:
    assert not allowed_by_pattern(parameters["Auth0Domain"], domain)


@pytest.mark.parametrize(
    "origins",
    [
        "",
        "https://app.example.com",
        "https://app.example.com,https://admin.example.com:8443",
        "http://localhost:3000",
        "http://127.0.0.1:5173,https://app.example.com",
        "https://xn--bcher-kva.example",
    ],
)
def test_allowed_origins_accepts_exact_origins(parameters, origins: str) -> None:
    assert allowed_by_pattern(parameters["AllowedOrigins"], origins)


@pytest.mark.parametrize(
    "origins",
    [
        "*",
        "null",
        "https://app.example.com,*",
        "https://app.example.com,null",
        "https://*.example.com",
        "http://app.example.com",  # plain http only for local development
        "https://app.example.com/",
        "https://app.example.com/path",
        "https://app.example.com, https://admin.example.com",
        "https://app.example.com,",
        ",https://app.example.com",
        "app.example.com",
        "https://user@app.example.com",
        "https://app.example.com\nhttps://evil.example",
        "http://localhost.evil.example",
    ],
)
def test_allowed_origins_refuses_wildcards_null_and_malformed_lists(parameters, origins: str) -> None:
    assert not allowed_by_pattern(parameters["AllowedOrigins"], origins)
