"""Auth0's ``POST /dbconnections/change_password``: asks Auth0 to email a password-reset link.

Auth0 answers 200 with plain text, the same for unknown users (Auth0's change-password reference,
quoted in docs/emulator.md), so a 200 is all we can know. Failures are sorted into transient (SQS
retries them) and permanent (dead-lettered).
"""

from __future__ import annotations

import httpx
from aws_lambda_powertools import Logger

from ropguard.errors import PermanentResetError, ResetFailedError, TransientResetError

logger = Logger(child=True)

CHANGE_PASSWORD_PATH = "/dbconnections/change_password"  # noqa: S105 - a URL path


__all__ = ["ChangePasswordClient", "PermanentResetError", "ResetFailedError", "TransientResetError"]


class ChangePasswordClient:
    """Calls change_password with the tenant's httpx client (``auth0_client.build_http_client``)."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def request_reset(self, *, email: str, connection: str, client_id: str) -> None:
        try:
            response = self._http.post(
                CHANGE_PASSWORD_PATH, json={"email": email, "connection": connection, "client_id": client_id}
            )
        except httpx.TimeoutException as exc:
            raise TransientResetError("auth0_timeout") from exc
        except httpx.TransportError as exc:
            raise TransientResetError(f"auth0_unreachable:{type(exc).__name__}") from exc
        status = response.status_code
        if status == httpx.codes.OK:
            return
        if status == httpx.codes.TOO_MANY_REQUESTS or status >= httpx.codes.INTERNAL_SERVER_ERROR:
            raise TransientResetError(f"auth0_status_{status}")
        # 400 (e.g. not a database connection, malformed email), 401/403 (client misconfigured):
        # the same request would fail again; operations fix the cause and redrive the DLQ.
        raise PermanentResetError(f"auth0_status_{status}:{_auth0_error_code(response)}")


def _auth0_error_code(response: httpx.Response) -> str:
    """Auth0's machine-readable ``error`` (never the description, which may echo input)."""
    try:
        body = response.json()
    except ValueError:
        return "unknown"
    code = body.get("error") or body.get("code") if isinstance(body, dict) else None
    return code[:64] if isinstance(code, str) and code.isprintable() else "unknown"
