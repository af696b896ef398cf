"""A loopback /oauth/token that answers at once and counts TCP connections and requests.

HTTP/1.1 with keep-alive (unlike werkzeug's single-threaded test server), so connection reuse by
the client is visible: ``connections`` grows only when the client opens a new socket.
"""

from __future__ import annotations

import json
import threading
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
    """``CountingTokenServer`` in a process of its own, so serving never competes with the handler
    under test for this process's GIL (a thread here would add its scheduling to every warm call)."""

    def __enter__(self) -> TokenServerProcess:
        import multiprocessing  # noqa: PLC0415 - only the benchmark needs it

        context = multiprocessing.get_context("fork")
        self._pipe, child_end = context.Pipe()
        self._process = context.Process(target=_serve_in_child, args=(child_end,), daemon=True)
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


def _serve_in_child(pipe: Any) -> None:
    with CountingTokenServer() as server:
        pipe.send(server.base_url)
        while True:
            command = pipe.recv()
            if command == "stop":
                pipe.send(None)
                return
            if command == "reset":
                server.reset_counts()
                pipe.send(None)
            else:
                pipe.send(getattr(server, command))
