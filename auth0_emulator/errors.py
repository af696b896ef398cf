"""Authentication API errors in Auth0's dialect: ``{"error", "error_description"}`` and a status."""

from __future__ import annotations

from typing import Any

WRONG_CREDENTIALS = "Wrong email or password."
BRUTE_FORCE_BLOCKED = (
    "Your account has been blocked after multiple consecutive login attempts. "
    "We've sent you an email with instructions on how to unblock it."
)
SUSPICIOUS_IP_BLOCKED = (
    "We have detected suspicious login behavior and further attempts will be blocked. "
    "Please contact the administrator."
)
PASSWORD_LEAKED = (
    "This login attempt has been blocked because the password you're using was previously disclosed "
    "through a data breach (not in this application). Please check your email for more information."
)
USER_BLOCKED = "user is blocked"
MFA_REQUIRED = "Multifactor authentication required"
CLIENT_AUTH_FAILED = "Client authentication failed"
RATE_LIMITED = "Global limit has been reached"


class OAuthError(Exception):
    """An answer the token endpoint gives instead of tokens."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{status} {error}")
        self.status = status
        self.error = error
        self.description = description
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return {"error": self.error, "error_description": self.description, **self.extra}


def missing(parameter: str) -> OAuthError:
    return OAuthError(400, "invalid_request", f"Missing required parameter: {parameter}")
