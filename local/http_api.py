"""A local HTTP API: serves the template's ``HttpApi`` routes and invokes their functions in-process
with payload format 2.0 events, as API Gateway does. The source IP is the TCP peer address.
"""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from local.http_events import (
    ApiStage,
    HttpRequest,
    HttpResponse,
    build_event,
    internal_server_error,
    json_response,
    match_route,
    new_request_id,
    not_found,
    to_response,
)
from local.lambda_runtime import LocalFunction
from local.template import HttpRoute

LOG = logging.getLogger(__name__)

#: Where the local API serves the API's OpenAPI description (a local convenience; not a template route).
OPENAPI_PATH = "/openapi.json"

#: Request bodies above API Gateway's 10 MB payload limit are refused as it refuses them.
MAX_BODY_BYTES = 10 * 1024 * 1024


class _Server(ThreadingHTTPServer):
    """socketserver listens with a backlog of 5: a sixth client connecting at the same moment is
    dropped or reset by the kernel, which API Gateway never does to concurrent end users."""

    daemon_threads = True
    request_queue_size = socket.SOMAXCONN


@dataclass(frozen=True)
class BoundRoute:
    """A route of the template, the API it belongs to, and the function it invokes."""

    route: HttpRoute
    stage: ApiStage
    function: LocalFunction


#: Called with the TCP peer's host and port; the headers it returns replace any the client sent
#: under those names (case-insensitive) before the event is built (TEAM contract 7).
ViewerHeaders = Callable[[str, int], Mapping[str, str]]


def with_viewer_headers(headers: list[tuple[str, str]], added: Mapping[str, str]) -> list[tuple[str, str]]:
    """``headers`` without any line named like one of ``added``, then ``added``."""
    names = {name.lower() for name in added}
    return [(name, value) for name, value in headers if name.lower() not in names] + list(added.items())


class LocalHttpApi:
    """A ThreadingHTTPServer on loopback that serves every bound route; ``port=0`` picks one."""

    def __init__(
        self,
        routes: Sequence[BoundRoute],
        host: str = "127.0.0.1",
        port: int = 0,
        openapi_document: Path | None = None,
        viewer_headers: ViewerHeaders | None = None,
    ) -> None:
        _refuse_duplicates(routes)
        self.routes = list(routes)
        self.openapi_document = openapi_document
        self.viewer_headers = viewer_headers
        self._server = _Server((host, port), _handler_class(self))
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> LocalHttpApi:
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-http-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join()
            self._thread = None
        self._server.server_close()

    def handle(self, request: HttpRequest) -> HttpResponse:
        """Route, build the event, invoke, translate; never lets a handler's failure escape."""
        request_id = new_request_id()
        path = request.target.partition("?")[0]
        if self.openapi_document is not None and (request.method, path) == ("GET", OPENAPI_PATH):
            document = self.openapi_document.read_bytes()  # read per request: it may be regenerated
            return HttpResponse(200, [("content-type", "application/json")], document)
        match = match_route((bound.route for bound in self.routes), request.method, path)
        if match is None:
            response = not_found(request_id)
            _log_access(request, path, "-", response.status, request_id)
            return response
        bound = next(bound for bound in self.routes if bound.route is match.route)
        event = build_event(request, match, bound.stage, request_id)
        try:
            response = to_response(bound.function.invoke(event), request_id)
        except Exception:
            LOG.exception(
                "%s failed on %s (request %s)",
                bound.function.spec.logical_id,
                match.route.route_key,
                request_id,
            )
            response = internal_server_error(request_id)
        _log_access(request, path, match.route.route_key, response.status, request_id)
        return response


def _refuse_duplicates(routes: Sequence[BoundRoute]) -> None:
    seen: dict[str, str] = {}
    for bound in routes:
        key = bound.route.route_key
        if key in seen:
            raise ValueError(
                f"route {key} is served by both {seen[key]} and {bound.function.spec.logical_id}; "
                "the local API serves all HTTP APIs of the template on one port"
            )
        seen[key] = bound.function.spec.logical_id


def _log_access(request: HttpRequest, path: str, route_key: str, status: int, request_id: str) -> None:
    """Like the template's access log: never the query string or body (they may hold secrets)."""
    LOG.info(
        "%s %s %s route=%s status=%d requestId=%s",
        request.source_ip,
        request.method,
        path,
        route_key,
        status,
        request_id,
    )


class _BodyTooLargeError(Exception):
    pass


def _handler_class(api: LocalHttpApi) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "ropguard-local-api"
        sys_version = ""

        def _serve(self) -> None:
            try:
                body = self._read_body()
            except _BodyTooLargeError:
                self._write(json_response(413, {"message": "Request Entity Too Large"}, new_request_id()))
                return
            except ValueError:  # a Content-Length or chunk size that is not a number
                self._write(json_response(400, {"message": "Bad Request"}, new_request_id()))
                return
            headers = list(self.headers.items())
            if api.viewer_headers is not None:
                host, port = self.client_address[:2]
                headers = with_viewer_headers(headers, api.viewer_headers(str(host), int(port)))
            request = HttpRequest(
                method=self.command,
                target=self.path,
                protocol=self.request_version,
                headers=headers,
                body=body,
                source_ip=str(self.client_address[0]),
            )
            self._write(api.handle(request))

        def _read_body(self) -> bytes:
            if self.headers.get("transfer-encoding", "").lower() == "chunked":
                return self._read_chunked()
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                raise _BodyTooLargeError
            return self.rfile.read(length) if length else b""

        def _read_chunked(self) -> bytes:
            chunks: list[bytes] = []
            total = 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline().strip():  # trailers
                        pass
                    return b"".join(chunks)
                total += size
                if total > MAX_BODY_BYTES:
                    raise _BodyTooLargeError
                chunks.append(self.rfile.read(size))
                self.rfile.readline()

        def _write(self, response: HttpResponse) -> None:
            self.send_response(response.status)
            for name, value in response.headers:
                self.send_header(name, value)
            self.send_header("content-length", str(len(response.body)))
            self.send_header("connection", "close")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(response.body)

        def log_message(self, format: str, *args: Any) -> None:
            """Silenced: the base class logs the request line, query string included."""

        def __getattr__(self, name: str) -> Any:
            """Every method, even one http.server does not know (TRACE, QUERY...), is routed: API
            Gateway answers an unrouted method with its JSON 404, not an HTML 501."""
            if name.startswith("do_"):
                return self._serve
            raise AttributeError(name)

    return Handler
