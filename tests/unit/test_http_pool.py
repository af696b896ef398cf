"""ropguard.http_pool: what httpx.Client gave the API functions, kept over the standard library's
http.client.

Against loopback servers: one write per request, keep-alive (and never a stale or expired
connection), no cookie jar, no redirect, no proxy from the environment, timeouts and connect
failures as the module's own classes (httpx's names).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from benchmarks.loopback_auth0 import CountingTokenServer
from ropguard import http_pool
from ropguard.http_pool import (
    TIMEOUT_ERRORS,
    TRANSPORT_ERRORS,
    PooledOrigin,
    Timeouts,
    json_content,
    reply_headers,
)
from tests.fixtures.cookies import cookie_setting_answer

TIMEOUTS = Timeouts(connect_seconds=2, read_seconds=2)


def origin_of(server: HTTPServer, **options: Any) -> PooledOrigin:
    return PooledOrigin(server.url_for("").rstrip("/"), TIMEOUTS, **options)


class RecordingSocket:
    """A real socket, recording each write it is asked to make."""

    def __init__(self, inner: socket.socket, writes: list[bytes]) -> None:
        self._inner = inner
        self._writes = writes

    def sendall(self, data: bytes) -> None:
        self._writes.append(bytes(data))
        self._inner.sendall(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class RecordingOpener:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.connects = 0

    def __call__(self, address: tuple[str, int], timeout: float) -> Any:
        self.connects += 1
        return RecordingSocket(socket.create_connection(address, timeout), self.writes)


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
    opener = RecordingOpener()
    with CountingTokenServer() as server, PooledOrigin(server.base_url, TIMEOUTS, opener=opener) as origin:
        for _ in range(3):
            origin.request(b"POST", "/oauth/token", content=b'{"username":"u"}')

    assert (opener.connects, len(opener.writes)) == (1, 3)
    assert all(write.startswith(b"POST /oauth/token") for write in opener.writes)
    assert all(write.endswith(b'{"username":"u"}') for write in opener.writes)


def test_one_connection_serves_many_requests() -> None:
    with CountingTokenServer() as server, PooledOrigin(server.base_url, TIMEOUTS) as origin:
        for _ in range(10):
            assert origin.request(b"POST", "/oauth/token", content=b"{}").status == 200
        assert (server.connections, server.requests) == (1, 10)


def test_no_cookie_is_ever_sent_back(httpserver: HTTPServer) -> None:
    """One pool serves every end user of a container: there is no jar to carry one user's cookie."""
    seen: list[str | None] = []
    httpserver.expect_request("/oauth/token").respond_with_handler(cookie_setting_answer(seen, body="{}"))
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


def test_json_content_is_encoded_as_httpx_did() -> None:
    body = {"username": "zoë@example.com", "password": 'a "quoted" pass', "scope": "openid profile"}
    assert json_content(body) == httpx.Request("POST", "http://x", json=body).content
    with pytest.raises(ValueError, match="JSON compliant"):
        json_content({"n": float("nan")})


def test_reply_headers_are_lower_case_latin_1() -> None:
    assert reply_headers([("Content-Type", "application/json"), ("X-A", "\xe9")]) == {
        "content-type": "application/json",
        "x-a": "é",
    }


def test_a_connection_the_server_closed_while_idle_is_not_reused() -> None:
    with CountingTokenServer() as server, PooledOrigin(server.base_url, TIMEOUTS) as origin:
        origin.request(b"POST", "/oauth/token", content=b"{}")
        ((idle, _),) = origin._idle
        assert idle.sock is not None
        idle.sock.shutdown(socket.SHUT_RDWR)  # what the server's side sees as our close; reads EOF now
        assert origin.request(b"POST", "/oauth/token", content=b"{}").status == 200
        assert (server.connections, server.requests) == (2, 2)


def test_an_expired_connection_is_not_reused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(http_pool, "KEEPALIVE_EXPIRY_SECONDS", 0.0)
    with CountingTokenServer() as server, PooledOrigin(server.base_url, TIMEOUTS) as origin:
        for _ in range(3):
            origin.request(b"POST", "/oauth/token", content=b"{}")
        assert server.connections == 3


def test_an_answer_that_closes_the_connection_is_not_reused(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/x").respond_with_data("{}", headers={"Connection": "close"})
    with origin_of(httpserver) as origin:
        for _ in range(2):
            assert origin.request(b"GET", "/x").status == 200
        assert origin._idle == []


def test_a_failed_connect_is_retried_before_anything_is_sent() -> None:
    opener = RecordingOpener()
    refusals = iter([ConnectionRefusedError("simulated")])

    def flaky(address: tuple[str, int], timeout: float) -> Any:
        for refusal in refusals:
            raise refusal
        return opener(address, timeout)

    with (
        CountingTokenServer() as server,
        PooledOrigin(server.base_url, TIMEOUTS, retries=1, opener=flaky) as origin,
    ):
        assert origin.request(b"POST", "/oauth/token", content=b"{}").status == 200
        assert (server.connections, server.requests, len(opener.writes)) == (1, 1, 1)


def test_a_server_that_hangs_up_without_answering_is_a_protocol_error() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:

        def hang_up() -> None:
            connection, _ = listener.accept()
            connection.recv(65536)
            connection.close()

        threading.Thread(target=hang_up, daemon=True).start()
        port = listener.getsockname()[1]
        with (
            PooledOrigin(f"http://127.0.0.1:{port}", TIMEOUTS) as origin,
            pytest.raises(TRANSPORT_ERRORS) as raised,
        ):
            origin.request(b"POST", "/oauth/token", content=b"{}")

    assert type(raised.value).__name__ == "RemoteProtocolError"


def test_https_to_a_server_that_does_not_speak_tls_is_a_connect_error() -> None:
    with CountingTokenServer() as server:
        https = server.base_url.replace("http://", "https://")
        with PooledOrigin(https, TIMEOUTS) as origin, pytest.raises(TRANSPORT_ERRORS) as raised:
            origin.request(b"POST", "/oauth/token", content=b"{}")

    assert type(raised.value).__name__ == "ConnectError"
    assert server.requests == 0


def test_not_an_http_origin_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="not an http"):
        PooledOrigin("ftp://tenant.example.com", TIMEOUTS)


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
