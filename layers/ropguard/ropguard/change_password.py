"""Auth0's ``POST /dbconnections/change_password``: asks Auth0 to email a password-reset link.

Auth0 answers 200 with plain text, the same for unknown users in most tenants, so a 200 is all we
can know; its reference also lists 404 "User not found", which is a finished case (nobody to email),
not a failure. Failures are sorted into transient (SQS retries them) and permanent (dead-lettered).
"""

from __future__ import annotations

from enum import StrEnum

from ropguard.auth0_client import tenant_origin
from ropguard.errors import PermanentResetError, ResetFailedError, TransientResetError
from ropguard.outbound import TIMEOUT_ERRORS, TRANSPORT_ERRORS, Origin, Reply, json_content
from ropguard.settings import Auth0Settings

CHANGE_PASSWORD_PATH = "/dbconnections/change_password"  # noqa: S105 - a URL path

__all__ = [
    "ChangePasswordClient",
    "PermanentResetError",
    "ResetFailedError",
    "ResetRequest",
    "TransientResetError",
]


class ResetRequest(StrEnum):
    """How Auth0 took the request: an email is on its way, or the connection has no such user."""

    SENT = "sent"
    USER_NOT_FOUND = "user_not_found"


class ChangePasswordClient:
    """Calls change_password over the tenant's origin (keep-alive, no cookie jar, no redirects)."""

    def __init__(self, origin: Origin) -> None:
        self._origin = origin

    @classmethod
    def for_tenant(cls, settings: Auth0Settings) -> ChangePasswordClient:
        return cls(tenant_origin(settings))

    def close(self) -> None:
        self._origin.close()

    def request_reset(self, *, email: str, connection: str, client_id: str) -> ResetRequest:
        content = json_content({"email": email, "connection": connection, "client_id": client_id})
        try:
            reply = self._origin.request(
                "POST",
                CHANGE_PASSWORD_PATH,
                headers=[("Content-Type", "application/json")],
                content=content,
            )
        except TIMEOUT_ERRORS as exc:
            raise TransientResetError("auth0_timeout") from exc
        except TRANSPORT_ERRORS as exc:
            raise TransientResetError(f"auth0_unreachable:{type(exc).__name__}") from exc
        status = reply.status
        if status == 200:
            return ResetRequest.SENT
        if status == 404:
            return ResetRequest.USER_NOT_FOUND
        if status == 429 or status >= 500:
            raise TransientResetError(f"auth0_status_{status}")
        # 400 (e.g. not a database connection, malformed email), 401/403 (client misconfigured):
        # the same request would fail again; operations fix the cause and redrive the DLQ.
        raise PermanentResetError(f"auth0_status_{status}:{_auth0_error_code(reply)}")


def _auth0_error_code(reply: Reply) -> str:
    """Auth0's machine-readable ``error`` (never the description, which may echo input)."""
    try:
        body = reply.json()
    except ValueError:
        return "unknown"
    code = body.get("error") or body.get("code") if isinstance(body, dict) else None
    return code[:64] if isinstance(code, str) and code.isprintable() else "unknown"
