"""HTTP access to the Auth0 Authentication API: one pooled connection per container (http.client).

A password grant must never reach Auth0 twice: each copy counts toward brute-force protection.
So the only retry is the pool's connect retry, which fires before a byte of the request is written;
a broken or slow exchange afterwards is reported, not repeated. The pool (``ropguard.http_pool``)
has no cookie jar, follows no redirect and reads no proxy variable: one client serves every end
user of a container, and nothing of one user's exchange reaches the next one's.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

from ropguard.credentials import ClientCredentials
from ropguard.errors import UpstreamTimeoutError, UpstreamUnreachableError
from ropguard.http_pool import (
    TIMEOUT_ERRORS,
    TRANSPORT_ERRORS,
    HttpReply,
    Opener,
    PooledOrigin,
    Timeouts,
    json_content,
)
from ropguard.settings import Auth0Settings

PASSWORD_GRANT = "password"  # noqa: S105 - a grant type name
PASSWORD_REALM_GRANT = "http://auth0.com/oauth/grant-type/password-realm"  # noqa: S105
MFA_OTP_GRANT = "http://auth0.com/oauth/grant-type/mfa-otp"
MFA_OOB_GRANT = "http://auth0.com/oauth/grant-type/mfa-oob"
MFA_RECOVERY_CODE_GRANT = "http://auth0.com/oauth/grant-type/mfa-recovery-code"
REFRESH_TOKEN_GRANT = "refresh_token"  # noqa: S105
FORWARDED_FOR_HEADER = "auth0-forwarded-for"
CONNECT_RETRIES = 1
TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - a URL path

#: Sent with every request. ``identity``: an answer is JSON as sent, never a compressed body we
#: would have to decode (httpx asked for gzip and decoded it; Auth0's answers are a few hundred bytes).
DEFAULT_HEADERS: Final = (
    (b"Accept", b"application/json"),
    (b"Accept-Encoding", b"identity"),
    (b"User-Agent", b"ropguard"),
)
JSON_CONTENT_TYPE: Final = (b"Content-Type", b"application/json")
_FORWARDED_FOR: Final = FORWARDED_FOR_HEADER.encode("ascii")
_METHODS: Final = {"GET": b"GET", "POST": b"POST"}


def tenant_origin(settings: Auth0Settings, *, opener: Opener | None = None) -> PooledOrigin:
    """The container's keep-alive connection to the tenant, with the configured timeouts."""
    return PooledOrigin(
        settings.base_url,
        Timeouts(
            connect_seconds=settings.connect_timeout_seconds, read_seconds=settings.read_timeout_seconds
        ),
        retries=CONNECT_RETRIES,
        default_headers=DEFAULT_HEADERS,
        opener=opener,
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
    pooled connection and never retry once a byte may have reached Auth0. Timeouts become
    ``Auth0TimeoutError`` (504), every other transport failure ``Auth0UnreachableError`` (502), each
    with the failure's class name (``ropguard.http_pool``'s, named as httpx names them) as its reason.
    """

    def __init__(self, origin: PooledOrigin) -> None:
        self._origin = origin

    def close(self) -> None:
        self._origin.close()

    def request_token(
        self, grant: PasswordGrant, credentials: ClientCredentials, *, forwarded_for: str
    ) -> Auth0Reply:
        return self._exchange(
            b"POST",
            TOKEN_PATH,
            [JSON_CONTENT_TYPE, (_FORWARDED_FOR, forwarded_for.encode("ascii"))],
            json_content(_token_request_body(grant, credentials)),
        )

    def send(
        self, call: Auth0Call, credentials: ClientCredentials | None, *, forwarded_for: str
    ) -> Auth0Reply:
        headers = [(_FORWARDED_FOR, forwarded_for.encode("ascii"))]
        if call.bearer is not None:
            headers.append((b"Authorization", f"Bearer {call.bearer}".encode("ascii")))
        content: bytes | None = None
        if call.method == "POST":
            body = dict(call.fields)
            if call.client_auth and credentials is not None:
                body["client_id"] = credentials.client_id
                body["client_secret"] = credentials.client_secret
            headers.append(JSON_CONTENT_TYPE)
            content = json_content(body)
        return self._exchange(
            _METHODS.get(call.method) or call.method.encode("ascii"), call.path, headers, content
        )

    def _exchange(
        self, method: bytes, path: str, headers: list[tuple[bytes, bytes]], content: bytes | None
    ) -> Auth0Reply:
        try:
            reply = self._origin.request(method, path, headers=headers, content=content)
        except TIMEOUT_ERRORS as exc:
            raise Auth0TimeoutError(type(exc).__name__) from None
        except TRANSPORT_ERRORS as exc:
            raise Auth0UnreachableError(type(exc).__name__) from None
        return Auth0Reply(status=reply.status, body=json_body(reply), headers=reply.headers)


def json_body(reply: HttpReply) -> Any:
    """The parsed body, or None unless it is declared JSON, not content-encoded, and parses.

    Auth0 always answers ``application/json``; a body under another type (an HTML error page, a
    captive portal, a misrouted proxy) is not Auth0's answer even when its bytes happen to parse,
    so it must never be passed on as tokens. We ask for ``identity``, so an encoded body is not an
    answer we can read either.
    """
    media_type = reply.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        return None
    if reply.headers.get("content-encoding", "identity").strip().lower() not in ("", "identity"):
        return None
    try:
        return json.loads(reply.content)
    except ValueError:
        return None
