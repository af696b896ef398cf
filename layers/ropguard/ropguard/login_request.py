"""The POST /login body: JSON or form, maybe base64, turned into a validated ``LoginRequest``.

Every rejection says precisely what is wrong so client developers can fix it, and never repeats
the password. Only ``username``, ``password`` and ``scope`` are read; any other field is ignored and
never reaches Auth0 (audience and realm come from configuration). The body rules are shared with
the other routes in ``ropguard.request_body``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ropguard.api_event import ApiEvent, read_event
from ropguard.errors import InvalidRequestError
from ropguard.request_body import FORM, JSON, MAX_FORM_FIELDS, body_fields, scope_field, string_field

__all__ = [
    "FORM",
    "JSON",
    "MAX_FORM_FIELDS",
    "MAX_PASSWORD_CHARS",
    "MAX_USERNAME_CHARS",
    "InvalidLoginRequestError",
    "LoginRequest",
    "parse_login_body",
    "parse_login_request",
]

# Auth0 caps usernames and emails well below these; the caps keep hostile input small.
MAX_USERNAME_CHARS = 256
MAX_PASSWORD_CHARS = 1024


#: The name the login tests know; one class of ``ropguard.errors``.
InvalidLoginRequestError = InvalidRequestError


@dataclass(frozen=True, slots=True)
class LoginRequest:
    username: str
    password: str = field(repr=False)
    scope: str


def parse_login_body(event: ApiEvent, *, max_body_bytes: int, scopes: tuple[str, ...]) -> LoginRequest:
    """Validate the body of a typed event; no scope asked means every configured scope."""
    fields = body_fields(event, max_body_bytes)
    return LoginRequest(
        username=string_field(fields, "username", MAX_USERNAME_CHARS),
        password=string_field(fields, "password", MAX_PASSWORD_CHARS),
        scope=scope_field(fields, scopes) or " ".join(scopes),
    )


def parse_login_request(
    event: Mapping[str, Any], *, max_body_bytes: int, scopes: tuple[str, ...]
) -> LoginRequest:
    """Validate the body of a payload 1.0 or 2.0 proxy event."""
    return parse_login_body(read_event(event), max_body_bytes=max_body_bytes, scopes=scopes)
