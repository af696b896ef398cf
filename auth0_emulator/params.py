"""Decoding Authentication API bodies (JSON or form) and HTTP Basic client credentials."""

from __future__ import annotations

import base64
import binascii
import json
from urllib.parse import parse_qs, unquote_plus

from auth0_emulator.errors import OAuthError
from auth0_emulator.http_types import HttpRequest


def _invalid(description: str) -> OAuthError:
    return OAuthError(400, "invalid_request", description)


def decode_params(request: HttpRequest) -> dict[str, str]:
    """Parameters from a JSON object or a form body; values must be strings, each name once."""
    if not request.body:
        return {}
    content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    try:
        text = request.body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid("Request body is not valid UTF-8.") from exc
    if content_type == "application/json":
        return _json_params(text)
    if content_type == "application/x-www-form-urlencoded":
        return _form_params(text)
    raise _invalid("Content-Type must be application/json or application/x-www-form-urlencoded.")


def _json_params(text: str) -> dict[str, str]:
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise _invalid("Request body is not valid JSON.") from exc
    if not isinstance(document, dict):
        raise _invalid("Request body must be a JSON object.")
    params: dict[str, str] = {}
    for name, value in document.items():
        if value is None:
            continue
        if not isinstance(value, str):
            raise _invalid(f"Invalid value for parameter: {name}")
        params[name] = value
    return params


def _form_params(text: str) -> dict[str, str]:
    try:
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text), errors="strict")
    except (ValueError, UnicodeDecodeError) as exc:
        raise _invalid("Request body is not a valid form.") from exc
    params: dict[str, str] = {}
    for name, values in parsed.items():
        if len(values) > 1:
            raise _invalid(f"Parameter given more than once: {name}")
        params[name] = values[0]
    return params


def basic_credentials(request: HttpRequest) -> tuple[str, str] | None:
    """``(client_id, client_secret)`` from ``Authorization: Basic`` (form-encoded per RFC 6749 §2.3.1)."""
    header = request.header("authorization")
    if header is None or not header.lower().startswith("basic "):
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise OAuthError(401, "invalid_client", "Client authentication failed") from exc
    client_id, separator, secret = decoded.partition(":")
    if not separator:
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    return unquote_plus(client_id), unquote_plus(secret)
