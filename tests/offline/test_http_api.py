"""The local HTTP API serves the template's routes over real sockets; the source IP is the peer."""

from __future__ import annotations

import base64
import json
import logging
import socket
from collections.abc import Iterator
from dataclasses import replace
from urllib.parse import urlsplit

import httpx
import pytest

from ropguard_offline.http_api import BoundRoute, LocalHttpApi
from ropguard_offline.http_events import ApiStage
from ropguard_offline.lambda_runtime import LocalFunction
from ropguard_offline.template import CorsConfig, HttpRoute

from .conftest import FIXTURE_PARAMETERS, FIXTURE_TEMPLATE, read

pytestmark = pytest.mark.integration


def viewer_headers(host: str, port: int) -> dict[str, str]:
    return {"CloudFront-Viewer-Address": f"{host}:{port}"}


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The fixture app's routes, plus one whose function cannot even import its module."""
    specs = read(FIXTURE_TEMPLATE, **FIXTURE_PARAMETERS).functions
    runtime = next(spec for spec in specs if spec.logical_id == "RuntimeFunction")
    broken = replace(runtime, handler="broken.handler", http_routes=(HttpRoute("api", "GET", "/broken"),))
    functions = [LocalFunction(spec, {}, "us-east-1", "123456789012") for spec in [*specs, broken]]
    routes = [
        BoundRoute(route, ApiStage(route.api_id, "123456789012", "us-east-1"), function)
        for function in functions
        for route in function.spec.http_routes
    ]
    document = tmp_path_factory.mktemp("openapi") / "openapi.json"
    document.write_text('{"openapi": "3.0.3"}')
    server = LocalHttpApi(routes, port=0, openapi_document=document, viewer_headers=viewer_headers).start()
    try:
        yield server.url
    finally:
        server.stop()
        for function in functions:
            function.stop()


def client_from(address: str) -> httpx.Client:
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address))


def test_request_reaches_the_function_as_a_v2_event(api: str) -> None:
    with client_from("127.0.0.2") as client:
        response = client.post(
            f"{api}/echo?x=1",
            content=b'{"hello": "world"}',
            headers={"content-type": "application/json", "X-Forwarded-For": "203.0.113.1", "cookie": "k=v"},
        )
    assert response.status_code == 201
    assert response.headers["x-echo"] == "yes"
    assert "x-multi" not in response.headers  # multiValueHeaders: payload format 1.0's
    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2"]
    assert response.headers["apigw-requestid"]
    event = response.json()["event"]
    assert event["routeKey"] == "POST /echo"
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.2"
    assert event["requestContext"]["requestId"] == response.headers["apigw-requestid"]
    assert event["headers"]["x-forwarded-for"] == "203.0.113.1, 127.0.0.2"
    assert event["queryStringParameters"] == {"x": "1"}
    assert event["cookies"] == ["k=v"]
    assert json.loads(event["body"]) == {"hello": "world"}


def test_each_client_address_is_its_own_source_ip(api: str) -> None:
    seen = []
    for address in ("127.0.0.3", "127.0.0.4"):
        with client_from(address) as client:
            event = client.get(f"{api}/items/7").json()["event"]
        seen.append((event["requestContext"]["http"]["sourceIp"], event["pathParameters"]))
    assert seen == [("127.0.0.3", {"id": "7"}), ("127.0.0.4", {"id": "7"})]


def test_binary_request_bodies_arrive_base64_encoded(api: str) -> None:
    event = httpx.put(
        f"{api}/files/ab", content=b"\x00\xff", headers={"content-type": "application/octet-stream"}
    ).json()["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x00\xff"
    assert event["pathParameters"] == {"name": "ab"}


def test_result_shapes_are_answered_as_api_gateway_does(api: str) -> None:
    plain = httpx.get(f"{api}/shapes/plain-dict")
    assert (plain.status_code, plain.headers["content-type"]) == (200, "application/json")
    assert plain.json() == {"hello": "world", "service": "shapes"}
    binary = httpx.get(f"{api}/shapes/binary")
    assert (binary.headers["content-type"], binary.content) == ("image/png", b"\x89PNG\x00\xff")
    assert httpx.get(f"{api}/shapes/no-body").status_code == 204
    bad = httpx.get(f"{api}/shapes/bad-status")
    assert (bad.status_code, bad.json()) == (500, {"message": "Internal Server Error"})


def test_handler_exception_is_a_500_and_is_logged(api: str, caplog: pytest.LogCaptureFixture) -> None:
    response = httpx.put(f"{api}/files/boom")
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert any(
        "EchoFunction failed on PUT /files/{name}" in record.getMessage()
        and "RuntimeError: the fixture handler failed on purpose" in record.getMessage()
        for record in caplog.records
    )


def test_an_init_error_is_a_500_as_api_gateway_answers_it(api: str, caplog: pytest.LogCaptureFixture) -> None:
    response = httpx.get(f"{api}/broken")
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert "Runtime.ImportModuleError: Unable to import module 'broken'" in caplog.text


def test_viewer_headers_replace_the_clients_own(api: str) -> None:
    with client_from("127.0.0.5") as client:
        response = client.post(
            f"{api}/echo", content=b"{}", headers={"cloudfront-viewer-address": "203.0.113.9:443"}
        )
        port = response.json()["event"]["headers"]["cloudfront-viewer-address"].rpartition(":")[2]
    event = response.json()["event"]
    assert event["headers"]["cloudfront-viewer-address"] == f"127.0.0.5:{port}"
    assert int(port) > 0
    assert event["requestContext"]["http"]["sourceIp"] == "127.0.0.5"


def test_the_access_log_leaves_out_the_query_string(api: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="ropguard_offline.http_api")
    assert httpx.get(f"{api}/items/7?password=hunter2-hunter2").status_code == 201
    [line] = [record.getMessage() for record in caplog.records if record.name == "ropguard_offline.http_api"]
    assert " GET /items/7 route=GET /items/{id} status=201 requestId=" in line
    assert "hunter2" not in caplog.text


def test_a_body_over_api_gateways_limit_is_refused(api: str) -> None:
    address = urlsplit(api)
    with socket.create_connection((address.hostname, address.port)) as connection:
        connection.sendall(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 10485761\r\n\r\n"
        )
        connection.sendall(b"x" * 10485761)
        answer = connection.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert answer.endswith(b'{"message": "Request Entity Too Large"}')


def test_the_openapi_document_is_served(api: str) -> None:
    response = httpx.get(f"{api}/openapi.json")
    assert (response.status_code, response.json()) == (200, {"openapi": "3.0.3"})


@pytest.mark.parametrize(("method", "path"), [("GET", "/nowhere"), ("GET", "/echo"), ("POST", "/items/1")])
def test_unknown_routes_are_404(api: str, method: str, path: str) -> None:
    response = httpx.request(method, f"{api}{path}")
    assert (response.status_code, response.json()) == (404, {"message": "Not Found"})


def test_chunked_request_bodies_are_read(api: str) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"part": '
        yield b"1}"

    event = httpx.post(f"{api}/echo", content=chunks(), headers={"content-type": "application/json"}).json()[
        "event"
    ]
    assert event["body"] == '{"part": 1}'


APP = "https://app.example.com"


@pytest.fixture(scope="module")
def cors_api() -> Iterator[str]:
    """The echo function's routes on one API whose CORS configuration allows one origin."""
    (echo,) = (
        spec
        for spec in read(FIXTURE_TEMPLATE, **FIXTURE_PARAMETERS).functions
        if spec.logical_id == "EchoFunction"
    )
    function = LocalFunction(echo, {}, "us-east-1", "123456789012")
    cors = CorsConfig(
        allow_origins=(APP,), allow_methods=("GET", "POST"), allow_headers=("content-type",), max_age=60
    )
    stage = ApiStage("corsapi", "123456789012", "us-east-1")
    routes = [
        BoundRoute(replace(route, api_id="corsapi", cors=cors), stage, function) for route in echo.http_routes
    ]
    server = LocalHttpApi(routes, port=0).start()
    try:
        yield server.url
    finally:
        server.stop()
        function.stop()


@pytest.mark.parametrize("path", ["/echo", "/no-route-here"])
def test_the_api_answers_a_preflight_itself(cors_api: str, path: str) -> None:
    asked = {
        "origin": APP,
        "access-control-request-method": "POST",
        "access-control-request-headers": "content-type",
    }
    response = httpx.options(f"{cors_api}{path}", headers=asked)
    assert (response.status_code, response.content) == (204, b"")
    assert response.headers["access-control-allow-origin"] == APP
    assert (response.headers["access-control-allow-methods"], response.headers["access-control-max-age"]) == (
        "GET,POST",
        "60",
    )
    refused = httpx.options(f"{cors_api}{path}", headers={**asked, "origin": "https://evil.example"})
    assert refused.status_code == 204
    assert "access-control-allow-origin" not in refused.headers


def test_an_answer_to_an_allowed_origin_carries_cors_headers(cors_api: str) -> None:
    allowed = httpx.post(f"{cors_api}/echo", json={}, headers={"origin": APP})
    assert (allowed.status_code, allowed.headers["access-control-allow-origin"]) == (201, APP)
    assert allowed.json()["event"]["headers"]["origin"] == APP  # the function sees the request as sent
    other = httpx.post(f"{cors_api}/echo", json={}, headers={"origin": "https://evil.example"})
    assert other.status_code == 201
    assert "access-control-allow-origin" not in other.headers


def test_an_options_request_that_is_no_preflight_is_routed_as_any_other(cors_api: str) -> None:
    assert httpx.options(f"{cors_api}/echo", headers={"origin": APP}).status_code == 404
