"""The emulator's transport-neutral request and response, so routing never touches sockets."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass(frozen=True)
class HttpRequest:
    method: str
    path: str
    query: Mapping[str, list[str]]
    headers: Mapping[str, list[str]]  # lower-case names; every value as received
    body: bytes
    peer_ip: str

    def header(self, name: str) -> str | None:
        """The single value of a header; repeated headers are joined the way HTTP folds them."""
        values = self.headers.get(name.lower())
        return None if not values else ", ".join(values)

    def query_value(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    @classmethod
    def build(
        cls, method: str, target: str, headers: list[tuple[str, str]], body: bytes, peer_ip: str
    ) -> HttpRequest:
        path, _, query = target.partition("?")
        grouped: dict[str, list[str]] = {}
        for name, value in headers:
            grouped.setdefault(name.lower(), []).append(value)
        return cls(method.upper(), path, parse_qs(query, keep_blank_values=True), grouped, body, peer_ip)


@dataclass
class HttpResponse:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, payload: Any, headers: Mapping[str, str] | None = None) -> HttpResponse:
        return cls(
            status, json.dumps(payload).encode(), "application/json; charset=utf-8", dict(headers or {})
        )

    @classmethod
    def text(cls, status: int, text: str, headers: Mapping[str, str] | None = None) -> HttpResponse:
        return cls(status, text.encode(), "text/plain; charset=utf-8", dict(headers or {}))

    @classmethod
    def html(cls, status: int, html: str) -> HttpResponse:
        return cls(status, html.encode(), "text/html; charset=utf-8")

    @classmethod
    def empty(cls, status: int) -> HttpResponse:
        return cls(status)
