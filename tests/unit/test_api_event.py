"""ropguard.api_event: both payload versions read into one typed view."""

from __future__ import annotations

from ropguard.api_event import read_event
from tests.fixtures.login import http_api_event, rest_api_event


def test_payload_2_0() -> None:
    event = read_event(http_api_event("{}", headers={"X-Custom": "1"}, request_id="r-2"))
    assert (event.version, event.method, event.route_key, event.request_id) == (
        "2.0",
        "POST",
        "POST /login",
        "r-2",
    )
    assert event.header("x-custom") == event.header("X-CUSTOM") == "1"
    assert event.body == "{}"


def test_payload_1_0_uses_the_resource_for_the_route() -> None:
    raw = rest_api_event("a=b", request_id="r-1")
    raw["resource"], raw["path"] = "/token/refresh", "/prod/token/refresh"
    event = read_event(raw)
    assert (event.version, event.route_key, event.request_id) == ("1.0", "POST /token/refresh", "r-1")
    assert event.header("content-type") == "application/json"


def test_odd_events_become_empty_values_not_errors() -> None:
    event = read_event({"version": "2.0", "headers": None, "requestContext": "x", "isBase64Encoded": "true"})
    assert (event.method, event.request_id, dict(event.headers)) == ("", "", {})
    assert event.is_base64_encoded is False


def test_the_body_is_never_in_the_repr() -> None:
    assert "s3cret-body" not in repr(read_event(http_api_event("s3cret-body")))
