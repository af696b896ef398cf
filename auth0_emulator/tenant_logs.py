"""Tenant logs: the events Auth0 writes for each login, exchange and block, and the query subset of
``GET /api/v2/logs`` (Lucene ``field:value`` terms joined by AND, sort by date, pages).

State and rules only; no HTTP. ``ip`` is the attributed address, ``client_ip`` the TCP peer: the pair
that tells an operator whether ``auth0-forwarded-for`` was honoured.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_EVENTS = 100_000
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 50
BARE_TERM_FIELDS = ("client_name", "connection", "user_name")
QUERY_FIELDS = frozenset(
    {"type", "user_name", "user_id", "ip", "client_ip", "client_id", "client_name", "connection", "log_id"}
)

# Type -> Auth0's description (Log Event Type Codes page).
DESCRIPTIONS = {
    "s": "Success Login",
    "f": "Failed Login",
    "fp": "Wrong email or password.",
    "fu": "Wrong email or password.",
    "pwd_leak": "Breached password",
    "limit_wc": "Blocked Account",
    "limit_mu": "Blocked IP Address",
    "mfar": "Multifactor authentication required",
    "sepft": "Successful exchange of password for access token",
    "fepft": "Failed exchange of password for access token",
    "sertft": "Successful exchange of refresh token for access token",
    "fertft": "Failed exchange of refresh token for access token",
    "seotpft": "Successful exchange of one-time password for access token",
    "feotpft": "Failed exchange of one-time password for access token",
    "seoobft": "Successful exchange of out-of-band code for access token",
    "feoobft": "Failed exchange of out-of-band code for access token",
    "sercft": "Successful exchange of recovery code for access token",
    "fercft": "Failed exchange of recovery code for access token",
    "seccft": "Successful exchange of client credentials for access token",
    "feccft": "Failed exchange of client credentials for access token",
    "srrt": "Successfully revoked a refresh token",
}


class LogQueryError(ValueError):
    """A ``q``, ``sort``, ``page`` or ``per_page`` the emulator cannot answer (400)."""


@dataclass(frozen=True)
class LogEvent:
    log_id: str
    date: float
    type: str
    ip: str
    client_ip: str
    client_id: str | None
    client_name: str | None
    user_id: str | None
    user_name: str | None
    connection: str | None
    description: str
    details: Mapping[str, Any] = field(default_factory=dict)

    def to_api(self) -> dict[str, Any]:
        when = datetime.fromtimestamp(self.date, tz=UTC).isoformat(timespec="milliseconds")
        return {
            "log_id": self.log_id,
            "date": when.replace("+00:00", "Z"),
            "type": self.type,
            "description": self.description,
            "ip": self.ip,
            "client_ip": self.client_ip,
            "client_id": self.client_id,
            "client_name": self.client_name,
            "user_id": self.user_id,
            "user_name": self.user_name,
            "connection": self.connection,
            "details": dict(self.details),
        }


@dataclass(frozen=True)
class Term:
    """One clause: quoted values match exactly, unquoted ones as a prefix (both ignoring case).

    ``field`` None is a bare value, searched in ``client_name``, ``connection`` and ``user_name``.
    """

    field: str | None
    value: str
    exact: bool

    def matches(self, event: LogEvent) -> bool:
        names = (self.field,) if self.field is not None else BARE_TERM_FIELDS
        for name in names:
            actual = getattr(event, name)
            if actual is None:
                continue
            text, wanted = str(actual).lower(), self.value.lower()
            if text == wanted or (not self.exact and text.startswith(wanted)):
                return True
        return False


@dataclass(frozen=True)
class LogQuery:
    terms: tuple[Term, ...] = ()
    newest_first: bool = True
    page: int = 0
    per_page: int = DEFAULT_PER_PAGE

    @classmethod
    def parse(cls, q: str | None, sort: str | None, page: str | None, per_page: str | None) -> LogQuery:
        return cls(
            terms=parse_lucene(q or ""),
            newest_first=_sort(sort),
            page=_int(page, "page", 0, 0, None),
            per_page=_int(per_page, "per_page", DEFAULT_PER_PAGE, 0, MAX_PER_PAGE),
        )


_TERM = re.compile(r'(?:([a-z_]+):)?(?:"((?:[^"\\]|\\.)*)"|([^\s"():\[\]{}]+))(?=\s|$)')
_JOINER = re.compile(r"\s+AND\s+|\s+")
_OTHER_OPERATOR = re.compile(r"(?:OR|NOT|\|\||&&|!)\s")


def parse_lucene(q: str) -> tuple[Term, ...]:
    """``type:"fp" AND user_name:x``: terms joined by AND (whitespace alone also means AND)."""
    terms: list[Term] = []
    position = 0
    text = q.strip()
    while position < len(text):
        if terms:
            joiner = _JOINER.match(text, position)
            if joiner is None:
                raise LogQueryError(f"q: expected AND at position {position}")
            position = joiner.end()
        if _OTHER_OPERATOR.match(text, position):
            raise LogQueryError("q: only AND is supported")
        match = _TERM.match(text, position)
        if match is None:
            raise LogQueryError(
                'q: only field:value or field:"value" terms joined by AND are supported '
                f"(at position {position})"
            )
        name = match.group(1)
        if name is not None and name not in QUERY_FIELDS:
            raise LogQueryError(
                f"q: unsupported field {name!r}; use one of {', '.join(sorted(QUERY_FIELDS))}"
            )
        value = match.group(2) if match.group(2) is not None else match.group(3)
        if match.group(3) is not None and ("*" in value or "?" in value):
            raise LogQueryError("q: wildcards are not supported")
        terms.append(Term(name, re.sub(r"\\(.)", r"\1", value), exact=match.group(2) is not None))
        position = match.end()
    return tuple(terms)


def _sort(sort: str | None) -> bool:
    if sort in (None, "", "date:-1"):
        return True
    if sort == "date:1":
        return False
    raise LogQueryError("sort: must be date:1 or date:-1")


def _int(text: str | None, name: str, default: int, minimum: int, maximum: int | None) -> int:
    if text in (None, ""):
        return default
    if not text.isdigit():
        raise LogQueryError(f"{name}: expected a non-negative integer")
    value = int(text)
    if value < minimum or (maximum is not None and value > maximum):
        raise LogQueryError(f"{name}: must be between {minimum} and {maximum}")
    return value


class TenantLogs:
    """The tenant's events, oldest first, at most ``MAX_EVENTS`` (the oldest fall off)."""

    def __init__(self) -> None:
        self._events: deque[LogEvent] = deque(maxlen=MAX_EVENTS)
        self._sequence = itertools.count(1)

    def write(self, event_type: str, *, now: float, ip: str, client_ip: str, **fields: Any) -> LogEvent:
        event = LogEvent(
            log_id=f"90020{next(self._sequence):015d}",
            date=now,
            type=event_type,
            ip=ip,
            client_ip=client_ip,
            client_id=fields.get("client_id"),
            client_name=fields.get("client_name"),
            user_id=fields.get("user_id"),
            user_name=fields.get("user_name"),
            connection=fields.get("connection"),
            description=fields.get("description") or DESCRIPTIONS.get(event_type, event_type),
            details=fields.get("details") or {},
        )
        self._events.append(event)
        return event

    def get(self, log_id: str) -> LogEvent | None:
        return next((e for e in self._events if e.log_id == log_id), None)

    def search(self, query: LogQuery) -> tuple[list[LogEvent], int]:
        """One page of matching events and the number of matches."""
        matching = [e for e in self._events if _matches(e, query.terms)]
        if query.newest_first:
            matching.reverse()
        start = query.page * query.per_page
        return matching[start : start + query.per_page], len(matching)


def _matches(event: LogEvent, terms: tuple[Term, ...]) -> bool:
    return all(term.matches(event) for term in terms)
