"""ropguard.outbound: the one HTTP policy, against loopback servers.

No cookie jar, no redirect, no proxy or CA from the environment, keep-alive, only a failed connect
retried, the answer's size capped, and every exchange ended by its deadline.
"""

from __future__ import annotations

import socket
import ssl
import threading
from pathlib import Path

import certifi
import pytest
from pytest_httpserver import HTTPServer

from benchmarks.loopback_auth0 import CountingTokenServer
from ropguard.errors import ConfigurationError
from ropguard.outbound import (
    TIMEOUT_ERRORS,
    TRANSPORT_ERRORS,
    AnswerTooLargeError,
    Origin,
    Timeouts,
    certifi_context,
    invocation,
    json_content,
    require_fits,
)
from tests.fixtures.cookies import cookie_setting_answer
from tests.fixtures.raw_http import (
    FlakyNetwork,
    ScriptedServer,
    chunked_body,
    early_hints_then,
    hang_up,
    trickle,
)

TIMEOUTS = Timeouts(connect_seconds=2, read_seconds=2)


class Remaining:
    """A Lambda context with ``millis`` left."""

    def __init__(self, millis: int) -> None:
        self.millis = millis

    def get_remaining_time_in_millis(self) -> int:
        return self.millis


def origin_of(server: HTTPServer, **options: object) -> Origin:
    return Origin(server.url_for("").rstrip("/"), TIMEOUTS, **options)  # type: ignore[arg-type]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_request_and_its_reply(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/oauth/token", method="POST", query_string="a=b+c").respond_with_json(
        {"ok": True}, headers={"X-RateLimit-Reset": "9"}
    )
    with origin_of(httpserver, headers=[("Accept", "application/json")]) as origin:
        reply = origin.request("POST", "/oauth/token", params={"a": "b c"}, content=json_content({"x": 1}))

    request, _ = httpserver.log[0]
    assert request.headers["Accept"] == "application/json"
    assert request.get_data() == b'{"x":1}'
    assert (reply.status, reply.json()) == (200, {"ok": True})
    assert reply.headers.get("x-ratelimit-reset") == "9"
    assert "token" not in repr(reply)


def test_no_cookie_is_ever_sent_back(httpserver: HTTPServer) -> None:
    """One origin serves every end user of a container: there is no jar to carry one user's cookie."""
    seen: list[str | None] = []
    httpserver.expect_request("/oauth/token").respond_with_handler(cookie_setting_answer(seen, body="{}"))
    with origin_of(httpserver) as origin:
        for _ in range(3):
            origin.request("POST", "/oauth/token", content=b"{}")

    assert seen == [None, None, None]


def test_a_redirect_is_answered_not_followed(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/oauth/token").respond_with_data(
        "", status=307, headers={"Location": "http://198.51.100.1/steal"}
    )
    with origin_of(httpserver) as origin:
        reply = origin.request("POST", "/oauth/token", content=b"{}")

    assert reply.status == 307
    assert len(httpserver.log) == 1


def test_proxy_variables_are_ignored(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """Passwords must not be routed through whatever proxy the environment names."""
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    httpserver.expect_request("/oauth/token").respond_with_json({})
    with origin_of(httpserver) as origin:
        assert origin.request("POST", "/oauth/token", content=b"{}").status == 200


def test_the_environment_never_changes_trust_nor_writes_tls_keys(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "empty.pem"
    empty.write_text("")
    monkeypatch.setenv("SSL_CERT_FILE", str(empty))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path))
    monkeypatch.setenv("SSLKEYLOGFILE", str(tmp_path / "keys.log"))
    certifi_context.cache_clear()
    try:
        context = certifi_context()
        assert certifi_context() is context  # the bundle is loaded once
    finally:
        certifi_context.cache_clear()

    expected = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    expected.load_verify_locations(cafile=certifi.where())
    assert context.get_ca_certs() == expected.get_ca_certs() != []
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)
    assert context.keylog_filename is None


def test_one_connection_serves_many_requests() -> None:
    with CountingTokenServer() as server, Origin(server.base_url, TIMEOUTS) as origin:
        for _ in range(10):
            assert origin.request("POST", "/oauth/token", content=b"{}").status == 200
        assert (server.connections, server.requests) == (1, 10)


def test_a_silent_server_is_a_read_timeout() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with Origin(url, Timeouts(2, 0.05)) as origin, pytest.raises(TIMEOUT_ERRORS) as raised:
            origin.request("POST", "/oauth/token", content=b"{}")

    assert type(raised.value).__name__ == "ReadTimeout"


def test_nothing_listening_is_a_connect_error_after_one_retry() -> None:
    network = FlakyNetwork(failures=0)
    with (
        Origin(f"http://127.0.0.1:{free_port()}", TIMEOUTS, retries=1, network=network) as origin,
        pytest.raises(TRANSPORT_ERRORS) as raised,
    ):
        origin.request("POST", "/oauth/token", content=b"{}")

    assert type(raised.value).__name__ == "ConnectError"
    assert not isinstance(raised.value, TIMEOUT_ERRORS)
    assert network.attempts == 2


def test_a_failed_connect_is_retried_before_anything_is_sent() -> None:
    network = FlakyNetwork(failures=1)
    with (
        CountingTokenServer() as server,
        Origin(server.base_url, TIMEOUTS, retries=1, network=network) as origin,
    ):
        assert origin.request("POST", "/oauth/token", content=b"{}").status == 200
        assert (network.attempts, server.connections, server.requests) == (2, 1, 1)


def test_a_hang_up_after_the_request_is_never_retried() -> None:
    """A grant that may have reached the server is reported, not sent again (even with retries)."""
    with ScriptedServer(hang_up) as server, Origin(server.base_url, TIMEOUTS, retries=3) as origin:
        with pytest.raises(TRANSPORT_ERRORS) as raised:
            origin.request("POST", "/oauth/token", content=b"{}")
        assert len(server.requests) == 1

    assert type(raised.value).__name__ == "RemoteProtocolError"


def test_a_trickling_answer_ends_at_the_exchange_deadline() -> None:
    """One byte every 0.1 s never trips the 1 s read timeout; the deadline (0.2 + 1 s) ends it."""
    stop = threading.Event()
    with ScriptedServer(trickle(0.1, until=stop)) as server:
        try:
            with Origin(server.base_url, Timeouts(0.2, 1.0)) as origin, pytest.raises(TIMEOUT_ERRORS):
                origin.request("POST", "/oauth/token", content=b"{}")
        finally:
            stop.set()
        assert len(server.requests) == 1


def test_the_invocation_shortens_the_deadline() -> None:
    """With 0.6 s of the invocation left (0.5 s kept to answer), a 60 s read timeout is not waited."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with (
            Origin(url, Timeouts(2, 60)) as origin,
            invocation(Remaining(600)),
            pytest.raises(TIMEOUT_ERRORS),
        ):
            origin.request("POST", "/oauth/token", content=b"{}")


def test_no_time_left_sends_nothing() -> None:
    with CountingTokenServer() as server, Origin(server.base_url, TIMEOUTS) as origin:
        with invocation(Remaining(400)), pytest.raises(TIMEOUT_ERRORS):
            origin.request("POST", "/oauth/token", content=b"{}")
        assert server.requests == 0


@pytest.mark.parametrize("size", [16 * 1024 * 1024, 300 * 1024])
def test_an_oversized_answer_is_refused_unread(size: int) -> None:
    with ScriptedServer(chunked_body(size)) as server, Origin(server.base_url, TIMEOUTS) as origin:
        with pytest.raises(AnswerTooLargeError):
            origin.request("POST", "/oauth/token", content=b"{}")
        assert len(server.requests) == 1


def test_a_declared_oversized_answer_is_refused_before_reading(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/big").respond_with_data("x" * 2048)
    with origin_of(httpserver, max_answer_bytes=1024) as origin, pytest.raises(AnswerTooLargeError):
        origin.request("GET", "/big")


def test_an_answer_at_the_cap_is_read(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/exact").respond_with_data("x" * 1024)
    with origin_of(httpserver, max_answer_bytes=1024) as origin:
        assert origin.request("GET", "/exact").content == b"x" * 1024


def test_early_hints_then_the_answer() -> None:
    with (
        ScriptedServer(early_hints_then(b'{"ok":true}')) as server,
        Origin(server.base_url, TIMEOUTS) as origin,
    ):
        reply = origin.request("POST", "/oauth/token", content=b"{}")

    assert (reply.status, reply.json()) == (200, {"ok": True})


def test_https_to_a_server_that_does_not_speak_tls_is_a_connect_error() -> None:
    with CountingTokenServer() as server:
        https = server.base_url.replace("http://", "https://")
        with Origin(https, TIMEOUTS) as origin, pytest.raises(TRANSPORT_ERRORS) as raised:
            origin.request("POST", "/oauth/token", content=b"{}")

    assert type(raised.value).__name__ == "ConnectError"
    assert server.requests == 0


def test_not_an_http_origin_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="not an http"):
        Origin("ftp://tenant.example", TIMEOUTS)


def test_timeouts_that_outlive_the_function_are_a_configuration_error() -> None:
    require_fits(12.0, "AUTH0_READ_TIMEOUT_SECONDS")  # outside an invocation: nothing to compare
    with invocation(Remaining(15_000)):
        require_fits(12.0, "AUTH0_READ_TIMEOUT_SECONDS")
    with invocation(Remaining(10_000)), pytest.raises(ConfigurationError) as raised:
        require_fits(12.0, "AUTH0_READ_TIMEOUT_SECONDS")
    assert raised.value.variable == "AUTH0_READ_TIMEOUT_SECONDS"


def test_a_reply_nested_too_deep_is_not_json(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/deep").respond_with_data("[" * 100_000, content_type="application/json")
    with origin_of(httpserver, max_answer_bytes=1 << 20) as origin:
        reply = origin.request("GET", "/deep")
    with pytest.raises(ValueError, match="nests too deep"):
        reply.json()
