"""HTTP access to the Auth0 Authentication API: one pooled httpx client per container.

A password grant must never reach Auth0 twice: each copy counts toward brute-force protection.
So the only retry is httpx's transport-level connect retry, which fires before a byte of the
request is written; a broken or slow exchange afterwards is reported, not repeated.
"""

from __future__ import annotations

import http.cookiejar
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from ropguard.credentials import ClientCredentials
from ropguard.errors import UpstreamTimeoutError, UpstreamUnreachableError
from ropguard.settings import Auth0Settings
from ropguard.tls import tls_context_for

PASSWORD_GRANT = "password"  # noqa: S105 - a grant type name
PASSWORD_REALM_GRANT = "http://auth0.com/oauth/grant-type/password-realm"  # noqa: S105
MFA_OTP_GRANT = "http://auth0.com/oauth/grant-type/mfa-otp"
MFA_OOB_GRANT = "http://auth0.com/oauth/grant-type/mfa-oob"
MFA_RECOVERY_CODE_GRANT = "http://auth0.com/oauth/grant-type/mfa-recovery-code"
REFRESH_TOKEN_GRANT = "refresh_token"  # noqa: S105
FORWARDED_FOR_HEADER = "auth0-forwarded-for"
CONNECT_RETRIES = 1


class RefuseAllCookies(http.cookiejar.DefaultCookiePolicy):
    """Stores no cookie. One client serves every end user of a container, so a cookie Auth0 sets
    on one user's answer (a device or session cookie) must never ride along on the next user's
    request; httpx's default jar would keep and resend it."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


def build_http_client(settings: Auth0Settings) -> httpx.Client:
    """A keep-alive client for the tenant with explicit timeouts (also used for /dbconnections)."""
    timeout = httpx.Timeout(
        connect=settings.connect_timeout_seconds,
        read=settings.read_timeout_seconds,
        write=settings.read_timeout_seconds,
        pool=settings.connect_timeout_seconds,
    )
    return httpx.Client(
        base_url=settings.base_url,
        timeout=timeout,
        # httpx retries only failed connects (httpcore ConnectError/ConnectTimeout).
        transport=httpx.HTTPTransport(retries=CONNECT_RETRIES, verify=tls_context_for(settings.base_url)),
        # The tenant is configured explicitly; proxy variables must not redirect passwords.
        trust_env=False,
        follow_redirects=False,
        headers={"Accept": "application/json"},
        cookies=http.cookiejar.CookieJar(policy=RefuseAllCookies()),
    )


# The names the services know; classes of ``ropguard.errors``.
Auth0TimeoutError = UpstreamTimeoutError
Auth0UnreachableError = UpstreamUnreachableError


@dataclass(frozen=True, slots=True)
class Auth0Reply:
    status: int
    body: Any = field(repr=False)  # parsed JSON, or None when the body was not JSON
    headers: Mapping[str, str] = field(repr=False)


@dataclass(frozen=True, slots=True)
class PasswordGrant:
    username: str
    password: str = field(repr=False)
    scope: str
    audience: str | None
    realm: str | None


def _token_request_body(grant: PasswordGrant, credentials: ClientCredentials) -> dict[str, str]:
    body = {
        "grant_type": PASSWORD_REALM_GRANT if grant.realm else PASSWORD_GRANT,
        "client_id": credentials.client_id,
        "client_secret": credentials.client_secret,
        "username": grant.username,
        "password": grant.password,
        "scope": grant.scope,
    }
    if grant.realm:
        body["realm"] = grant.realm
    if grant.audience:
        body["audience"] = grant.audience
    return body


@dataclass(frozen=True, slots=True)
class Auth0Call:
    """One Authentication API request besides the password grant (MFA, refresh, revoke).

    ``fields`` (JSON body) and ``bearer`` hold tokens and codes: never in a repr. With
    ``client_auth`` the client id and secret are added to the body when it is sent.
    """

    method: str
    path: str
    fields: Mapping[str, str] = field(default_factory=dict, repr=False)
    bearer: str | None = field(default=None, repr=False)
    client_auth: bool = True


class TokenEndpoint:
    """The tenant's Authentication API, always with the end user's IP in auth0-forwarded-for.

    ``request_token`` sends password grants; ``send`` every other call. Both go through the one
    pooled client and never retry once a byte may have reached Auth0.
    """

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def close(self) -> None:
        self._http.close()

    def request_token(
        self, grant: PasswordGrant, credentials: ClientCredentials, *, forwarded_for: str
    ) -> Auth0Reply:
        try:
            response = self._http.post(
                "/oauth/token",
                json=_token_request_body(grant, credentials),
                headers={FORWARDED_FOR_HEADER: forwarded_for},
            )
        except httpx.TimeoutException as exc:
            raise Auth0TimeoutError(type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise Auth0UnreachableError(type(exc).__name__) from None
        return Auth0Reply(status=response.status_code, body=json_body(response), headers=response.headers)

    def send(
        self, call: Auth0Call, credentials: ClientCredentials | None, *, forwarded_for: str
    ) -> Auth0Reply:
        headers = {FORWARDED_FOR_HEADER: forwarded_for}
        if call.bearer is not None:
            headers["Authorization"] = f"Bearer {call.bearer}"
        body: dict[str, str] | None = None
        if call.method == "POST":
            body = dict(call.fields)
            if call.client_auth and credentials is not None:
                body["client_id"] = credentials.client_id
                body["client_secret"] = credentials.client_secret
        try:
            response = self._http.request(call.method, call.path, json=body, headers=headers)
        except httpx.TimeoutException as exc:
            raise Auth0TimeoutError(type(exc).__name__) from None
        except httpx.TransportError as exc:
            raise Auth0UnreachableError(type(exc).__name__) from None
        return Auth0Reply(status=response.status_code, body=json_body(response), headers=response.headers)


def json_body(response: httpx.Response) -> Any:
    """The parsed body, or None unless it is declared JSON and parses.

    Auth0 always answers ``application/json``; a body under another type (an HTML error page, a
    captive portal, a misrouted proxy) is not Auth0's answer even when its bytes happen to parse,
    so it must never be passed on as tokens.
    """
    media_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        return None
    try:
        return response.json()
    except ValueError:
        return None
