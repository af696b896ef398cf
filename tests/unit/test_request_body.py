"""ropguard.request_body: every body rule, and the JSON-sent-as-a-form hint."""

from __future__ import annotations

import pytest

from ropguard.api_event import read_event
from ropguard.errors import InvalidRequestError
from ropguard.request_body import (
    JSON_NEEDS_CONTENT_TYPE,
    body_fields,
    checked_string,
    optional_string_field,
    scope_field,
    string_field,
)
from tests.fixtures.login import b64, http_api_event

FORM = "application/x-www-form-urlencoded"


def fields_of(body: str, content_type: str | None = "application/json", **options: bool) -> dict[str, object]:
    return body_fields(read_event(http_api_event(body, content_type=content_type, **options)), 256)


def test_json_form_and_base64_bodies() -> None:
    assert fields_of('{"a": "1"}') == {"a": "1"}
    assert fields_of("a=1&b=", FORM) == {"a": "1", "b": ""}
    assert fields_of(b64('{"a": "1"}'), base64_encoded=True) == {"a": "1"}


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        ('{"a": "1"}', None, "Content-Type header is required"),
        ('{"a": "1"}', "text/plain", "unsupported Content-Type 'text/plain'"),
        ('{"a": "1"}', "application/json; charset=latin-1", "unsupported charset"),
        ("", "application/json", "the request body is empty"),
        ("x" * 300, "application/json", "exceeds 256 bytes"),
        ("[1]", "application/json", "must be a JSON object"),
        ('{"a": 1, "a": 2}', "application/json", "field 'a' is given more than once"),
        ("{", "application/json", "not valid JSON"),
        ("a=1&a=2", FORM, "field 'a' is given more than once"),
        ("a&&b", FORM, "not a valid form"),
        ('{"username": "a", "password": "b"}', FORM, JSON_NEEDS_CONTENT_TYPE),
        (' [ "x" ] ', FORM, "JSON needs content-type: application/json"),
    ],
)
def test_bad_bodies_are_described(body: str, content_type: str | None, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fields_of(body, content_type)


def test_a_form_value_with_braces_is_still_a_form() -> None:
    assert fields_of("a=%7Bx%7D", FORM) == {"a": "{x}"}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (42, "field 'f' must be a string"),
        ("", "field 'f' must not be empty"),
        ("x" * 11, "field 'f' is longer than 10 characters"),
        ("a\x00", "field 'f' contains a NUL character"),
        ("\ud800", "not valid Unicode"),
    ],
)
def test_string_rules_name_the_field_never_the_value(value: object, message: str) -> None:
    with pytest.raises(InvalidRequestError, match=message) as caught:
        string_field({"f": value}, "f", 10)
    if isinstance(value, str) and value:
        assert value not in str(caught.value)


def test_missing_and_null_are_both_not_given() -> None:
    with pytest.raises(InvalidRequestError, match="field 'f' is required"):
        string_field({"f": None}, "f", 10)
    assert optional_string_field({}, "f", 10) is None
    assert checked_string("ok", "x", 10) == "ok"


def test_scope_is_a_deduplicated_subset_or_none() -> None:
    allowed = ("openid", "offline_access")
    assert scope_field({}, allowed) is None
    assert scope_field({"scope": "openid openid offline_access"}, allowed) == "openid offline_access"
    for bad, message in ((" ", "must not be empty"), ("admin", "subset of"), (3, "must be a string")):
        with pytest.raises(InvalidRequestError, match=message):
            scope_field({"scope": bad}, allowed)
