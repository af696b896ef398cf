"""A loopback /oauth/token that answers at once and counts TCP connections and requests.

HTTP/1.1 with keep-alive (unlike werkzeug's single-threaded test server), so connection reuse by
the client is visible: ``connections`` grows only when the client opens a new socket.

``CountingTokenServer`` (stdlib ``http.server``, a thread) is what tests use: it keeps each
request's headers. ``TokenServerProcess`` is what the benchmark's warm rows run against: as near
a zero-latency endpoint as Python gets, in a process of its own. It only finds the end of each
request (headers, then ``Content-Length`` bytes) and writes a prepared answer; ``http.server``'s
header parsing took about 0.07 ms of every round trip on this machine (0.28 against 0.21 ms p50,
an ``http.client`` loop against each), time that belongs to the endpoint, not to the handler
under test.
"""

from __future__ import annotations

import asyncio
import json
import re
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

TOKEN_BODY = json.dumps(
    {"access_token": "bench-access-token", "token_type": "Bearer", "expires_in": 86400}
).encode()
#: A username starting with this gets Auth0's breached-password answer (the breach benchmark).
BREACHED_PREFIX = "breached"
LEAKED_BODY = json.dumps(
    {"error": "password_leaked", "error_description": "This login has been blocked (breached password)."}
).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body leave in separate writes; with Nagle on, delayed ACKs add ~40 ms to each.
    disable_nagle_algorithm = True
    server: CountingTokenServer

    def setup(self) -> None:
        super().setup()
        self.server.count_connection()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        self.server.count_request(dict(self.headers.items()))
        leaked = f'"username": "{BREACHED_PREFIX}'.encode() in raw.replace(b'":"', b'": "')
        status, body = (401, LEAKED_BODY) if leaked else (200, TOKEN_BODY)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the benchmark prints its own table."""


class CountingTokenServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self._lock = threading.Lock()
        self.connections = 0
        self.requests = 0
        self.last_headers: dict[str, str] = {}
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def count_connection(self) -> None:
        with self._lock:
            self.connections += 1

    def count_request(self, headers: dict[str, str]) -> None:
        with self._lock:
            self.requests += 1
            self.last_headers = headers

    def reset_counts(self) -> None:
        with self._lock:
            self.connections = self.requests = 0

    def __enter__(self) -> CountingTokenServer:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()
        self.server_close()


class TokenServerProcess:
    """The lean endpoint in a process of its own, so serving never competes with the handler
    under test for this process's GIL (a thread here would add its scheduling to every warm call).
    ``answer`` gives each request's answer (default: ``token_answer``); it must be picklable by
    reference (a module-level function), and the process forks: start it before any thread."""

    def __init__(self, answer: Answer | None = None) -> None:
        self._answer = answer or token_answer

    def __enter__(self) -> TokenServerProcess:
        import multiprocessing  # noqa: PLC0415 - only the benchmark needs it

        context = multiprocessing.get_context("fork")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_serve_in_child, args=(child_end, self._answer), daemon=True)
        self._process.start()
        self.base_url = str(self._pipe.recv())
        return self

    def _ask(self, command: str) -> Any:
        self._pipe.send(command)
        return self._pipe.recv()

    @property
    def connections(self) -> int:
        return int(self._ask("connections"))

    @property
    def requests(self) -> int:
        return int(self._ask("requests"))

    def reset_counts(self) -> None:
        self._ask("reset")

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._ask("stop")
        self._process.join(timeout=5)


def prepared_answer(status: str, body: bytes) -> bytes:
    """A whole HTTP/1.1 answer, JSON, built once."""
    head = f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode("ascii") + body


_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)", re.IGNORECASE)
_TOKEN_ANSWER = prepared_answer("200 OK", TOKEN_BODY)
_LEAKED_ANSWER = prepared_answer("401 Unauthorized", LEAKED_BODY)
_BREACHED = f'"username":"{BREACHED_PREFIX}'.encode()


class _Counts:
    connections = 0
    requests = 0


Answer = Callable[[bytes, bytes], bytes]  # (request line, request bytes after the headers) -> answer


def token_answer(request_line: bytes, body: bytes) -> bytes:
    """Tokens, or Auth0's breached-password answer for a username starting with ``breached``."""
    return _LEAKED_ANSWER if _BREACHED in body.replace(b'": "', b'":"') else _TOKEN_ANSWER


class _LeanServer(asyncio.Protocol):
    """Finds each request's end in the byte stream and answers it; counts as it goes."""

    def __init__(self, counts: _Counts, answer: Answer) -> None:
        self._counts = counts
        self._answer = answer
        self._buffer = b""
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._counts.connections += 1

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        while (end := self._buffer.find(b"\r\n\r\n")) >= 0:
            length = _CONTENT_LENGTH.search(self._buffer, 0, end + 2)
            total = end + 4 + (int(length.group(1)) if length else 0)
            if len(self._buffer) < total:
                return
            request, self._buffer = self._buffer[:total], self._buffer[total:]
            self._counts.requests += 1
            assert self._transport is not None
            self._transport.write(self._answer(request[: request.find(b"\r\n")], request[end + 4 :]))


def _serve_in_child(pipe: Any, answer: Answer) -> None:
    counts = _Counts()
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(loop.create_server(lambda: _LeanServer(counts, answer), "127.0.0.1", 0))
    host, port = server.sockets[0].getsockname()[:2]
    threading.Thread(target=loop.run_forever, daemon=True).start()
    pipe.send(f"http://{host}:{port}")
    while True:
        command = pipe.recv()
        if command == "stop":
            pipe.send(None)
            return
        if command == "reset":
            counts.connections = counts.requests = 0
            pipe.send(None)
        else:
            pipe.send(getattr(counts, command))
