"""API Gateway HTTP API (payload format 2.0) on the wire: an HTTP request in, a Lambda event out;
a handler's result in, an HTTP response out. Pure functions, so each rule is easy to test.

Shapes follow AWS's "Working with AWS Lambda proxy integrations for HTTP APIs": header names
lower-cased, repeated headers and query parameters comma-joined, cookies in their own field,
the source IP taken from the connection (never from a header), binary bodies base64-encoded;
a result without ``statusCode`` is sent as a 200 JSON body.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from local.template import HttpRoute

#: Content types whose bodies API Gateway passes as text; everything else is base64-encoded.
_TEXT_TYPES = re.compile(
    r"^(text/.*|application/(json|xml|javascript|x-www-form-urlencoded|graphql|x-yaml|yaml)"
    r"|application/[^;]*\+(json|xml))$"
)

#: Connection-level headers a proxy consumes instead of forwarding.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade"})

INTERNAL_SERVER_ERROR = 500
_PARAMETER = re.compile(r"^\{([^}+]+)(\+?)\}$")


@dataclass(frozen=True)
class HttpRequest:
    """What arrived on the socket; ``source_ip`` is the TCP peer's address."""

    method: str
    target: str
    protocol: str
    headers: Sequence[tuple[str, str]]
    body: bytes
    source_ip: str


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: Sequence[tuple[str, str]]
    body: bytes = b""


@dataclass(frozen=True)
class ApiStage:
    """The identity of the HTTP API a route belongs to, as its events report it."""

    api_id: str
    account_id: str
    region: str
    stage: str = "$default"


@dataclass(frozen=True)
class RouteMatch:
    route: HttpRoute
    path_parameters: Mapping[str, str] = field(default_factory=dict)


def match_route(routes: Iterable[HttpRoute], method: str, path: str) -> RouteMatch | None:
    """API Gateway's route selection: the most specific path wins, a method over ANY, and the
    ``$default`` route only when nothing else matches."""
    candidates: list[tuple[tuple[int, int, int], RouteMatch]] = []
    default: RouteMatch | None = None
    for route in routes:
        if route.path == "$default":
            default = RouteMatch(route)
            continue
        if route.method not in (method.upper(), "ANY"):
            continue
        parameters = _match_path(route.path, path)
        if parameters is None:
            continue
        greedy = any(name.endswith("+}") for name in route.path.split("/"))
        literal_segments = sum(1 for part in route.path.split("/") if part and not part.startswith("{"))
        rank = (int(greedy), -literal_segments, int(route.method == "ANY"))
        candidates.append((rank, RouteMatch(route, parameters)))
    if candidates:
        return min(candidates, key=lambda item: item[0])[1]
    return default


def _match_path(template: str, path: str) -> dict[str, str] | None:
    wanted, actual = template.strip("/").split("/"), path.strip("/").split("/")
    parameters: dict[str, str] = {}
    for index, part in enumerate(wanted):
        found = _PARAMETER.match(part)
        if found and found.group(2):  # greedy {name+}: one or more remaining segments
            rest = actual[index:]
            if not rest or rest == [""]:
                return None
            parameters[found.group(1)] = "/".join(rest)
            return parameters
        if index >= len(actual):
            return None
        if found:
            if not actual[index]:
                return None
            parameters[found.group(1)] = actual[index]
        elif part != actual[index]:
            return None
    return parameters if len(wanted) == len(actual) else None


def new_request_id() -> str:
    """An id shaped like API Gateway's (``JKJaXmPLvHcESHA=``)."""
    return base64.b64encode(secrets.token_bytes(10)).decode()


def build_event(
    request: HttpRequest,
    match: RouteMatch,
    stage: ApiStage,
    request_id: str,
    now: float | None = None,
) -> dict[str, Any]:
    """The payload format 2.0 event API Gateway sends for this request."""
    now = time.time() if now is None else now
    path, _, raw_query = request.target.partition("?")
    headers, cookies = _event_headers(request)
    domain = f"{stage.api_id}.execute-api.{stage.region}.amazonaws.com"
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": match.route.route_key,
        "rawPath": path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": stage.account_id,
            "apiId": stage.api_id,
            "domainName": domain,
            "domainPrefix": stage.api_id,
            "http": {
                "method": request.method.upper(),
                "path": path,
                "protocol": request.protocol,
                "sourceIp": request.source_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": match.route.route_key,
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
    if match.path_parameters:
        event["pathParameters"] = dict(match.path_parameters)
    if request.body:
        if _is_text(headers.get("content-type", ""), request.body):
            event["body"] = request.body.decode("utf-8")
        else:
            event["body"] = base64.b64encode(request.body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def _event_headers(request: HttpRequest) -> tuple[dict[str, str], list[str]]:
    """Lower-cased, repeats comma-joined; cookies split out; the gateway's own headers added
    (it appends the peer address to X-Forwarded-For, it never trusts it)."""
    pairs: list[tuple[str, str]] = []
    cookies: list[str] = []
    for name, value in request.headers:
        if name.lower() in _HOP_BY_HOP:
            continue
        if name.lower() == "cookie":
            cookies.extend(part.strip() for part in value.split(";") if part.strip())
        else:
            pairs.append((name.lower(), value))
    headers = _joined(pairs)
    forwarded = headers.get("x-forwarded-for")
    headers["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    headers.setdefault("x-forwarded-proto", "http")
    headers.setdefault("x-amzn-trace-id", f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}")
    return headers, cookies


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


def _is_text(content_type: str, body: bytes) -> bool:
    media_type = content_type.split(";", 1)[0].strip().lower()
    if not _TEXT_TYPES.match(media_type):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def internal_server_error(request_id: str) -> HttpResponse:
    return json_response(INTERNAL_SERVER_ERROR, {"message": "Internal Server Error"}, request_id)


def not_found(request_id: str) -> HttpResponse:
    return json_response(404, {"message": "Not Found"}, request_id)


def json_response(status: int, body: Any, request_id: str) -> HttpResponse:
    return HttpResponse(
        status=status,
        headers=[("content-type", "application/json"), ("apigw-requestid", request_id)],
        body=json.dumps(body).encode(),
    )


class MalformedResultError(ValueError):
    """The handler returned something API Gateway answers with a 500."""


def to_response(result: Any, request_id: str) -> HttpResponse:
    """Turn a handler's result into the HTTP response API Gateway would send."""
    if not (isinstance(result, dict) and "statusCode" in result):
        body = result if isinstance(result, str) else json.dumps(result)
        return HttpResponse(
            status=200,
            headers=[("content-type", "application/json"), ("apigw-requestid", request_id)],
            body=body.encode("utf-8"),
        )
    try:
        status = int(result["statusCode"])
    except (TypeError, ValueError):
        raise MalformedResultError(f"statusCode {result['statusCode']!r} is not an integer") from None
    if not 100 <= status <= 599:
        raise MalformedResultError(f"statusCode {status} is not an HTTP status")
    headers: list[tuple[str, str]] = [
        (str(name), str(value)) for name, value in (result.get("headers") or {}).items()
    ]
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((str(name), str(value)) for value in values)
    headers.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or [])
    if not any(name.lower() == "content-type" for name, _ in headers):
        headers.append(("content-type", "application/json"))
    headers.append(("apigw-requestid", request_id))
    return HttpResponse(status=status, headers=headers, body=_response_body(result))


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
