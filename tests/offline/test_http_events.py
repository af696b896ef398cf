"""Requests become payload format 2.0 events, and results become responses, as API Gateway does."""

from __future__ import annotations

import base64
import json

import pytest
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from ropguard_offline.http_events import (
    ApiStage,
    MalformedResultError,
    RouteTable,
    add_cors,
    build_event,
    cors_preflight,
    to_response,
)
from ropguard_offline.template import CorsConfig, HttpRoute

STAGE = ApiStage(api_id="abc123defg", account_id="123456789012", region="eu-west-1")


def route(key: str) -> HttpRoute:
    method, path = key.split(" ", 1)
    return HttpRoute("api", method, path)


ROUTES = RouteTable(
    route(key) for key in ("POST /login", "GET /login", "GET /items/{id}", "GET /items/special", "PUT /f/{n}")
)


@pytest.mark.parametrize(
    ("method", "path", "expected", "parameters"),
    [
        ("POST", "/login", "POST /login", {}),
        ("GET", "/login", "GET /login", {}),
        ("GET", "/items/42", "GET /items/{id}", {"id": "42"}),
        ("GET", "/items/special", "GET /items/special", {}),
        ("PUT", "/f/a", "PUT /f/{n}", {"n": "a"}),
    ],
)
def test_route_selection(method: str, path: str, expected: str, parameters: dict[str, str]) -> None:
    match = ROUTES.match(method, path)
    assert match is not None
    assert (match[0].route_key, match[1]) == (expected, parameters)


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/items/42"), ("PUT", "/f/a/b"), ("GET", "/f/a"), ("GET", "/Login")]
)
def test_unmatched_requests_have_no_route(method: str, path: str) -> None:
    assert ROUTES.match(method, path) is None


HEADERS = [
    ("Host", "127.0.0.1:3000"),
    ("Content-Type", "application/json"),
    ("X-Repeated", "one,two"),  # as werkzeug's server joins repeats
    ("Cookie", "a=1; b=2"),
    ("User-Agent", "curl/8"),
    ("X-Forwarded-For", "203.0.113.9"),
    ("Connection", "keep-alive"),
]


def event_for(
    body: bytes = b'{"username": "alice"}',
    headers: list[tuple[str, str]] = HEADERS,
    target: str = "/login?a=1&a=2&empty=",
    extra: dict[str, str] | None = None,
) -> dict[str, object]:
    path, _, query = target.partition("?")
    environ = EnvironBuilder(
        path=path,
        query_string=query,
        method="POST",
        headers=headers,
        data=body,
        environ_base={"REMOTE_ADDR": "127.0.0.5"},
    ).get_environ()
    match = ROUTES.match("POST", path)
    assert match is not None
    request = Request(environ)
    return build_event(
        request, match[0], match[1], STAGE, "req-1", body=body, extra_headers=extra, now=1_583_348_638.390
    )


def test_event_has_the_payload_2_shape() -> None:
    event = event_for()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "POST /login"
    assert event["rawPath"] == "/login"
    assert event["rawQueryString"] == "a=1&a=2&empty="
    assert event["queryStringParameters"] == {"a": "1,2", "empty": ""}
    assert event["cookies"] == ["a=1", "b=2"]
    assert event["body"] == '{"username": "alice"}'
    assert event["isBase64Encoded"] is False
    assert "pathParameters" not in event
    assert event["requestContext"] == {
        "accountId": "123456789012",
        "apiId": "abc123defg",
        "domainName": "abc123defg.execute-api.eu-west-1.amazonaws.com",
        "domainPrefix": "abc123defg",
        "http": {
            "method": "POST",
            "path": "/login",
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.5",
            "userAgent": "curl/8",
        },
        "requestId": "req-1",
        "routeKey": "POST /login",
        "stage": "$default",
        "time": "04/Mar/2020:19:03:58 +0000",
        "timeEpoch": 1583348638390,
    }


def test_headers_are_lower_cased_joined_and_stripped_of_cookies_and_hop_by_hop() -> None:
    headers = event_for()["headers"]
    assert isinstance(headers, dict)
    assert headers["x-repeated"] == "one,two"
    assert headers["content-type"] == "application/json"
    assert "cookie" not in headers
    assert "connection" not in headers
    assert all(name == name.lower() for name in headers)


def test_source_ip_is_the_peer_and_forwarded_for_only_gets_it_appended() -> None:
    event = event_for(headers=[("X-Forwarded-For", "203.0.113.9"), ("auth0-forwarded-for", "198.51.100.1")])
    context = event["requestContext"]
    assert isinstance(context, dict)
    assert context["http"]["sourceIp"] == "127.0.0.5"
    headers = event["headers"]
    assert isinstance(headers, dict)
    assert headers["x-forwarded-for"] == "203.0.113.9, 127.0.0.5"


def test_binary_bodies_are_base64_encoded() -> None:
    body = b"\x89PNG\x00\xff"
    event = event_for(body, [("Content-Type", "image/png")])
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(str(event["body"])) == body
    undecodable = event_for(b"\xff\xfe", [("Content-Type", "text/plain")])
    assert undecodable["isBase64Encoded"] is True


def test_form_bodies_stay_text_and_empty_bodies_are_absent() -> None:
    form = event_for(b"a=b", [("Content-Type", "application/x-www-form-urlencoded")])
    assert (form["body"], form["isBase64Encoded"]) == ("a=b", False)
    empty = event_for(b"", target="/login")
    assert "body" not in empty
    assert "queryStringParameters" not in empty


def test_structured_results_become_responses() -> None:
    response = to_response(
        {
            "statusCode": 429,
            "headers": {"Retry-After": "30"},
            "multiValueHeaders": {"x-multi": ["a", "b"]},  # payload format 1.0's: ignored
            "cookies": ["s=1; HttpOnly"],
            "body": '{"error": "too_many_requests"}',
        },
        "req-1",
    )
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "30"
    assert "x-multi" not in response.headers
    assert response.headers["set-cookie"] == "s=1; HttpOnly"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["apigw-requestid"] == "req-1"
    assert json.loads(response.get_data()) == {"error": "too_many_requests"}


def test_base64_results_are_decoded() -> None:
    response = to_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}, "r"
    )
    assert response.get_data() == b"\x00\x01"


@pytest.mark.parametrize(("result", "body"), [({"a": 1}, b'{"a": 1}'), ("text", b"text"), (None, b"null")])
def test_results_without_status_code_are_200_json(result: object, body: bytes) -> None:
    response = to_response(result, "r")
    assert (response.status_code, response.get_data()) == (200, body)
    assert response.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    "result",
    [
        {"statusCode": "teapot"},
        {"statusCode": 700},
        {"statusCode": 200, "body": 5},
        {"statusCode": 200, "body": "*", "isBase64Encoded": True},
    ],
)
def test_malformed_results_are_refused(result: object) -> None:
    with pytest.raises(MalformedResultError):
        to_response(result, "r")


CORS = CorsConfig(
    allow_origins=("https://app.example.com",),
    allow_methods=("GET", "POST"),
    allow_headers=("authorization", "content-type"),
    max_age=600,
)


def preflight_request(origin: str, method: str = "POST", headers: str = "content-type") -> Request:
    asked = {
        "origin": origin,
        "access-control-request-method": method,
        "access-control-request-headers": headers,
    }
    return Request(EnvironBuilder(method="OPTIONS", path="/login", headers=asked).get_environ())


def test_a_preflight_from_an_allowed_origin_gets_the_configuration() -> None:
    response = cors_preflight(CORS, preflight_request("https://app.example.com"), "r")
    assert (response.status_code, response.get_data()) == (204, b"")
    assert {name.lower(): value for name, value in response.headers.items()} == {
        "apigw-requestid": "r",
        "access-control-allow-origin": "https://app.example.com",
        "access-control-allow-methods": "GET,POST",
        "access-control-allow-headers": "authorization,content-type",
        "access-control-max-age": "600",
    }


def test_a_preflight_from_another_origin_gets_no_cors_headers() -> None:
    response = cors_preflight(CORS, preflight_request("https://evil.example"), "r")
    assert response.status_code == 204
    assert not [name for name, _ in response.headers.items() if name.lower().startswith("access-control-")]


def test_wildcards_allow_any_origin_and_what_the_preflight_asks_for() -> None:
    wide = CorsConfig(
        allow_origins=("*",), allow_methods=("*",), allow_headers=("*",), allow_credentials=True
    )
    response = cors_preflight(wide, preflight_request("https://any.example", "DELETE", "x-custom"), "r")
    assert response.headers["access-control-allow-origin"] == "*"
    assert response.headers["access-control-allow-methods"] == "DELETE"
    assert response.headers["access-control-allow-headers"] == "x-custom"
    assert response.headers["access-control-allow-credentials"] == "true"
    assert "access-control-max-age" not in response.headers


def test_an_answer_gets_the_configurations_cors_headers_and_never_the_functions_own() -> None:
    result = {"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*", "x-kept": "1"}, "body": "{}"}
    exposed = CorsConfig(allow_origins=("https://app.example.com",), expose_headers=("x-kept",))
    allowed = to_response(result, "r")
    add_cors(allowed, exposed, "https://app.example.com")
    assert allowed.headers.get_all("access-control-allow-origin") == ["https://app.example.com"]
    assert (allowed.headers["access-control-expose-headers"], allowed.headers["x-kept"]) == ("x-kept", "1")
    refused = to_response(result, "r")
    add_cors(refused, exposed, "https://evil.example")
    assert "access-control-allow-origin" not in refused.headers
