"""The POST /login body: JSON or form, maybe base64, turned into a validated ``LoginRequest``.

Every rejection says precisely what is wrong so client developers can fix it, and never repeats
the password. Only ``username``, ``password`` and ``scope`` are read; any other field is ignored and
never reaches Auth0 (audience and realm come from configuration).
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from ropguard.errors import InvalidRequestError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
# Auth0 caps usernames and emails well below these; the caps keep hostile input small.
MAX_USERNAME_CHARS = 256
MAX_PASSWORD_CHARS = 1024
MAX_FORM_FIELDS = 16


#: The name the login tests know; one class of ``ropguard.errors``.
InvalidLoginRequestError = InvalidRequestError


@dataclass(frozen=True, slots=True)
class LoginRequest:
    username: str
    password: str = field(repr=False)
    scope: str


def _raw_body(event: dict[str, Any], max_body_bytes: int) -> bytes:
    body = event.get("body")  # the same key in payload 1.0 and 2.0
    if body is None or body == "":
        raise InvalidLoginRequestError("the request body is empty")
    if not isinstance(body, str):
        raise InvalidLoginRequestError("the request body is not text")
    if event.get("isBase64Encoded") is True:
        if len(body) > (max_body_bytes + 2) // 3 * 4 + 4:
            raise InvalidLoginRequestError(f"the request body exceeds {max_body_bytes} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidLoginRequestError(
                "the request body is marked base64 but is not valid base64"
            ) from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidLoginRequestError("the request body is not valid UTF-8") from None
    if len(raw) > max_body_bytes:
        raise InvalidLoginRequestError(f"the request body exceeds {max_body_bytes} bytes")
    return raw


def header(event: dict[str, Any], name: str) -> object:
    """A header's value, names compared case-insensitively (the last of duplicates wins), or None.

    Plain dict access rather than Powertools' event data classes: importing those loads every
    event type Powertools knows, a measurable part of a cold start (docs/architecture.md).
    """
    headers = event.get("headers")
    found: object = None
    if isinstance(headers, dict):
        for key, value in headers.items():
            if isinstance(key, str) and key.lower() == name:
                found = value
    return found


def _media_type(event: dict[str, Any]) -> str:
    content_type = header(event, "content-type")
    if not isinstance(content_type, str) or not content_type.strip():
        raise InvalidLoginRequestError(f"the Content-Type header is required ({JSON} or {FORM})")
    media_type, *params = (part.strip().lower() for part in content_type.split(";"))
    if media_type not in (JSON, FORM):
        raise InvalidLoginRequestError(f"unsupported Content-Type {media_type!r}: use {JSON} or {FORM}")
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            raise InvalidLoginRequestError("unsupported charset: the body must be UTF-8")
    return media_type


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidLoginRequestError("the request body is not valid UTF-8") from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            raise InvalidLoginRequestError(f"field {key!r} is given more than once")
        fields[key] = value
    return fields


def _json_fields(raw: bytes) -> dict[str, Any]:
    try:
        fields = json.loads(_text(raw), object_pairs_hook=_reject_duplicates)
    except InvalidLoginRequestError:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidLoginRequestError(
            f"the request body is not valid JSON ({exc.msg} at position {exc.pos})"
        ) from None
    except RecursionError:
        raise InvalidLoginRequestError("the request body is not valid JSON (nested too deeply)") from None
    except ValueError:  # e.g. an integer past Python's digit limit: not a JSONDecodeError
        raise InvalidLoginRequestError("the request body is not valid JSON (a number is too long)") from None
    if not isinstance(fields, dict):
        raise InvalidLoginRequestError("the request body must be a JSON object")
    return fields


def _form_fields(raw: bytes) -> dict[str, Any]:
    try:
        parsed = parse_qs(
            _text(raw),
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise InvalidLoginRequestError("a form field is not valid UTF-8 after percent-decoding") from None
    except ValueError:
        raise InvalidLoginRequestError(
            f"the request body is not a valid form (at most {MAX_FORM_FIELDS} name=value pairs joined by &)"
        ) from None
    fields: dict[str, Any] = {}
    for key, values in parsed.items():
        if len(values) > 1:
            raise InvalidLoginRequestError(f"field {key!r} is given more than once")
        fields[key] = values[0]
    return fields


def _string_field(fields: dict[str, Any], name: str, max_chars: int) -> str:
    if name not in fields or fields[name] is None:
        raise InvalidLoginRequestError(f"field {name!r} is required")
    value = fields[name]
    if not isinstance(value, str):
        raise InvalidLoginRequestError(f"field {name!r} must be a string")
    if value == "":
        raise InvalidLoginRequestError(f"field {name!r} must not be empty")
    if len(value) > max_chars:
        raise InvalidLoginRequestError(f"field {name!r} is longer than {max_chars} characters")
    if "\x00" in value:
        raise InvalidLoginRequestError(f"field {name!r} contains a NUL character")
    if not value.isascii():
        try:  # JSON's \ud800-style escapes can make strings that no UTF-8 request can carry
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidLoginRequestError(
                f"field {name!r} is not valid Unicode (a lone surrogate escape)"
            ) from None
    return value


def _scope(fields: dict[str, Any], allowed: tuple[str, ...]) -> str:
    if fields.get("scope") is None:
        return " ".join(allowed)
    value = fields["scope"]
    if not isinstance(value, str):
        raise InvalidLoginRequestError("field 'scope' must be a string")
    asked = tuple(dict.fromkeys(value.split()))
    if not asked:
        raise InvalidLoginRequestError("field 'scope' must not be empty")
    if not set(asked) <= set(allowed):
        raise InvalidLoginRequestError(f"field 'scope' must be a subset of: {' '.join(allowed)}")
    return " ".join(asked)


def parse_login_request(
    event: dict[str, Any], *, max_body_bytes: int, scopes: tuple[str, ...]
) -> LoginRequest:
    """Validate the body of a payload 1.0 or 2.0 proxy event."""
    media_type = _media_type(event)
    raw = _raw_body(event, max_body_bytes)
    fields = _json_fields(raw) if media_type == JSON else _form_fields(raw)
    return LoginRequest(
        username=_string_field(fields, "username", MAX_USERNAME_CHARS),
        password=_string_field(fields, "password", MAX_PASSWORD_CHARS),
        scope=_scope(fields, scopes),
    )
