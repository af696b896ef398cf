"""Injected failures: the next ``count`` requests to a route fail in a chosen way."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auth0_emulator.validation import (
    ValidationError,
    as_mapping,
    read_bool,
    read_int,
    read_optional_str,
    read_str,
    reject_unknown,
)

MAX_DELAY_MS = 120_000


@dataclass(frozen=True)
class Fault:
    """How one request fails. With only ``delay_ms`` set, the request is served normally, late."""

    route: str
    status: int | None
    delay_ms: int
    drop_connection: bool
    malformed_body: bool
    content_type: str | None

    @property
    def answers_itself(self) -> bool:
        return self.drop_connection or self.malformed_body or self.status is not None

    @classmethod
    def parse(cls, body: object) -> tuple[Fault, int]:
        data: Mapping[str, Any] = as_mapping(body, "fault")
        allowed = {
            "route",
            "status",
            "delay_ms",
            "drop_connection",
            "malformed_body",
            "count",
            "content_type",
        }
        reject_unknown(data, allowed, "fault")
        route = read_str(data, "route", "fault")
        if not route.startswith("/"):
            raise ValidationError("fault.route: must be a path starting with /")
        status = None
        if data.get("status") is not None:
            status = read_int(data, "status", "fault", 0, (100, 599))
        fault = cls(
            route=route.split("?", 1)[0],
            status=status,
            delay_ms=read_int(data, "delay_ms", "fault", 0, (0, MAX_DELAY_MS)),
            drop_connection=read_bool(data, "drop_connection", "fault", False),
            malformed_body=read_bool(data, "malformed_body", "fault", False),
            content_type=read_optional_str(data, "content_type", "fault"),
        )
        return fault, read_int(data, "count", "fault", 1, (1, 1_000_000))

    def to_json(self) -> dict[str, Any]:
        return {
            "route": self.route,
            "status": self.status,
            "delay_ms": self.delay_ms,
            "drop_connection": self.drop_connection,
            "malformed_body": self.malformed_body,
            "content_type": self.content_type,
        }


@dataclass
class _Pending:
    fault: Fault
    remaining: int


class FaultPlan:
    """Queued faults per route, consumed first in, first out; safe across request threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[_Pending] = []

    def add(self, fault: Fault, count: int) -> None:
        with self._lock:
            self._queue.append(_Pending(fault, count))

    def take(self, route: str) -> Fault | None:
        with self._lock:
            for entry in self._queue:
                if entry.fault.route == route:
                    entry.remaining -= 1
                    if entry.remaining == 0:
                        self._queue.remove(entry)
                    return entry.fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [{**entry.fault.to_json(), "count": entry.remaining} for entry in self._queue]

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
