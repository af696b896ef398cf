"""The few Management API calls the doctor makes (``ropguard.outbound``'s one policy), and their token.

The token comes from the M2M client's ``client_credentials`` grant with the audience
``https://<domain>/api/v2/``; it lives only in this object. Errors carry Auth0's own message
(which names a missing scope, for instance), the method and the path, never a token or secret.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from ropguard.outbound import TRANSPORT_ERRORS, Origin, Reply, Timeouts, json_content
from ropguard_doctor.credentials import Credentials
from ropguard_doctor.desired import ProtectionKind
from ropguard_doctor.errors import ManagementApiError

#: Scopes the doctor's M2M client needs (README and docs/operations.md list them too).
SCOPES = ("read:clients", "update:clients", "read:attack_protection", "update:attack_protection", "read:logs")
DEFAULT_TIMEOUTS = Timeouts(connect_seconds=5.0, read_seconds=10.0)
#: Tenant logs come 20 events a page; larger answers than this are not the Management API's.
MAX_ANSWER_BYTES = 4 * 1024 * 1024
#: Sent with every call: JSON, never a compressed body.
HEADERS = (("Accept", "application/json"), ("Accept-Encoding", "identity"), ("User-Agent", "ropguard-doctor"))
#: Management API rate limits answer 429: wait for the reset (at most this long) and try again.
MAX_RATE_LIMIT_WAIT_SECONDS = 5.0
MAX_ATTEMPTS = 3
_JSON_TYPE = ("Content-Type", "application/json")


def audience(base_url: str) -> str:
    return f"{base_url.rstrip('/')}/api/v2/"


def auth0_message(response: Reply) -> str:
    """Auth0's description of a failure (``message`` on the Management API, ``error_description``
    on the token endpoint), or the status phrase; never the raw body, which may hold a token."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:300]
    return httpx.codes.get_reason_phrase(response.status) or f"HTTP {response.status}"


@dataclass
class ManagementApi:
    """One tenant's Management API, authenticated as the doctor's M2M client."""

    base_url: str
    credentials: Credentials = field(repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    _token: str | None = field(default=None, init=False, repr=False)
    http: Origin = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.base_url = self.base_url.rstrip("/")
        self.http = Origin(
            self.base_url, DEFAULT_TIMEOUTS, headers=HEADERS, max_answer_bytes=MAX_ANSWER_BYTES
        )

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> ManagementApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- token ----------------------------------------------------------------------------------

    def token(self) -> str:
        if self._token is None:
            body = {
                "grant_type": "client_credentials",
                "client_id": self.credentials.client_id,
                "client_secret": self.credentials.client_secret,
                "audience": audience(self.base_url),
            }
            try:
                response = self.http.request(
                    "POST", "/oauth/token", headers=[_JSON_TYPE], content=json_content(body)
                )
            except TRANSPORT_ERRORS as exc:
                raise ManagementApiError(0, f"POST /oauth/token: {type(exc).__name__}") from None
            if response.status != 200:
                raise ManagementApiError(
                    response.status,
                    f"the Management API token was refused for client {self.credentials.client_id} "
                    f"({response.status}: {auth0_message(response)})",
                )
            token = _json(response, "POST /oauth/token").get("access_token")
            if not isinstance(token, str) or not token:
                raise ManagementApiError(200, "POST /oauth/token: the answer holds no access_token")
            self._token = token
        return self._token

    # -- calls ----------------------------------------------------------------------------------

    def request(
        self, method: str, path: str, *, params: Mapping[str, str] | None = None, body: Any = None
    ) -> Any:
        where = f"{method} {path}"
        for attempt in range(1, MAX_ATTEMPTS + 1):
            headers = [("Authorization", f"Bearer {self.token()}")]
            if body is not None:
                headers.append(_JSON_TYPE)
            try:
                response = self.http.request(
                    method,
                    path,
                    params=params,
                    headers=headers,
                    content=None if body is None else json_content(body),
                )
            except TRANSPORT_ERRORS as exc:
                raise ManagementApiError(0, f"{where}: {type(exc).__name__}") from None
            if response.status == 429 and attempt < MAX_ATTEMPTS:
                self.sleep(_rate_limit_wait(response))
                continue
            if response.status >= 400:
                raise ManagementApiError(
                    response.status, f"{where}: {response.status} {auth0_message(response)}"
                )
            return _json(response, where) if response.content else None
        raise ManagementApiError(429, f"{where}: still rate limited after {MAX_ATTEMPTS} attempts")

    def client(self, client_id: str, fields: tuple[str, ...] = ()) -> dict[str, Any]:
        params = {"fields": ",".join(fields), "include_fields": "true"} if fields else None
        return _mapping(self.request("GET", f"/api/v2/clients/{quote(client_id, safe='')}", params=params))

    def patch_client(self, client_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return _mapping(self.request("PATCH", f"/api/v2/clients/{quote(client_id, safe='')}", body=body))

    def protection(self, kind: ProtectionKind) -> dict[str, Any]:
        return _mapping(self.request("GET", f"/api/v2/attack-protection/{kind}"))

    def patch_protection(self, kind: ProtectionKind, body: Mapping[str, Any]) -> dict[str, Any]:
        return _mapping(self.request("PATCH", f"/api/v2/attack-protection/{kind}", body=body))

    def logs(self, query: str, per_page: int = 20) -> list[dict[str, Any]]:
        """Tenant log events matching a Lucene ``q``, newest first."""
        params = {"q": query, "sort": "date:-1", "per_page": str(per_page), "page": "0"}
        events = self.request("GET", "/api/v2/logs", params=params)
        if not isinstance(events, list):
            raise ManagementApiError(200, "GET /api/v2/logs: the answer is not a list of events")
        return [event for event in events if isinstance(event, dict)]


def _rate_limit_wait(response: Reply) -> float:
    try:
        reset = float(response.headers.get("x-ratelimit-reset", ""))
    except ValueError:
        return 1.0
    return min(max(reset - time.time(), 0.5), MAX_RATE_LIMIT_WAIT_SECONDS)


def _json(response: Reply, where: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise ManagementApiError(response.status, f"{where}: the answer is not JSON") from None


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ManagementApiError(200, "the Management API answered something other than a JSON object")
    return value
