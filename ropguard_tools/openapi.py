"""The API's OpenAPI 3.1 description, generated from the code so it cannot drift from it.

Routes and the body size limit come from template.yaml (SAM-translated by
``ropguard_offline.template``), the field names, lengths and content types from
``ropguard.login_request``, the error bodies from ``ropguard.outcomes``/``ropguard.responses``.
``docs/openapi.json`` is this module's output, committed; a test fails when the two differ.
Regenerate with ``python -m ropguard_tools.openapi --write``.
A dev-time tool: nothing here runs in Lambda.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ropguard import answers, login_request, outcomes, responses, session_requests
from ropguard.settings import ApiSettings
from ropguard_offline.aws_resources import read_template
from ropguard_offline.template import FunctionSpec, TemplateError

REPO = Path(__file__).resolve().parents[1]

DEFAULT_TEMPLATE = REPO / "template.yaml"
DEFAULT_OUTPUT = REPO / "docs" / "openapi.json"
OPENAPI_VERSION = "3.1.0"
#: Only to resolve the template; no value of it reaches the document.
_PLACEHOLDER_PARAMETERS = {"Auth0Domain": "example.auth0.com"}

Document = dict[str, Any]
#: Status -> what it means and the `error` codes it may carry.
Errors = dict[int, tuple[str, tuple[str, ...]]]

# The answers every route shares: our configuration or Auth0 failing.
_SERVER_ERRORS: Errors = {
    500: ("The login service is misconfigured or the client address is unavailable.", ("server_error",)),
    502: (
        "Auth0 rejected our client or request (misconfiguration), or failed.",
        (str(answers.MISCONFIGURED_BODY["error"]), str(answers.UPSTREAM_BODY["error"])),
    ),
    503: ("The client credentials are unavailable.", ("temporarily_unavailable",)),
    504: ("Auth0 did not answer in time.", (str(answers.TIMEOUT_BODY["error"]),)),
}
# The design's /login table (docs/architecture.md).
LOGIN_ERRORS: Errors = {
    400: ("Our own bad input: body, size, type or encoding.", ("invalid_request",)),
    401: (
        "Auth0: breached password, a user blocked by an administrator, or Bot Detection wants a "
        "CAPTCHA (fall back to Universal Login).",
        ("password_leaked", "unauthorized", "requires_verification"),
    ),
    403: (
        "Auth0: wrong credentials, MFA required (with `mfa_token`), or denied by a rule.",
        ("invalid_grant", "mfa_required", "access_denied"),
    ),
    429: (
        "Auth0: brute-force or suspicious-IP block, or the tenant's rate limit (with `Retry-After`).",
        ("too_many_attempts", "too_many_requests"),
    ),
    **_SERVER_ERRORS,
}
RATE_LIMITED = 429

# The session routes' table (ropguard.outcomes.RULES plus the edge's error table).
SESSION_ERRORS: Errors = {
    400: (
        "Our own bad input; or Auth0: poll again (push pending), challenge type not supported.",
        ("invalid_request", "authorization_pending", "slow_down", "unsupported_challenge_type"),
    ),
    401: ("Auth0: the user is blocked.", ("unauthorized",)),
    403: (
        "Auth0: wrong or used code, invalid or expired mfa_token or refresh token, denied push, "
        "factor not enrolled, or a new MFA step needed (with `mfa_token`).",
        ("invalid_grant", "expired_token", "access_denied", "association_required", "mfa_required"),
    ),
    429: (
        "Auth0: too many failed codes, polled too fast, or the tenant's rate limit (with `Retry-After`).",
        ("too_many_attempts", "slow_down", "too_many_requests"),
    ),
    **_SERVER_ERRORS,
}


#: What ``ropguard.responses`` puts on every answer (RFC 6749 section 5.1).
_CACHE_HEADERS = {
    name: {
        "required": True,
        "description": "Login answers are never cached.",
        "schema": {"type": "string", "const": value},
    }
    for name, value in responses.BASE_HEADERS.items()
    if name.lower() != "content-type"
}


def _component_name(header: str) -> str:
    return header.replace("-", "")


def _text(max_length: int, *, secret: bool = False) -> dict[str, Any]:
    """A string field as the parsers take it: 1 to ``max_length`` characters, no NUL; a ``secret``
    one is marked ``format: password`` (shown masked)."""
    schema = {"type": "string", "minLength": 1, "pattern": "^[^\\u0000]*$", "maxLength": max_length}
    return {**schema, "format": "password"} if secret else schema


def _scope(scopes: Sequence[str], default: str) -> dict[str, Any]:
    """The ``scope`` field: a space-separated subset of the configured ``scopes``."""
    word = "|".join(scopes)
    return {
        "type": "string",
        "description": f"Space-separated subset of: {' '.join(scopes)} (default: {default}).",
        "pattern": f"^({word})( ({word}))*$",
    }


def _session_body(description: str, required: list[str], **properties: Any) -> dict[str, Any]:
    return {
        "type": "object",
        "description": f"{description} Each field at most once; other fields are ignored.",
        "required": required,
        "properties": properties,
    }


def _session_schemas(scopes: Sequence[str]) -> dict[str, Any]:
    token = _text(session_requests.MAX_TOKEN_CHARS, secret=True)
    return {
        "MfaChallengeRequest": _session_body(
            "Ask Auth0 to challenge a factor (an SMS code, a push); OTP needs no challenge.",
            ["mfa_token"],
            mfa_token=token,
            challenge_type={"type": "string", "enum": ["otp", "oob", "otp oob", "oob otp"]},
            authenticator_id=_text(session_requests.MAX_AUTHENTICATOR_ID_CHARS),
        ),
        "MfaVerifyRequest": _session_body(
            "`mfa_token` and exactly one of `otp`, `oob_code` (with `binding_code` when the challenge "
            "said `prompt`), `recovery_code`.",
            ["mfa_token"],
            mfa_token=token,
            otp=_text(session_requests.MAX_OTP_CHARS, secret=True),
            oob_code=_text(session_requests.MAX_OOB_CODE_CHARS, secret=True),
            binding_code=_text(session_requests.MAX_BINDING_CODE_CHARS, secret=True),
            recovery_code=_text(session_requests.MAX_RECOVERY_CODE_CHARS, secret=True),
        ),
        "RefreshRequest": _session_body(
            "A refresh token from a login with `offline_access`.",
            ["refresh_token"],
            refresh_token=token,
            scope=_scope(scopes, "as issued"),
        ),
        "LogoutRequest": _session_body(
            "The refresh token to revoke.", ["refresh_token"], refresh_token=token
        ),
        "ChallengeResponse": {
            "type": "object",
            "description": "Auth0's challenge answer, only these fields.",
            "required": ["challenge_type"],
            "properties": {field: {"type": "string"} for field in outcomes.CHALLENGE_FIELDS},
            "additionalProperties": False,
        },
        "Authenticators": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    field: {"type": "boolean" if field == "active" else "string"}
                    for field in outcomes.AUTHENTICATOR_FIELDS
                },
                "additionalProperties": False,
            },
        },
        "Empty": {"type": "object", "maxProperties": 0},
    }


#: The answers' schemas that login and the session routes share.
_ANSWER_SCHEMAS: dict[str, Any] = {
    "TokenResponse": {
        "type": "object",
        "description": "Auth0's token response, as is.",
        "required": ["access_token", "token_type"],
        "properties": {
            "access_token": {"type": "string"},
            "token_type": {"type": "string"},
            "expires_in": {"type": "integer"},
            "id_token": {"type": "string"},
            "refresh_token": {"type": "string"},
            "scope": {"type": "string"},
            "recovery_code": {"type": "string", "description": "After a recovery code: show it."},
        },
    },
    "Error": {
        "type": "object",
        "description": "Auth0's error dialect: branch on `error`, never on `error_description`.",
        "required": ["error", "error_description"],
        "properties": {
            "error": {"type": "string"},
            "error_description": {"type": "string"},
            "mfa_token": {"type": "string"},
            "mfa_requirements": {"type": "object"},
        },
    },
}


def _ref(schema: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{schema}"}


def _answer(status: int, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A JSON answer with the cache headers; with Auth0's ``Retry-After`` when rate limited."""
    headers: dict[str, Any] = {
        name: {"$ref": f"#/components/headers/{_component_name(name)}"} for name in _CACHE_HEADERS
    }
    if status == RATE_LIMITED:
        headers["Retry-After"] = {
            "required": False,
            "description": "Seconds until Auth0's rate limit resets (only with `too_many_requests`).",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    return {
        "description": description,
        "headers": headers,
        "content": {login_request.JSON: {"schema": schema}},
    }


def _responses(ok: str, ok_schema: str, errors: Errors) -> dict[str, Any]:
    """The 200 answer (``ok_schema``), then one per status of ``errors``, `error` among its codes."""
    return {
        "200": _answer(200, ok, _ref(ok_schema)),
        **{
            str(status): _answer(
                status,
                description,
                {"allOf": [_ref("Error"), {"properties": {"error": {"enum": list(codes)}}}]},
            )
            for status, (description, codes) in errors.items()
        },
    }


def login_operation(function: FunctionSpec) -> tuple[dict[str, Any], dict[str, Any]]:
    """POST /login and its request schema: what the parser accepts under the settings the
    template gives the function, and every answer of the design's table."""
    settings = ApiSettings.from_env(function.environment)
    body_ref = _ref("LoginRequest")
    operation = {
        "operationId": "login",
        "summary": "Log a user in with Auth0's password grant, forwarding the caller's IP.",
        "x-function": function.logical_id,
        "requestBody": {
            "required": True,
            "content": {login_request.JSON: {"schema": body_ref}, login_request.FORM: {"schema": body_ref}},
        },
        "responses": _responses("Auth0's tokens.", "TokenResponse", LOGIN_ERRORS),
    }
    body = {
        "type": "object",
        "description": (
            f"At most {settings.max_body_bytes} bytes of UTF-8 (base64 allowed). Each field at most once; "
            "other fields are ignored. Audience and realm come from configuration, never the client."
        ),
        "required": ["username", "password"],
        "properties": {
            "username": _text(login_request.MAX_USERNAME_CHARS),
            "password": _text(login_request.MAX_PASSWORD_CHARS, secret=True),
            "scope": _scope(settings.scopes, "all of them"),
        },
        "x-max-body-bytes": settings.max_body_bytes,
    }
    return operation, {"LoginRequest": body}


#: A session route's operationId, summary, request body schema (None: no body, the `mfa_token`
#: comes in the Authorization header), and the 200's description and schema.
SessionRoute = tuple[str, str, str | None, str, str]


def _session_operation(function: FunctionSpec, route: SessionRoute) -> tuple[dict[str, Any], dict[str, Any]]:
    """A route of the session function, and the session schemas."""
    operation_id, summary, request, ok, ok_schema = route
    settings = ApiSettings.from_env(function.environment)
    operation: dict[str, Any] = {
        "operationId": operation_id,
        "summary": summary,
        "x-function": function.logical_id,
        "responses": _responses(ok, ok_schema, SESSION_ERRORS),
    }
    if request is None:
        operation["parameters"] = [
            {
                "name": "Authorization",
                "in": "header",
                "required": True,
                "description": "`Bearer <mfa_token>` from the `mfa_required` answer.",
                "schema": {"type": "string", "pattern": "^Bearer [^\\s]+$"},
            }
        ]
    else:
        ref = _ref(request)
        operation["requestBody"] = {
            "required": True,
            "description": f"At most {settings.max_body_bytes} bytes of UTF-8 (base64 allowed).",
            "content": {login_request.JSON: {"schema": ref}, login_request.FORM: {"schema": ref}},
        }
    return operation, _session_schemas(settings.scopes)


#: The session function's routes by route key.
SESSION_ROUTES: Mapping[str, SessionRoute] = {
    "POST /login/mfa/challenge": (
        "mfaChallenge",
        "Challenge an MFA factor (SMS code, push) after `mfa_required`.",
        "MfaChallengeRequest",
        "Auth0's challenge: `challenge_type`, and `oob_code`/`binding_method` for oob.",
        "ChallengeResponse",
    ),
    "GET /login/mfa/authenticators": (
        "mfaAuthenticators",
        "List the user's MFA factors with the `mfa_token`.",
        None,
        "The factors, only `id`, `authenticator_type`, `active`, `oob_channel`, `name`.",
        "Authenticators",
    ),
    "POST /login/mfa": (
        "mfaVerify",
        "Complete the login with an OTP, an oob code (+ binding code) or a recovery code.",
        "MfaVerifyRequest",
        "Auth0's tokens (with a new `recovery_code` after a recovery code).",
        "TokenResponse",
    ),
    "POST /token/refresh": (
        "tokenRefresh",
        "New tokens for a refresh token (rotated: use the new one next time).",
        "RefreshRequest",
        "Auth0's tokens, with the next refresh token.",
        "TokenResponse",
    ),
    "POST /logout": (
        "logout",
        "Revoke a refresh token; 200 also when it was already invalid.",
        "LogoutRequest",
        "Revoked (or already invalid).",
        "Empty",
    ),
}


def build_document(template_path: Path = DEFAULT_TEMPLATE) -> Document:
    """The OpenAPI document for every ``HttpApi`` route of the template."""
    functions = read_template(template_path, local_values=_PLACEHOLDER_PARAMETERS).functions
    routes = [(route, function) for function in functions for route in function.http_routes]
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    paths: dict[str, dict[str, Any]] = {}
    schemas: dict[str, Any] = {}
    for route, function in sorted(routes, key=lambda item: item[0].route_key):
        if function.logical_id == "LoginFunction":
            operation, own_schemas = login_operation(function)
        elif route.route_key in SESSION_ROUTES:
            operation, own_schemas = _session_operation(function, SESSION_ROUTES[route.route_key])
        else:
            raise TemplateError(f"{route.route_key} of {function.logical_id} has no OpenAPI description")
        schemas.update(own_schemas)
        paths.setdefault(route.path, {})[route.method.lower()] = operation
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": "ropguard",
            "version": project["version"],
            "description": (
                "Server-side login through Auth0's Resource Owner Password grant that forwards the "
                "caller's IP (auth0-forwarded-for). Generated by `make openapi`; do not edit."
            ),
        },
        "paths": paths,
        "components": {
            "schemas": {**schemas, **_ANSWER_SCHEMAS},
            "headers": {_component_name(name): header for name, header in _CACHE_HEADERS.items()},
        },
    }


def render(document: Document) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ropguard_tools.openapi", description=__doc__)
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    action = parser.add_mutually_exclusive_group()
    action.add_argument("--write", action="store_true", help=f"write {DEFAULT_OUTPUT.relative_to(REPO)}")
    action.add_argument("--check", action="store_true", help="exit 1 when the committed file is stale")
    args = parser.parse_args(argv)
    text = render(build_document(args.template))
    if args.write:
        DEFAULT_OUTPUT.write_text(text, encoding="utf-8")
    elif args.check:
        current = DEFAULT_OUTPUT.read_text(encoding="utf-8") if DEFAULT_OUTPUT.exists() else ""
        if current != text:
            print(f"{DEFAULT_OUTPUT} is stale: run python -m ropguard_tools.openapi --write", file=sys.stderr)
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
