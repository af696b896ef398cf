"""HTTP access to the Auth0 Authentication API: one keep-alive origin per container (``ropguard.outbound``).

A password grant must never reach Auth0 twice: each copy counts toward brute-force protection.
So the only retry is the connect retry, which fires before a byte of the request is written; a
broken or slow exchange afterwards is reported, not repeated. The origin has no cookie jar,
follows no redirect, reads no proxy variable, caps the answer's size and ends every exchange by
its deadline: one client serves every end user of a container, and nothing of one user's exchange
reaches the next one's.

The client authenticates as the tenant's application expects (``token_endpoint_auth_method``):
``client_secret_post`` puts ``client_id`` and ``client_secret`` in the body, ``client_secret_basic``
in an ``Authorization: Basic`` header (RFC 6749 section 2.3.1: each URL-encoded, then joined by a
colon and base64-encoded).
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import quote

import httpcore

from ropguard.credentials import ClientCredentials
from ropguard.errors import UpstreamTimeoutError, UpstreamUnreachableError
from ropguard.outbound import (
    TIMEOUT_ERRORS,
    TRANSPORT_ERRORS,
    Origin,
    Reply,
    Timeouts,
    json_content,
    require_fits,
)
from ropguard.settings import CLIENT_SECRET_BASIC, Auth0Settings

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
#: would have to decode (Auth0's answers are a few hundred bytes).
DEFAULT_HEADERS: Final = (
    ("Accept", "application/json"),
    ("Accept-Encoding", "identity"),
    ("User-Agent", "ropguard"),
)
JSON_CONTENT_TYPE: Final = ("Content-Type", "application/json")


def tenant_origin(settings: Auth0Settings, *, network: httpcore.NetworkBackend | None = None) -> Origin:
    """The container's keep-alive origin for the tenant, with the configured timeouts.

    Built on a function's first invocation, so a worst case of the timeouts that does not fit the
    function's timeout is refused here, naming the read timeout.
    """
    origin = Origin(
        settings.base_url,
        Timeouts(settings.connect_timeout_seconds, settings.read_timeout_seconds),
        retries=CONNECT_RETRIES,
        headers=DEFAULT_HEADERS,
        network=network,
    )
    require_fits(origin.budget_seconds, "AUTH0_READ_TIMEOUT_SECONDS")
    return origin


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


def _token_request_body(grant: PasswordGrant) -> dict[str, str]:
    body = {
        "grant_type": PASSWORD_REALM_GRANT if grant.realm else PASSWORD_GRANT,
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


def basic_authorization(credentials: ClientCredentials) -> str:
    """RFC 6749 section 2.3.1: ``Basic base64(urlencode(id) ":" urlencode(secret))``."""
    pair = f"{quote(credentials.client_id, safe='')}:{quote(credentials.client_secret, safe='')}"
    return f"Basic {base64.b64encode(pair.encode('utf-8')).decode('ascii')}"


class TokenEndpoint:
    """The tenant's Authentication API, always with the end user's IP in auth0-forwarded-for.

    ``request_token`` sends password grants; ``send`` every other call. Both go through the one
    origin and never retry once a byte may have reached Auth0. Timeouts (the deadline included)
    become ``UpstreamTimeoutError`` (504), every other transport failure (an oversized answer
    included) ``UpstreamUnreachableError`` (502), each with the failure's class name as its reason.
    """

    def __init__(self, origin: Origin, *, basic_auth: bool = False) -> None:
        self._origin = origin
        self._basic_auth = basic_auth

    @classmethod
    def for_tenant(cls, settings: Auth0Settings) -> TokenEndpoint:
        """The tenant's endpoint, authenticating the client as configured."""
        return cls(tenant_origin(settings), basic_auth=settings.client_auth_method == CLIENT_SECRET_BASIC)

    def close(self) -> None:
        self._origin.close()

    def request_token(
        self, grant: PasswordGrant, credentials: ClientCredentials, *, forwarded_for: str
    ) -> Auth0Reply:
        headers = [(FORWARDED_FOR_HEADER, forwarded_for)]
        return self._post(TOKEN_PATH, _token_request_body(grant), credentials, headers)

    def send(
        self, call: Auth0Call, credentials: ClientCredentials | None, *, forwarded_for: str
    ) -> Auth0Reply:
        headers = [(FORWARDED_FOR_HEADER, forwarded_for)]
        if call.bearer is not None:
            headers.append(("Authorization", f"Bearer {call.bearer}"))
        if call.method != "POST":
            return self._exchange(call.method, call.path, headers, None)
        return self._post(call.path, dict(call.fields), credentials if call.client_auth else None, headers)

    def _post(
        self,
        path: str,
        body: dict[str, str],
        credentials: ClientCredentials | None,
        headers: list[tuple[str, str]],
    ) -> Auth0Reply:
        """A JSON POST, the client authenticated by the configured method when credentials are given."""
        headers = [*headers, JSON_CONTENT_TYPE]
        if credentials is not None and self._basic_auth:
            headers.append(("Authorization", basic_authorization(credentials)))
        elif credentials is not None:
            body = {"client_id": credentials.client_id, "client_secret": credentials.client_secret, **body}
        return self._exchange("POST", path, headers, json_content(body))

    def _exchange(
        self, method: str, path: str, headers: list[tuple[str, str]], content: bytes | None
    ) -> Auth0Reply:
        try:
            reply = self._origin.request(method, path, headers=headers, content=content)
        except TIMEOUT_ERRORS as exc:
            raise UpstreamTimeoutError(type(exc).__name__) from None
        except TRANSPORT_ERRORS as exc:
            raise UpstreamUnreachableError(type(exc).__name__) from None
        return Auth0Reply(status=reply.status, body=json_body(reply), headers=reply.headers)


def json_body(reply: Reply) -> Any:
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
        return reply.json()
    except ValueError:
        return None
