"""A local HTTP API on waitress: serves the template's ``HttpApi`` routes and invokes their
functions with payload format 2.0 events, as API Gateway does. The source IP is the TCP peer.

waitress, not werkzeug's development server: werkzeug closes every connection after one answer,
so each request paid a new TCP connection and a new thread on both ends; waitress keeps HTTP/1.1
connections alive, as API Gateway does, and serves them from a fixed pool of threads (measured in
``benchmarks/load.py``, see docs/offline.md). Its proxy-header rewriting is off: what a client
writes reaches the event as it would through API Gateway, and never the source IP.

``viewer_headers`` (optional) is called with the peer's host and port and returns headers that
replace any the client sent under those names, before the event is built: the hook a front
such as CloudFront adds its headers through. ``forwarded`` (optional, given the method and a
header's name) says which of the client's headers such a front passes on.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from waitress import wasyncore
from waitress.server import create_server
from werkzeug.wrappers import Request, Response

from ropguard_offline.http_events import (
    ApiStage,
    MalformedResultError,
    RouteTable,
    add_cors,
    build_event,
    cors_preflight,
    json_response,
    new_request_id,
    to_response,
)
from ropguard_offline.lambda_runtime import FunctionError, LocalFunction
from ropguard_offline.template import CorsConfig, HttpRoute

LOG = logging.getLogger(__name__)

#: Where the local API serves the API's OpenAPI description (a local convenience; not a template route).
OPENAPI_PATH = "/openapi.json"
#: Request bodies above API Gateway's 10 MB payload limit are refused as it refuses them.
MAX_BODY_BYTES = 10 * 1024 * 1024
#: Requests served at once; each holds its thread while its function runs. More wait in order.
SERVING_THREADS = 64

ViewerHeaders = Callable[[str, int], Mapping[str, str]]
ForwardedHeader = Callable[[str, str], bool]


@dataclass(frozen=True)
class BoundRoute:
    """A route of the template, the API it belongs to, and the function it invokes."""

    route: HttpRoute
    stage: ApiStage
    function: LocalFunction


class LocalHttpApi:
    """Every bound route on one loopback port (``port=0`` picks one)."""

    def __init__(
        self,
        routes: Sequence[BoundRoute],
        host: str = "127.0.0.1",
        port: int = 0,
        openapi_document: Path | None = None,
        viewer_headers: ViewerHeaders | None = None,
        *,
        forwarded: ForwardedHeader | None = None,
    ) -> None:
        self.routes = {bound.route: bound for bound in routes}
        self._table = RouteTable(self.routes)
        # A preflight for a path no route serves still gets its API's answer, when there is one API.
        apis = {route.api_id: route.cors for route in self.routes}
        self._only_cors = next(iter(apis.values())) if len(apis) == 1 else None
        self.openapi_document = openapi_document
        self.viewer_headers = viewer_headers
        self.forwarded = forwarded
        self._sockets: dict[int, Any] = {}  # the server loop's: the listener and every connection
        # Any: one host and port make one TcpWSGIServer, whose stubs lack its port and trigger
        self._server: Any = cast(Any, create_server)(
            self._wsgi,
            map=self._sockets,
            host=host,
            port=port,  # SO_REUSEADDR is waitress's default: a restart binds at once
            threads=SERVING_THREADS,
            clear_untrusted_proxy_headers=False,  # forwarded headers reach the event untouched
            ident="",  # no Server header: API Gateway sends none of waitress's
        )
        self._host, self._port = host, int(self._server.effective_port)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{self._host}:{self._port}"

    def start(self) -> LocalHttpApi:
        self._thread = threading.Thread(target=self._server.run, name="local-http-api", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the listener and every connection, in the server's own loop, then its threads."""
        if self._thread is not None:
            self._server.trigger.pull_trigger(lambda: wasyncore.close_all(self._sockets))
            self._thread.join()
            self._thread = None
        else:
            wasyncore.close_all(self._sockets)
        self._server.task_dispatcher.shutdown()

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        return self.handle(Request(environ))(environ, start_response)

    def handle(self, request: Request) -> Response:
        """Route, build the event, invoke, translate; never lets a handler's failure escape."""
        request_id = new_request_id()
        if self.openapi_document is not None and (request.method, request.path) == ("GET", OPENAPI_PATH):
            document = self.openapi_document.read_bytes()  # read per request: it may be regenerated
            return Response(document, 200, [("content-type", "application/json")])
        match = self._table.match(request.method, request.path)
        origin = request.headers.get("origin")
        preflight = self._preflight_cors(request) if request.method == "OPTIONS" and origin else None
        too_large = (request.content_length or 0) > MAX_BODY_BYTES
        body = b"" if too_large else request.stream.read(MAX_BODY_BYTES + 1)
        if too_large or len(body) > MAX_BODY_BYTES:
            response = json_response(413, {"message": "Request Entity Too Large"}, request_id)
        elif preflight is not None:
            response = cors_preflight(preflight, request, request_id)
        elif match is None:
            response = json_response(404, {"message": "Not Found"}, request_id)
        else:
            response = self._invoke(request, self.routes[match[0]], match[1], body, request_id)
            if origin and match[0].cors is not None:
                add_cors(response, match[0].cors, origin)
        LOG.info(  # like the template's access log: never the query string or the body
            "%s %s %s route=%s status=%d requestId=%s",
            request.remote_addr,
            request.method,
            request.path,
            match[0].route_key if match else "-",
            response.status_code,
            request_id,
        )
        return response

    def _preflight_cors(self, request: Request) -> CorsConfig | None:
        """The CORS configuration that answers this OPTIONS as a preflight (None: not one, or CORS off)."""
        method = request.headers.get("access-control-request-method")
        if not method:
            return None
        match = self._table.match(method.upper(), request.path)
        return match[0].cors if match else self._only_cors

    def _invoke(
        self, request: Request, bound: BoundRoute, parameters: Mapping[str, str], body: bytes, request_id: str
    ) -> Response:
        extra = None
        if self.viewer_headers is not None:
            extra = self.viewer_headers(str(request.remote_addr), int(request.environ.get("REMOTE_PORT", 0)))
        forwarded = self.forwarded
        kept = None if forwarded is None else (lambda name: forwarded(request.method, name))
        event = build_event(
            request,
            bound.route,
            parameters,
            bound.stage,
            request_id,
            body=body,
            extra_headers=extra,
            kept=kept,
        )
        try:
            return to_response(bound.function.invoke(event), request_id)
        except Exception as error:
            LOG.error(
                "%s failed on %s (request %s): %s",
                bound.function.spec.logical_id,
                bound.route.route_key,
                request_id,
                error,
                exc_info=not isinstance(error, FunctionError | MalformedResultError),
            )
        return json_response(500, {"message": "Internal Server Error"}, request_id)
