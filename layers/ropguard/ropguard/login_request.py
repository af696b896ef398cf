"""The POST /login body: JSON or form, maybe base64, turned into a validated ``LoginRequest``.

Every rejection says precisely what is wrong so client developers can fix it, and never repeats
the password. Only ``username``, ``password`` and ``scope`` are read; any other field is ignored and
never reaches Auth0 (audience and realm come from configuration). The body rules are shared with
the other routes in ``ropguard.request_body``.

The username is what Auth0 counts attempts against and what breach events, dead letters and log
lines carry, so it is normalised to Unicode NFC (one spelling per name: a composed and a decomposed
"é" are the same user) and refused when it holds a control or format character (Unicode categories
Cc and Cf: a bidi override such as U+202E or a zero-width space U+200B makes a name look like
another in every place it is shown). The password is passed on exactly as sent.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from typing import Any

from ropguard.api_event import ApiEvent
from ropguard.errors import InvalidRequestError
from ropguard.request_body import FORM, JSON, MAX_FORM_FIELDS, body_fields, scope_field, string_field

__all__ = [
    "FORM",
    "JSON",
    "MAX_FORM_FIELDS",
    "MAX_PASSWORD_CHARS",
    "MAX_USERNAME_CHARS",
    "LoginRequest",
    "parse_login_body",
    "username_field",
]

# Auth0 caps usernames and emails well below these; the caps keep hostile input small.
MAX_USERNAME_CHARS = 256
MAX_PASSWORD_CHARS = 1024


#: Unicode categories refused in a username: control (Cc) and format (Cf) characters.
REFUSED_CATEGORIES = frozenset({"Cc", "Cf"})
USERNAME_RULE = "must not contain control or format characters (Unicode categories Cc, Cf)"


@dataclass(frozen=True, slots=True)
class LoginRequest:
    username: str
    password: str = field(repr=False)
    scope: str


def parse_login_body(event: ApiEvent, *, max_body_bytes: int, scopes: tuple[str, ...]) -> LoginRequest:
    """Validate the body of a typed event; no scope asked means every configured scope."""
    fields = body_fields(event, max_body_bytes)
    return LoginRequest(
        username=username_field(fields),
        password=string_field(fields, "password", MAX_PASSWORD_CHARS),
        scope=scope_field(fields, scopes) or " ".join(scopes),
    )


def username_field(fields: dict[str, Any]) -> str:
    """The username in NFC, or ``InvalidRequestError`` naming the rule it breaks (never echoing it)."""
    username = unicodedata.normalize("NFC", string_field(fields, "username", MAX_USERNAME_CHARS))
    if len(username) > MAX_USERNAME_CHARS:
        raise InvalidRequestError(f"field 'username' is longer than {MAX_USERNAME_CHARS} characters")
    # str.isprintable is False for every Cc and Cf character: the common name skips the scan.
    if not username.isprintable() and any(unicodedata.category(c) in REFUSED_CATEGORIES for c in username):
        raise InvalidRequestError(f"field 'username' {USERNAME_RULE}")
    return username
