"""The subset of Auth0's user search (``GET /api/v2/users``, search engine v3) ropguard sends (no HTTP here).

A query is ``field:"value"`` terms joined by ``AND`` on ``email``, ``username`` and
``identities.connection``. Auth0 compares ``email`` ignoring case and other fields exactly; anything
else (other fields, ``OR``/``NOT``, wildcards, unquoted values, parentheses) is refused as a query
the emulator cannot answer, rather than answered wrongly.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

from auth0_emulator.directory import User

SEARCH_ENGINES: Final = frozenset({"v3"})
_FIELDS: Final[dict[str, Callable[[User], str | None]]] = {
    "email": lambda user: user.email,
    "username": lambda user: user.username,
    "identities.connection": lambda user: user.connection,
}
# Auth0: email (with name, given_name, family_name, nickname) is matched ignoring case.
_CASE_INSENSITIVE: Final = frozenset({"email"})
_TERM: Final = re.compile(r'(?P<field>[a-z_.]+):"(?P<value>(?:[^"\\]|\\.)*)"')
_AND: Final = " AND "


class UserQueryError(ValueError):
    """A query outside the subset (answered 400, like Auth0's own refusal of a bad query)."""


@dataclass(frozen=True)
class UserQuery:
    terms: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, q: str | None, search_engine: str | None) -> UserQuery:
        if search_engine not in SEARCH_ENGINES:
            raise UserQueryError("search_engine: only v3 is supported")
        if not q or not q.strip():
            raise UserQueryError("q: a query is required")
        terms = []
        for part in q.strip().split(_AND):
            match = _TERM.fullmatch(part.strip())
            if match is None:
                raise UserQueryError(f'q: expected field:"value" terms joined by AND, got {part.strip()!r}')
            field = match["field"]
            if field not in _FIELDS:
                raise UserQueryError(f"q: field {field!r} is not searchable here")
            terms.append((field, re.sub(r"\\(.)", r"\1", match["value"])))
        return cls(tuple(terms))

    def matches(self, user: User) -> bool:
        return all(_equal(field, _FIELDS[field](user), value) for field, value in self.terms)


def _equal(field: str, actual: str | None, wanted: str) -> bool:
    if actual is None:
        return False
    if field in _CASE_INSENSITIVE:
        return actual.lower() == wanted.lower()
    return actual == wanted


def user_json(user: User) -> dict[str, Any]:
    """The user as Auth0's Management API shows it (the fields the emulator knows)."""
    _, _, local_id = user.user_id.partition("|")
    body: dict[str, Any] = {
        "user_id": user.user_id,
        "email": user.email,
        "email_verified": user.email_verified,
        "identities": [
            {"connection": user.connection, "provider": "auth0", "user_id": local_id, "isSocial": False}
        ],
        "blocked": user.blocked,
    }
    if user.username is not None:
        body["username"] = user.username
    return body
