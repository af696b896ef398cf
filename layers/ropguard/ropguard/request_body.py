"""Request bodies of the API routes: JSON or form, maybe base64, into a dict of fields.

Shared by every POST route so each says the same precise thing about the same mistake, and never
repeats a value (bodies carry passwords, tokens and codes). Field readers here check presence,
type, emptiness and size; the routes' parsers decide which fields they need.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any
from urllib.parse import parse_qs

from ropguard.api_event import ApiEvent
from ropguard.errors import InvalidRequestError

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MAX_FORM_FIELDS = 16
JSON_NEEDS_CONTENT_TYPE = (
    "the request body looks like JSON but was sent as a form "
    f"(Content-Type {FORM}, curl -d's default): JSON needs content-type: {JSON}"
)


def raw_body(event: ApiEvent, max_body_bytes: int) -> bytes:
    body = event.body
    if body is None or body == "":
        raise InvalidRequestError("the request body is empty")
    if not isinstance(body, str):
        raise InvalidRequestError("the request body is not text")
    if event.is_base64_encoded:
        if len(body) > (max_body_bytes + 2) // 3 * 4 + 4:
            raise InvalidRequestError(f"the request body exceeds {max_body_bytes} bytes")
        try:
            raw = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequestError("the request body is marked base64 but is not valid base64") from None
    else:
        try:
            raw = body.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequestError("the request body is not valid UTF-8") from None
    if len(raw) > max_body_bytes:
        raise InvalidRequestError(f"the request body exceeds {max_body_bytes} bytes")
    return raw


def media_type(event: ApiEvent) -> str:
    content_type = event.header("content-type")
    if content_type is None or not content_type.strip():
        raise InvalidRequestError(f"the Content-Type header is required ({JSON} or {FORM})")
    kind, *params = (part.strip().lower() for part in content_type.split(";"))
    if kind not in (JSON, FORM):
        raise InvalidRequestError(f"unsupported Content-Type {kind!r}: use {JSON} or {FORM}")
    for param in params:
        name, _, value = param.partition("=")
        if name.strip() == "charset" and value.strip().strip('"') not in ("utf-8", "utf8"):
            raise InvalidRequestError("unsupported charset: the body must be UTF-8")
    return kind


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidRequestError("the request body is not valid UTF-8") from None


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in pairs:
        if key in fields:
            raise InvalidRequestError(f"field {key!r} is given more than once")
        fields[key] = value
    return fields


def json_fields(raw: bytes) -> dict[str, Any]:
    try:
        fields = json.loads(_text(raw), object_pairs_hook=_reject_duplicates)
    except InvalidRequestError:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidRequestError(
            f"the request body is not valid JSON ({exc.msg} at position {exc.pos})"
        ) from None
    except RecursionError:
        raise InvalidRequestError("the request body is not valid JSON (nested too deeply)") from None
    except ValueError:  # e.g. an integer past Python's digit limit: not a JSONDecodeError
        raise InvalidRequestError("the request body is not valid JSON (a number is too long)") from None
    if not isinstance(fields, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    return fields


def _looks_like_json(text: str) -> bool:
    """A form body no browser or curl -d of a real form would send: a JSON object or array."""
    stripped = text.strip()
    return stripped[:1] in ("{", "[") and stripped[-1:] in ("}", "]")


def form_fields(raw: bytes) -> dict[str, Any]:
    text = _text(raw)
    if _looks_like_json(text):
        raise InvalidRequestError(JSON_NEEDS_CONTENT_TYPE)
    try:
        parsed = parse_qs(
            text,
            keep_blank_values=True,
            strict_parsing=True,
            encoding="utf-8",
            errors="strict",
            max_num_fields=MAX_FORM_FIELDS,
        )
    except UnicodeDecodeError:
        raise InvalidRequestError("a form field is not valid UTF-8 after percent-decoding") from None
    except ValueError:
        raise InvalidRequestError(
            f"the request body is not a valid form (at most {MAX_FORM_FIELDS} name=value pairs joined by &)"
        ) from None
    fields: dict[str, Any] = {}
    for key, values in parsed.items():
        if len(values) > 1:
            raise InvalidRequestError(f"field {key!r} is given more than once")
        fields[key] = values[0]
    return fields


def body_fields(event: ApiEvent, max_body_bytes: int) -> dict[str, Any]:
    """The body's fields; the content type is checked before the body is read (as /login always did)."""
    kind = media_type(event)
    raw = raw_body(event, max_body_bytes)
    return json_fields(raw) if kind == JSON else form_fields(raw)


def is_given(fields: dict[str, Any], name: str) -> bool:
    """Present and not JSON null (null means "not given", as in the login body)."""
    return fields.get(name) is not None


def string_field(fields: dict[str, Any], name: str, max_chars: int) -> str:
    if not is_given(fields, name):
        raise InvalidRequestError(f"field {name!r} is required")
    return checked_string(fields[name], f"field {name!r}", max_chars)


def optional_string_field(fields: dict[str, Any], name: str, max_chars: int) -> str | None:
    return string_field(fields, name, max_chars) if is_given(fields, name) else None


def checked_string(value: object, what: str, max_chars: int) -> str:
    """A non-empty string within ``max_chars``, valid Unicode, no NUL; ``what`` names it in errors."""
    if not isinstance(value, str):
        raise InvalidRequestError(f"{what} must be a string")
    if value == "":
        raise InvalidRequestError(f"{what} must not be empty")
    if len(value) > max_chars:
        raise InvalidRequestError(f"{what} is longer than {max_chars} characters")
    if "\x00" in value:
        raise InvalidRequestError(f"{what} contains a NUL character")
    if not value.isascii():
        try:  # JSON's \ud800-style escapes can make strings that no UTF-8 request can carry
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidRequestError(f"{what} is not valid Unicode (a lone surrogate escape)") from None
    return value


def scope_field(fields: dict[str, Any], allowed: tuple[str, ...]) -> str | None:
    """The asked scope, duplicates dropped, a subset of ``allowed``; None when not given."""
    if fields.get("scope") is None:
        return None
    value = fields["scope"]
    if not isinstance(value, str):
        raise InvalidRequestError("field 'scope' must be a string")
    asked = tuple(dict.fromkeys(value.split()))
    if not asked:
        raise InvalidRequestError("field 'scope' must not be empty")
    if not set(asked) <= set(allowed):
        raise InvalidRequestError(f"field 'scope' must be a subset of: {' '.join(allowed)}")
    return " ".join(asked)
