"""API Gateway HTTP API (payload format 2.0) on the wire: a request in, a Lambda event out; a
handler's result in, a response out. Pure functions over werkzeug's request and response types.

Shapes follow AWS's "Working with AWS Lambda proxy integrations for HTTP APIs": header names
lower-cased, repeated headers and query parameters comma-joined, cookies in their own field,
the source IP taken from the connection (never from a header), binary bodies base64-encoded;
a result without ``statusCode`` is sent as a 200 JSON body, and a result's fields are those of
payload format 2.0 (``multiValueHeaders`` is 1.0's: API Gateway ignores it, and so does this).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from ropguard_offline.template import CorsConfig, HttpRoute

#: Content types whose bodies API Gateway passes as text; everything else is base64-encoded.
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|x-www-form-urlencoded|graphql|x-yaml|yaml)"
    r"|application/[^;]*\+(json|xml))$"
)
#: Connection-level headers a proxy consumes instead of forwarding.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"})


@dataclass(frozen=True)
class ApiStage:
    """The identity of the HTTP API a route belongs to, as its events report it."""

    api_id: str
    account_id: str
    region: str
    stage: str = "$default"


class RouteTable:
    """The routes of the template, matched with werkzeug's router (a literal segment before a
    ``{name}`` one, as API Gateway selects them)."""

    def __init__(self, routes: Iterable[HttpRoute]) -> None:
        rules = [
            Rule(route.path.replace("{", "<").replace("}", ">"), methods=[route.method], endpoint=route)
            for route in routes
        ]
        self._map = Map(rules, merge_slashes=False)

    def match(self, method: str, path: str) -> tuple[HttpRoute, dict[str, str]] | None:
        route: HttpRoute
        try:
            route, parameters = self._map.bind("local").match(path, method)
        except HTTPException:  # not found, another method (API Gateway says 404 to both), redirect
            return None
        return route, dict(parameters)


def new_request_id() -> str:
    """An id shaped like API Gateway's (``JKJaXmPLvHcESHA=``)."""
    return base64.b64encode(secrets.token_bytes(10)).decode()


def build_event(
    request: Request,
    route: HttpRoute,
    path_parameters: Mapping[str, str],
    stage: ApiStage,
    request_id: str,
    *,
    body: bytes,
    extra_headers: Mapping[str, str] | None = None,
    kept: Callable[[str], bool] | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends for this request; ``extra_headers`` replace
    the client's headers of the same names; ``kept`` (given a lower-cased name) drops the client's
    headers a front in between would not pass on."""
    now = time.time() if now is None else now
    raw_path = request.environ.get("RAW_URI", request.path).partition("?")[0]
    raw_query = request.query_string.decode("latin-1")
    source_ip = str(request.remote_addr)
    replaced = {name.lower(): value for name, value in (extra_headers or {}).items()}
    pairs = [(name, value) for name, value in request.headers.items() if kept is None or kept(name.lower())]
    headers, cookies = _event_headers(pairs, replaced, source_ip)
    domain = f"{stage.api_id}.execute-api.{stage.region}.amazonaws.com"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": stage.account_id,
            "apiId": stage.api_id,
            "domainName": domain,
            "domainPrefix": stage.api_id,
            "http": {
                "method": request.method.upper(),
                "path": raw_path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route.route_key,
            "stage": stage.stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    query = _joined(parse_qsl(raw_query, keep_blank_values=True))
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if body:
        if _is_text(headers.get("content-type", ""), body):
            event["body"] = body.decode("utf-8")
        else:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def _event_headers(
    pairs: Iterable[tuple[str, str]], replaced: Mapping[str, str], source_ip: str
) -> tuple[dict[str, str], list[str]]:
    """Lower-cased, repeats comma-joined; cookies split out; the gateway's own headers added
    (it appends the peer address to X-Forwarded-For, it never trusts it)."""
    kept: list[tuple[str, str]] = []
    cookies: list[str] = []
    for raw_name, value in pairs:
        name = raw_name.lower()
        if name in _HOP_BY_HOP or name in replaced:
            continue
        if name == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            kept.append((name, value))
    headers = {**_joined(kept), **replaced}
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {source_ip}" if forwarded else source_ip
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}")
    return headers, cookies


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _is_text(content_type: str, body: bytes) -> bool:
    if not _TEXT_TYPES.match(content_type.split(";", 1)[0].strip().lower()):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def json_response(status: int, body: Any, request_id: str) -> Response:
    text = body if isinstance(body, str) else json.dumps(body)
    return Response(text, status, [("content-type", "application/json"), ("apigw-requestid", request_id)])


def cors_preflight(cors: CorsConfig, request: Request, request_id: str) -> Response:
    """API Gateway's own answer to a preflight (``OPTIONS`` with ``Origin`` and
    ``Access-Control-Request-Method``), with or without a route for it: 204, and the
    configuration's headers when the origin is allowed (none otherwise: the browser refuses).
    A ``*`` method or header list allows what the preflight asks for."""
    answer = Response(status=204, headers=[("apigw-requestid", request_id)])
    answer.headers.remove("content-type")  # no body: neither a type nor a length (RFC 9110 8.6)
    allowed = _allowed_origin(cors, request.headers.get("origin", ""))
    if allowed is None:
        return answer
    asked_method = request.headers.get("access-control-request-method", "")
    asked_headers = request.headers.get("access-control-request-headers", "")
    answer.headers.update(
        _present(
            {
                "access-control-allow-origin": allowed,
                "access-control-allow-methods": _listed(cors.allow_methods, asked_method),
                "access-control-allow-headers": _listed(cors.allow_headers, asked_headers),
                "access-control-max-age": "" if cors.max_age is None else str(cors.max_age),
                "access-control-allow-credentials": "true" if cors.allow_credentials else "",
            }
        )
    )
    return answer


def add_cors(response: Response, cors: CorsConfig, origin: str) -> None:
    """What API Gateway does to an integration's answer to a request with an ``Origin``: the
    integration's own CORS headers are dropped, the configuration's added if the origin is allowed."""
    for name in {name for name, _ in response.headers.items() if name.lower().startswith("access-control-")}:
        del response.headers[name]
    allowed = _allowed_origin(cors, origin)
    if allowed is not None:
        response.headers.update(
            _present(
                {
                    "access-control-allow-origin": allowed,
                    "access-control-expose-headers": ",".join(cors.expose_headers),
                    "access-control-allow-credentials": "true" if cors.allow_credentials else "",
                }
            )
        )


def _listed(allowed: tuple[str, ...], asked: str) -> str:
    """A configured list as a header value; ``*`` allows what the preflight asked for."""
    return asked if "*" in allowed else ",".join(allowed)


def _present(headers: Mapping[str, str]) -> dict[str, str]:
    """The headers with a value (an empty one means the configuration leaves it out)."""
    return {name: value for name, value in headers.items() if value}


def _allowed_origin(cors: CorsConfig, origin: str) -> str | None:
    if "*" in cors.allow_origins:
        return "*"
    return origin if origin in cors.allow_origins else None


class MalformedResultError(ValueError):
    """The handler returned something API Gateway answers with a 500."""


def to_response(result: Any, request_id: str) -> Response:
    """The HTTP response API Gateway sends for a handler's result."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return json_response(200, result, request_id)
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        raise MalformedResultError(f"statusCode {result['statusCode']!r} is not an integer") from None
    if not 100 <= status <= 599:
        raise MalformedResultError(f"statusCode {status} is not an HTTP status")
    headers: list[tuple[str, str]] = [
        (str(name), str(value)) for name, value in (result.get("headers") or {}).items()
    ]
    headers.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or [])
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    headers.append(("apigw-requestid", request_id))
    return Response(_response_body(result), status, headers)


def _response_body(result: Mapping[str, Any]) -> bytes:
    body = result.get("body")
    if body is None:
        return b""
    if not isinstance(body, str):
        raise MalformedResultError("body must be a string")
    if result.get("isBase64Encoded"):
        try:
            return base64.b64decode(body, validate=True)
        except binascii.Error:
            raise MalformedResultError("isBase64Encoded is set but body is not base64") from None
    return body.encode("utf-8")
