"""An API Gateway proxy event (payload 2.0 or 1.0) read once into a small typed view.

Plain dict reads, no Powertools data classes: this runs on every API invocation and its imports
count toward the cold start. Header names are lower-cased (both payload versions are
case-insensitive). Cookies come from payload 2.0's ``cookies`` list, or the ``Cookie`` header of
payload 1.0, and are never in a repr (cookie mode's cookie seals a refresh token). Nothing here
decides the end user's address: that is ``client_address``'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class ApiEvent:
    """What the edge needs from an event; ``body`` may hold secrets, so it is never in a repr."""

    version: str
    method: str
    path: str
    route_key: str
    request_id: str
    headers: Mapping[str, str] = field(repr=False)
    body: object = field(repr=False)
    is_base64_encoded: bool
    raw: Mapping[str, Any] = field(repr=False)
    cookies: Mapping[str, str] = field(default_factory=dict, repr=False)

    def header(self, name: str) -> str | None:
        return self.headers.get(name.lower())

    def cookie(self, name: str) -> str | None:
        """The value of the cookie ``name`` (case-sensitive, as cookie names are), or None."""
        return self.cookies.get(name)


def _headers(event: Mapping[str, Any]) -> dict[str, str]:
    raw = event.get("headers")
    if not isinstance(raw, Mapping):
        return {}
    return {str(key).lower(): value for key, value in raw.items() if isinstance(value, str)}


def _cookies(event: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, str]:
    """``name=value`` pairs; the first of a repeated name wins (browsers send the most specific first)."""
    raw = event.get("cookies")
    pairs = [item for item in raw if isinstance(item, str)] if isinstance(raw, list) else []
    if not pairs and "cookie" in headers:
        pairs = headers["cookie"].split(";")
    cookies: dict[str, str] = {}
    for pair in pairs:
        name, sep, value = pair.strip().partition("=")
        if sep and name:
            cookies.setdefault(name.strip(), value.strip())
    return cookies


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def read_event(event: Mapping[str, Any]) -> ApiEvent:
    """The typed view; missing or odd parts become empty strings (the route decides what it needs)."""
    context = event.get("requestContext")
    context = context if isinstance(context, Mapping) else {}
    if event.get("version") == "2.0":
        http = context.get("http")
        http = http if isinstance(http, Mapping) else {}
        method = _text(http.get("method")).upper()
        path = _text(event.get("rawPath")) or _text(http.get("path"))
        route_key = _text(event.get("routeKey")) or f"{method} {path}"
        version = "2.0"
    else:
        method = _text(event.get("httpMethod")).upper()
        path = _text(event.get("path"))
        resource = _text(event.get("resource")) or path
        route_key = f"{method} {resource}"
        version = "1.0"
    headers = _headers(event)
    return ApiEvent(
        version=version,
        method=method,
        path=path,
        route_key=route_key,
        request_id=_text(context.get("requestId")),
        headers=headers,
        body=event.get("body"),
        is_base64_encoded=event.get("isBase64Encoded") is True,
        raw=event,
        cookies=_cookies(event, headers),
    )
