"""Auth0's ``POST /dbconnections/change_password``: asks Auth0 to email a password-reset link.

Auth0 answers 200 with plain text, the same for unknown users (Auth0's change-password reference,
quoted in docs/emulator.md), so a 200 is all we can know. Failures are sorted into transient (SQS
retries them) and permanent (dead-lettered).
"""

from __future__ import annotations

import http.cookiejar
from typing import Any

import httpx
from aws_lambda_powertools import Logger

from ropguard.errors import PermanentResetError, ResetFailedError, TransientResetError
from ropguard.settings import Auth0Settings
from ropguard.tls import tls_context_for

logger = Logger(child=True)

CHANGE_PASSWORD_PATH = "/dbconnections/change_password"  # noqa: S105 - a URL path


#: httpx retries only failed connects (httpcore ConnectError/ConnectTimeout), before a byte is sent.
CONNECT_RETRIES = 1

__all__ = [
    "ChangePasswordClient",
    "PermanentResetError",
    "RefuseAllCookies",
    "ResetFailedError",
    "TransientResetError",
    "build_http_client",
]


class RefuseAllCookies(http.cookiejar.DefaultCookiePolicy):
    """Stores no cookie. One client serves every reset of a container, so a cookie Auth0 sets on
    one user's answer must never ride along on the next user's request; httpx's default jar would
    keep and resend it. (The API functions' client, ``ropguard.http_pool``, has no jar at all.)"""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


def build_http_client(settings: Auth0Settings) -> httpx.Client:
    """A keep-alive httpx client for the tenant with explicit timeouts (the password-reset function's).

    The API functions talk to Auth0 through ``ropguard.auth0_client.tenant_origin`` instead (the
    standard library's http.client: their warm path); this function's one call per queued reset
    does not need that.
    """
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_seconds,
        read=settings.read_timeout_seconds,
        write=settings.read_timeout_seconds,
        pool=settings.connect_timeout_seconds,
    )
    return httpx.Client(
        base_url=settings.base_url,
        timeout=timeout,
        transport=httpx.HTTPTransport(retries=CONNECT_RETRIES, verify=tls_context_for(settings.base_url)),
        # The tenant is configured explicitly; proxy variables must not redirect requests.
        trust_env=False,
        follow_redirects=False,
        headers={"Accept": "application/json"},
        cookies=http.cookiejar.CookieJar(policy=RefuseAllCookies()),
    )


class ChangePasswordClient:
    """Calls change_password with the tenant's httpx client (``build_http_client``)."""

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
