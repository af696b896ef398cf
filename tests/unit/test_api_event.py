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


def test_cookies_of_payload_2_0_come_from_its_list() -> None:
    raw = http_api_event("{}", headers={"cookie": "ignored=1"})
    raw["cookies"] = ["__Host-rt=sealed-value-never-in-repr", "theme=dark", "broken", "=x", 7]
    event = read_event(raw)
    assert event.cookie("__Host-rt") == "sealed-value-never-in-repr"
    assert event.cookie("theme") == "dark"
    assert event.cookie("THEME") is None  # cookie names are case-sensitive
    assert event.cookie("ignored") is None
    assert "sealed-value-never-in-repr" not in repr(event)


def test_cookies_of_payload_1_0_come_from_the_header_and_the_first_repeat_wins() -> None:
    event = read_event(rest_api_event("{}", headers={"Cookie": "a=1; __Host-rt=first; __Host-rt=second"}))
    assert (event.cookie("a"), event.cookie("__Host-rt")) == ("1", "first")


def test_no_cookies_is_none() -> None:
    assert read_event(http_api_event("{}")).cookie("__Host-rt") is None
