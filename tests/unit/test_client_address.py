"""The end-user address in both modes: viewer-address parsing, origin verification, settings.

The origin secret here is a small in-memory stand-in for ``CachedSecret`` (a dependency, not the
code under test); the real reader runs against moto's server in the integration suite.
"""

from __future__ import annotations

from typing import Any

import pytest

from ropguard.client_address import (
    ClientAddressResolver,
    parse_viewer_address,
    resolve_client_address,
    verify_origin,
)
from ropguard.errors import (
    ClientAddressError,
    ConfigurationError,
    OriginNotVerifiedError,
    OriginSecretMismatchError,
    RequestError,
    ViewerAddressError,
)
from ropguard.settings import CLOUDFRONT, REQUEST_CONTEXT, ApiSettings, ClientAddressSettings
from tests.fixtures.secret_hygiene import SECRETS

CURRENT = "origin-secret-current-0123456789abcdef"
PREVIOUS = "origin-secret-previous-0123456789abcdef"
SECRETS.add("origin_secret", CURRENT, PREVIOUS)

CLOUDFRONT_SETTINGS = ClientAddressSettings(CLOUDFRONT, "ropguard/origin-verify")


class Stages:
    """Stage name -> value, counting reads (what ``CachedSecret.value`` answers)."""

    def __init__(self, **stages: str | None) -> None:
        self.stages = stages
        self.reads: list[str] = []

    def value(self, stage: str = "AWSCURRENT", *, refresh: bool = False) -> str | None:
        self.reads.append(stage)
        return self.stages.get(stage)


def v2_event(headers: dict[str, str], source_ip: str = "130.176.0.1") -> dict[str, Any]:
    """A payload 2.0 event as API Gateway builds it behind CloudFront (edge address as source)."""
    return {"version": "2.0", "headers": headers, "requestContext": {"http": {"sourceIp": source_ip}}}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("198.51.100.10:46532", "198.51.100.10"),
        ("198.51.100.10:0", "198.51.100.10"),
        ("198.51.100.10:65535", "198.51.100.10"),
        ("2001:db8::8a2e:370:7334:46532", "2001:db8::8a2e:370:7334"),
        ("2001:DB8:0:0:0:8A2E:370:7334:443", "2001:db8::8a2e:370:7334"),
        ("2001:db8::7:46532", "2001:db8::7"),
        ("::ffff:198.51.100.10:443", "198.51.100.10"),
        ("::1:443", "::1"),
        ("198.51.100.10", None),  # no port
        ("198.51.100.10:", None),
        ("198.51.100.10:65536", None),
        ("198.51.100.10:123456", None),
        ("198.51.100.10:-1", None),
        ("198.51.100.10:+443", None),
        ("198.51.100.10:\uff14\uff14\uff13", None),  # non-ASCII digits
        ("198.51.100.10:443 ", None),
        (" 198.51.100.10:443", None),
        ("[2001:db8::7]:443", None),  # CloudFront does not bracket
        ("2001:db8::7", None),  # IPv6 without a port: "2001:db8:" is no address
        ("fe80::1%eth0:443", None),
        ("198.51.100.10/32:443", None),
        ("198.51.100.10:443,203.0.113.7:443", None),  # a repeated header, joined
        ("0.0.0.0:443", None),
        ("not-an-ip:443", None),
        (":443", None),
        ("", None),
        (None, None),
        (443, None),
    ],
)
def test_parse_viewer_address(raw: object, expected: str | None) -> None:
    assert parse_viewer_address(raw) == expected


def test_current_secret_verifies_without_reading_the_previous_one() -> None:
    stages = Stages(AWSCURRENT=CURRENT, AWSPREVIOUS=PREVIOUS)
    verify_origin(v2_event({"x-origin-verify": CURRENT}), stages)
    assert stages.reads == ["AWSCURRENT"]


def test_previous_secret_verifies_during_a_rotation() -> None:
    stages = Stages(AWSCURRENT=CURRENT, AWSPREVIOUS=PREVIOUS)
    verify_origin(v2_event({"x-origin-verify": PREVIOUS}), stages)
    assert stages.reads == ["AWSCURRENT", "AWSPREVIOUS"]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-origin-verify": ""},
        {"x-origin-verify": "guessed"},
        {"x-origin-verify": CURRENT[:-1]},
        {"x-origin-verify": CURRENT + "x"},
        {"x-origin-verify": f"{CURRENT},{CURRENT}"},  # payload 2.0 joins a repeated header
        {"x-origin-verify": f" {CURRENT}"},
        {"x-origin-verify": "ünïcode-guess"},
        {"x-origin-verify": "\udcff-lone-surrogate"},
        {"X-Origin-Verify": CURRENT, "x-origin-verify": "guessed"},  # two spellings: ambiguous
        {"x-origin-verify-2": CURRENT},
    ],
)
def test_missing_or_wrong_secret_is_refused(headers: dict[str, str]) -> None:
    with pytest.raises(OriginSecretMismatchError) as raised:
        verify_origin(v2_event(headers), Stages(AWSCURRENT=CURRENT, AWSPREVIOUS=PREVIOUS))
    assert str(raised.value) == "the request did not come through the distribution"
    assert isinstance(raised.value, OriginNotVerifiedError)
    assert isinstance(raised.value, RequestError)


def test_missing_previous_stage_is_fine() -> None:
    stages = Stages(AWSCURRENT=CURRENT)  # before the first rotation there is no AWSPREVIOUS
    verify_origin(v2_event({"x-origin-verify": CURRENT}), stages)
    with pytest.raises(OriginSecretMismatchError):
        verify_origin(v2_event({"x-origin-verify": PREVIOUS}), stages)


def test_an_empty_secret_never_matches() -> None:
    with pytest.raises(OriginSecretMismatchError):
        verify_origin(v2_event({"x-origin-verify": ""}), Stages(AWSCURRENT="", AWSPREVIOUS=None))


def test_header_names_are_case_insensitive_in_payload_1() -> None:
    event = {
        "headers": {"X-Origin-Verify": CURRENT, "CloudFront-Viewer-Address": "203.0.113.7:443"},
        "multiValueHeaders": {"X-Origin-Verify": [CURRENT], "CloudFront-Viewer-Address": ["203.0.113.7:443"]},
        "requestContext": {"identity": {"sourceIp": "130.176.0.1"}},
    }
    assert resolve_client_address(event, CLOUDFRONT_SETTINGS, Stages(AWSCURRENT=CURRENT)) == "203.0.113.7"


def test_repeated_values_in_payload_1_are_refused() -> None:
    event = {
        "headers": {"X-Origin-Verify": CURRENT},
        "multiValueHeaders": {"X-Origin-Verify": ["guessed", CURRENT]},
        "requestContext": {"identity": {"sourceIp": "130.176.0.1"}},
    }
    with pytest.raises(OriginSecretMismatchError):
        verify_origin(event, Stages(AWSCURRENT=CURRENT))


@pytest.mark.parametrize(
    ("viewer", "expected"),
    [
        ("198.51.100.10:46532", "198.51.100.10"),
        ("2001:db8::8a2e:370:7334:46532", "2001:db8::8a2e:370:7334"),
    ],
)
def test_cloudfront_mode_takes_the_verified_viewer_address(viewer: str, expected: str) -> None:
    headers = {
        "x-origin-verify": CURRENT,
        "cloudfront-viewer-address": viewer,
        "x-forwarded-for": "192.0.2.1",
    }
    assert (
        resolve_client_address(v2_event(headers), CLOUDFRONT_SETTINGS, Stages(AWSCURRENT=CURRENT)) == expected
    )


@pytest.mark.parametrize("viewer", [None, "", "garbage", "198.51.100.10", "[2001:db8::7]:443"])
def test_verified_request_without_a_usable_viewer_address_fails_closed(viewer: str | None) -> None:
    headers = {"x-origin-verify": CURRENT}
    if viewer is not None:
        headers["cloudfront-viewer-address"] = viewer
    with pytest.raises(ViewerAddressError) as raised:
        resolve_client_address(v2_event(headers), CLOUDFRONT_SETTINGS, Stages(AWSCURRENT=CURRENT))
    assert isinstance(raised.value, OriginNotVerifiedError)
    assert viewer is None or viewer == "" or viewer not in str(raised.value)


def test_secret_is_checked_before_the_viewer_address() -> None:
    """A forged request learns nothing about the address check: the secret fails first."""
    headers = {"x-origin-verify": "guessed", "cloudfront-viewer-address": "garbage"}
    with pytest.raises(OriginSecretMismatchError):
        resolve_client_address(v2_event(headers), CLOUDFRONT_SETTINGS, Stages(AWSCURRENT=CURRENT))


def test_request_context_mode_ignores_cloudfront_headers() -> None:
    headers = {"x-origin-verify": CURRENT, "cloudfront-viewer-address": "198.51.100.10:46532"}
    settings = ClientAddressSettings()
    stages = Stages(AWSCURRENT=CURRENT)
    assert resolve_client_address(v2_event(headers, "203.0.113.9"), settings, stages) == "203.0.113.9"
    assert stages.reads == []
    with pytest.raises(ClientAddressError):
        resolve_client_address({"version": "2.0", "headers": headers, "requestContext": {}}, settings, None)


def test_cloudfront_mode_never_falls_back_to_the_request_context() -> None:
    with pytest.raises(ClientAddressError):
        resolve_client_address(v2_event({"x-origin-verify": CURRENT}), CLOUDFRONT_SETTINGS, None)


def test_settings_from_env() -> None:
    assert ClientAddressSettings.from_env({}) == ClientAddressSettings(REQUEST_CONTEXT)
    assert (
        ClientAddressSettings.from_env({"CLIENT_ADDRESS_SOURCE": "request-context"}).source == REQUEST_CONTEXT
    )
    cloudfront = ClientAddressSettings.from_env(
        {"CLIENT_ADDRESS_SOURCE": "cloudfront", "ORIGIN_VERIFY_SECRET_ID": "arn:x"}
    )
    assert cloudfront == ClientAddressSettings(CLOUDFRONT, "arn:x")


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"CLIENT_ADDRESS_SOURCE": "x-forwarded-for"}, "CLIENT_ADDRESS_SOURCE"),
        ({"CLIENT_ADDRESS_SOURCE": "CloudFront"}, "CLIENT_ADDRESS_SOURCE"),
        ({"CLIENT_ADDRESS_SOURCE": "cloudfront"}, "ORIGIN_VERIFY_SECRET_ID"),
        ({"CLIENT_ADDRESS_SOURCE": "cloudfront", "ORIGIN_VERIFY_SECRET_ID": " "}, "ORIGIN_VERIFY_SECRET_ID"),
    ],
)
def test_settings_errors_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        ClientAddressSettings.from_env(env)
    assert raised.value.variable == variable


def test_resolver_reads_no_secret_until_the_first_request() -> None:
    """Building the resolver (container start) makes no AWS call; request-context mode has no secret."""
    base = {"AUTH0_DOMAIN": "tenant.auth0.com", "AUTH0_SECRET_ID": "s", "SECRET_MAX_AGE_SECONDS": "60"}
    assert ClientAddressResolver.for_api(ApiSettings.from_env(base))._origin_secret is None
    cloudfront = {"CLIENT_ADDRESS_SOURCE": "cloudfront", "ORIGIN_VERIFY_SECRET_ID": "ropguard/origin-verify"}
    resolver = ClientAddressResolver.for_api(ApiSettings.from_env({**base, **cloudfront}))
    assert resolver._origin_secret is not None
    assert resolver._origin_secret._max_age == 60  # type: ignore[attr-defined] # SECRET_MAX_AGE_SECONDS, read once
    assert resolver.settings.source == CLOUDFRONT
