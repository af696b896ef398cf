"""ropguard.http_pool: what httpx.Client gave the API functions, kept over httpcore directly.

Against loopback servers: one write per request, keep-alive, no cookie jar, no redirect, no proxy
from the environment, timeouts and connect failures as httpcore's classes (httpx's names).
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from benchmarks.loopback_auth0 import CountingTokenServer
from ropguard.http_pool import (
    TIMEOUT_ERRORS,
    TRANSPORT_ERRORS,
    CoalescingStream,
    PooledOrigin,
    Timeouts,
    json_content,
    reply_headers,
)

TIMEOUTS = Timeouts(connect_seconds=2, read_seconds=2)


def origin_of(server: HTTPServer, **options: Any) -> PooledOrigin:
    return PooledOrigin(server.url_for("").rstrip("/"), TIMEOUTS, **options)


class RecordingStream(httpcore.NetworkStream):
    """The real socket, recording each write it is asked to make."""

    def __init__(self, inner: httpcore.NetworkStream, writes: list[bytes]) -> None:
        self._inner = inner
        self.writes = writes

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.writes.append(buffer)
        self._inner.write(buffer, timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, timeout)

    def close(self) -> None:
        self._inner.close()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class RecordingBackend(httpcore.SyncBackend):
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.connects = 0

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        self.connects += 1
        return RecordingStream(
            super().connect_tcp(host, port, timeout, local_address, socket_options), self.writes
        )


def test_a_request_and_its_reply(httpserver: HTTPServer) -> None:
    def answer(request: Request) -> Response:
        assert request.headers["X-Test"] == "yes"
        assert request.get_data() == b'{"a":1}'
        response = Response('{"ok":true}', content_type="application/json", status=201)
        response.headers.add("Vary", "a")
        response.headers.add("Vary", "b")
        return response

    httpserver.expect_request("/path", query_string="q=1", method="POST").respond_with_handler(answer)
    with origin_of(httpserver) as origin:
        reply = origin.request(b"POST", "/path?q=1", headers=[(b"X-Test", b"yes")], content=b'{"a":1}')

    assert (reply.status, reply.content) == (201, b'{"ok":true}')
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["vary"] == "a, b"  # names lower-cased, repeats joined as httpx's .get did
    assert "ok" not in repr(reply)


def test_headers_and_body_leave_in_one_write() -> None:
    backend = RecordingBackend()
    with (
        CountingTokenServer() as server,
        PooledOrigin(server.base_url, TIMEOUTS, network_backend=backend) as origin,
    ):
        for _ in range(3):
            origin.request(b"POST", "/oauth/token", content=b'{"username":"u"}')

    assert len(backend.writes) == 3
    assert all(write.startswith(b"POST /oauth/token") for write in backend.writes)
    assert all(write.endswith(b'{"username":"u"}') for write in backend.writes)


def test_one_connection_serves_many_requests() -> None:
    with CountingTokenServer() as server, PooledOrigin(server.base_url, TIMEOUTS) as origin:
        for _ in range(10):
            assert origin.request(b"POST", "/oauth/token", content=b"{}").status == 200
        assert (server.connections, server.requests) == (1, 10)


def test_no_cookie_is_ever_sent_back(httpserver: HTTPServer) -> None:
    """One pool serves every end user of a container: there is no jar to carry one user's cookie."""
    seen: list[str | None] = []

    def answer(request: Request) -> Response:
        seen.append(request.headers.get("Cookie"))
        response = Response("{}", content_type="application/json")
        response.set_cookie("did", "device-of-the-previous-user", path="/")
        return response

    httpserver.expect_request("/oauth/token").respond_with_handler(answer)
    with origin_of(httpserver) as origin:
        for _ in range(3):
            origin.request(b"POST", "/oauth/token", content=b"{}")

    assert seen == [None, None, None]


def test_a_redirect_is_answered_not_followed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/oauth/token").respond_with_data(
        "", status=307, headers={"Location": "http://198.51.100.1/steal"}
    )
    with origin_of(httpserver) as origin:
        reply = origin.request(b"POST", "/oauth/token", content=b"{}")

    assert reply.status == 307
    assert len(httpserver.log) == 1


def test_proxy_variables_are_ignored(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords must not be routed through whatever proxy the environment names."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    httpserver.expect_request("/oauth/token").respond_with_json({})
    with origin_of(httpserver) as origin:
        assert origin.request(b"POST", "/oauth/token", content=b"{}").status == 200


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts connections and never answers."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


def test_a_silent_server_is_a_read_timeout(silent_server: str) -> None:
    timeouts = Timeouts(connect_seconds=2, read_seconds=0.05)
    with PooledOrigin(silent_server, timeouts) as origin, pytest.raises(TIMEOUT_ERRORS) as raised:
        origin.request(b"POST", "/oauth/token", content=b"{}")

    assert type(raised.value).__name__ == "ReadTimeout"  # the name httpx gave it


def test_nothing_listening_is_a_connect_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with (
        PooledOrigin(f"http://127.0.0.1:{port}", TIMEOUTS, retries=1) as origin,
        pytest.raises(TRANSPORT_ERRORS) as raised,
    ):
        origin.request(b"POST", "/oauth/token", content=b"{}")

    assert type(raised.value).__name__ == "ConnectError"
    assert not isinstance(raised.value, TIMEOUT_ERRORS)


def test_timeouts_become_httpcores_extension() -> None:
    assert Timeouts(connect_seconds=1.5, read_seconds=4).extension() == {
        "timeout": {"connect": 1.5, "read": 4, "write": 4, "pool": 1.5}
    }


def test_json_content_is_encoded_as_httpx_did() -> None:
    body = {"username": "zoë@example.com", "password": 'a "quoted" pass', "scope": "openid profile"}
    assert json_content(body) == httpx.Request("POST", "http://x", json=body).content
    with pytest.raises(ValueError, match="JSON compliant"):
        json_content({"n": float("nan")})


def test_reply_headers_are_lower_case_latin_1() -> None:
    assert reply_headers([(b"Content-Type", b"application/json"), (b"X-A", b"\xe9")]) == {
        "content-type": "application/json",
        "x-a": "é",
    }


class FakeStream(httpcore.NetworkStream):
    def __init__(self) -> None:
        self.events: list[tuple[str, object]] = []

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self.events.append(("write", (buffer, timeout)))

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.events.append(("read", timeout))
        return b"answer"

    def close(self) -> None:
        self.events.append(("close", None))

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        self.events.append(("start_tls", server_hostname))
        return FakeStream()

    def get_extra_info(self, info: str) -> Any:
        return f"info:{info}"


def test_coalescing_stream_sends_held_writes_before_reading() -> None:
    inner = FakeStream()
    stream = CoalescingStream(inner)
    stream.write(b"head", timeout=3)
    stream.write(b"", timeout=3)
    stream.write(b"body", timeout=3)
    assert inner.events == []

    assert stream.read(10, timeout=5) == b"answer"
    assert inner.events == [("write", (b"headbody", 3)), ("read", 5)]
    assert stream.get_extra_info("is_readable") == "info:is_readable"


def test_coalescing_stream_never_sends_late_after_close() -> None:
    inner = FakeStream()
    stream = CoalescingStream(inner)
    stream.write(b"unsent")
    stream.close()
    assert inner.events == [("close", None)]


def test_coalescing_stream_flushes_before_tls_and_wraps_the_tls_stream() -> None:
    inner = FakeStream()
    stream = CoalescingStream(inner)
    stream.write(b"CONNECT")
    upgraded = stream.start_tls(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT), "tenant.example.com")
    assert inner.events == [("write", (b"CONNECT", None)), ("start_tls", "tenant.example.com")]
    assert isinstance(upgraded, CoalescingStream)


def test_the_reply_content_parses(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_json({"k": "v"})
    with origin_of(httpserver) as origin:
        assert json.loads(origin.request(b"GET", "/x").content) == {"k": "v"}


def test_the_host_header_names_the_origin(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("")
    with origin_of(httpserver) as origin:
        origin.request(b"GET", "/x")
        origin.request(b"POST", "/x", content=b"abc")

    (get, _), (post, _) = httpserver.log
    assert get.headers["Host"] == httpserver.url_for("").split("/")[2]
    assert "Content-Length" not in get.headers
    assert post.headers["Content-Length"] == "3"
    assert [name for name, _ in post.headers.items() if name.lower() == "host"] == ["Host"]
