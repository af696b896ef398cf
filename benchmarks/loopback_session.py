"""A loopback Auth0 for the session routes' warm benchmark: fixed answers at once, keep-alive.

``/oauth/token`` (the mfa-otp and refresh grants) answers tokens, ``/mfa/challenge`` an otp
challenge, ``GET /mfa/authenticators`` one factor, ``/oauth/revoke`` 200 with an empty body (as
Auth0 does). It counts TCP connections and requests like ``CountingTokenServer``.
"""

from __future__ import annotations

import json
from typing import Any

from benchmarks.loopback_auth0 import TOKEN_BODY, CountingTokenServer, _Handler

ANSWERS: dict[tuple[str, str], bytes] = {
    ("POST", "/oauth/token"): TOKEN_BODY,
    ("POST", "/mfa/challenge"): json.dumps({"challenge_type": "otp"}).encode(),
    ("GET", "/mfa/authenticators"): json.dumps(
        [{"id": "totp|bench", "authenticator_type": "otp", "active": True}]
    ).encode(),
    ("POST", "/oauth/revoke"): b"",
}


class _SessionHandler(_Handler):
    def _answer(self, method: str) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        self.server.count_request(dict(self.headers.items()))
        body = ANSWERS.get((method, self.path.split("?", 1)[0]))
        self.send_response(404 if body is None else 200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def do_POST(self) -> None:  # noqa: N802 - http.server names it
        self._answer("POST")

    def do_GET(self) -> None:  # noqa: N802 - http.server names it
        self._answer("GET")

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the benchmark prints its own table."""


class SessionAuth0Server(CountingTokenServer):
    def __init__(self) -> None:
        super().__init__()
        self.RequestHandlerClass = _SessionHandler
