"""A loopback stand-in for the AWS Parameters and Secrets Lambda Extension's Secrets Manager endpoint.

``GET /secretsmanager/get?secretId=<id>[&versionStage=<stage>]`` with the session token in
``X-Aws-Parameters-Secrets-Token``: 200 and GetSecretValue's JSON, 400 with a
``ResourceNotFoundException`` body when the secret or stage does not exist, 401 without the right
token. Like the real extension it caches what it fetched (``clear_cache`` empties it, as a new
execution environment would) and reads through ``fetch`` on a miss: a dict in tests, moto's
Secrets Manager in the benchmark. The offline stack has its own stand-in (ropguard_offline/); this one is for
benchmarks and tests that run a handler without the stack.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

#: secret id, stage -> GetSecretValue's answer, or None when that secret or stage does not exist.
Fetch = Callable[[str, str], dict[str, Any] | None]


def dict_fetch(secrets: dict[str, str]) -> Fetch:
    """Secrets by id (AWSCURRENT only), answered in GetSecretValue's shape."""

    def fetch(secret_id: str, stage: str) -> dict[str, Any] | None:
        if stage != "AWSCURRENT" or secret_id not in secrets:
            return None
        return {
            "ARN": f"arn:aws:secretsmanager:us-east-1:123456789012:secret:{secret_id}",
            "Name": secret_id,
            "VersionId": "v1",
            "SecretString": secrets[secret_id],
            "VersionStages": [stage],
            "CreatedDate": "2026-01-01T00:00:00Z",
        }

    return fetch


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: LoopbackExtension

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path != "/secretsmanager/get" or "secretId" not in query:
            self._answer(400, {"__type": "BadRequest", "message": "secretId is required"})
            return
        if self.headers.get("X-Aws-Parameters-Secrets-Token") != self.server.token:
            self._answer(401, {"__type": "Unauthorized", "message": "missing or wrong session token"})
            return
        secret_id = query["secretId"][0]
        stage = query.get("versionStage", ["AWSCURRENT"])[0]
        answer = self.server.lookup(secret_id, stage)
        if answer is None:
            self._answer(400, {"__type": "ResourceNotFoundException", "message": "secret or stage not found"})
            return
        self._answer(200, answer)

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: callers print their own results."""


class LoopbackExtension(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fetch: Fetch, *, token: str) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.token = token
        self._fetch = fetch
        self._lock = threading.Lock()
        self._cache: dict[tuple[str, str], dict[str, Any] | None] = {}
        self.requests = 0
        self.fetches = 0
        self._thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def lookup(self, secret_id: str, stage: str) -> dict[str, Any] | None:
        with self._lock:
            self.requests += 1
            key = (secret_id, stage)
            if key not in self._cache:
                self.fetches += 1
                self._cache[key] = self._fetch(secret_id, stage)
            return self._cache[key]

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()

    def __enter__(self) -> LoopbackExtension:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.shutdown()
        self.server_close()
