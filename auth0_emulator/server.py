"""The HTTP server: sockets, keep-alive, and the injected faults that need socket-level control."""

from __future__ import annotations

import contextlib
import logging
import math
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from auth0_emulator.clock import Clock
from auth0_emulator.faults import Fault
from auth0_emulator.http_types import HttpRequest, HttpResponse
from auth0_emulator.models import EmulatorState
from auth0_emulator.responses import EmulatorResponses
from auth0_emulator.tenant import load_tenant_file

log = logging.getLogger("ropguard.emulator")

MAX_BODY_BYTES = 1024 * 1024
IDLE_CONNECTION_SECONDS = 60
MALFORMED_BODY = b'{"access_token": "eyJhbGciOiJSUzI1NiIs'
FAULT_ERRORS = {400: "invalid_request", 401: "invalid_client", 403: "access_denied", 429: "too_many_requests"}


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # idle keep-alive connections must not hold up stop()
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], responses: EmulatorResponses) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.responses = responses
        super().__init__(address, _Handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes; do not wait 40 ms between
    timeout = IDLE_CONNECTION_SECONDS
    server: _Server
    server_version = "auth0-emulator"
    sys_version = ""
    methods: ClassVar[set[str]] = {"GET", "POST", "PATCH", "DELETE", "PUT"}

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the stdlib's stderr access log: request lines carry link tickets in query strings."""

    def _serve(self) -> None:
        path = self.path.split("?", 1)[0]
        body = self._read_body()
        if body is None:
            return
        fault = self.server.responses.state.faults.take(path)
        if fault is not None and fault.delay_ms:
            time.sleep(fault.delay_ms / 1000)
        if fault is not None and fault.drop_connection:
            log.info("fault: dropping connection on %s %s", self.command, path)
            self._drop()
            return
        if fault is not None and fault.answers_itself:
            response = _fault_response(fault, self.server.responses.state.clock)
        else:
            request = HttpRequest.build(
                self.command, self.path, list(self.headers.items()), body, self.client_address[0]
            )
            try:
                response = self.server.responses.handle(request)
            except Exception:
                log.exception("unhandled error on %s %s", self.command, path)
                response = HttpResponse.json(
                    500, {"error": "server_error", "error_description": "Internal error"}
                )
        if fault is not None and fault.content_type is not None:
            response.content_type = fault.content_type
        self._write(response)

    def _read_body(self) -> bytes | None:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self._write(
                HttpResponse.json(411, {"error": "invalid_request", "error_description": "Length required"})
            )
            self.close_connection = True
            return None
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self.close_connection = True
            self._write(
                HttpResponse.json(413, {"error": "invalid_request", "error_description": "Body too large"})
            )
            return None
        return self.rfile.read(length) if length else b""

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.content_type is not None:
            self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


def _fault_response(fault: Fault, clock: Clock) -> HttpResponse:
    status = fault.status if fault.status is not None else 200
    if fault.malformed_body:
        return HttpResponse(status, MALFORMED_BODY, "application/json")
    error = FAULT_ERRORS.get(status, "server_error" if status >= 500 else "emulated_fault")
    headers = {}
    if status == 429:
        headers = {
            "X-RateLimit-Limit": "1",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset": str(math.ceil(clock.now()) + 1),
        }
    return HttpResponse.json(status, {"error": error, "error_description": "Injected fault"}, headers)


class EmulatorServer:
    """The emulator on a loopback socket, in a background thread; use as a context manager in tests."""

    def __init__(self, state: EmulatorState, host: str = "127.0.0.1", port: int = 0) -> None:
        self.state = state
        self.responses = EmulatorResponses(state)
        self._address = (host, port)
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @classmethod
    def from_tenant_file(
        cls, path: str | Path, host: str = "127.0.0.1", port: int = 0, clock: Clock | None = None
    ) -> EmulatorServer:
        return cls(EmulatorState(load_tenant_file(path), clock=clock), host=host, port=port)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("server not started")
        return int(self._server.server_address[1])

    @property
    def host(self) -> str:
        return self._address[0]

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _bind(self) -> _Server:
        """Listen on the socket; links in emails and the issuer need the real port, known only now."""
        if self._server is None:
            self._server = _Server(self._address, self.responses)
            self.state.base_url = self.base_url
            log.info("auth0 emulator listening on %s (tenant %s)", self.base_url, self.state.config.name)
        return self._server

    def start(self) -> EmulatorServer:
        """Serve from a daemon thread; returns once the socket is listening."""
        server = self._bind()
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="auth0-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is None:
            return
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()
        self._server = None

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
