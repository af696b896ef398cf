"""A loopback Auth0 for the session routes' warm benchmark: fixed answers at once, keep-alive.

``session_answer`` serves them on the lean endpoint: ``TokenServerProcess(session_answer)``.

``/oauth/token`` (the mfa-otp and refresh grants) answers tokens, ``/mfa/challenge`` an otp
challenge, ``GET /mfa/authenticators`` one factor, ``/oauth/revoke`` 200 with an empty body (as
Auth0 does). The endpoint counts TCP connections and requests.
"""

from __future__ import annotations

import json

from benchmarks.loopback_auth0 import TOKEN_BODY, prepared_answer

ANSWERS: dict[tuple[str, str], bytes] = {
    ("POST", "/oauth/token"): TOKEN_BODY,
    ("POST", "/mfa/challenge"): json.dumps({"challenge_type": "otp"}).encode(),
    ("GET", "/mfa/authenticators"): json.dumps(
        [{"id": "totp|bench", "authenticator_type": "otp", "active": True}]
    ).encode(),
    ("POST", "/oauth/revoke"): b"",
}


_PREPARED = {
    f"{method} {path}".encode(): prepared_answer("200 OK", body) for (method, path), body in ANSWERS.items()
}
_NOT_FOUND = prepared_answer("404 Not Found", b"")


def session_answer(request_line: bytes, body: bytes) -> bytes:
    """For ``TokenServerProcess(session_answer)``: the lean endpoint the warm rows run against."""
    method, target = request_line.split(b" ", 2)[:2]
    return _PREPARED.get(method + b" " + target.split(b"?", 1)[0], _NOT_FOUND)
