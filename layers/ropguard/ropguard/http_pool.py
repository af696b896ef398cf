"""One origin over httpcore's connection pool: what the API functions need from httpx, minus its model.

On a warm login the token request was most of the handler's time, and most of that was httpx's
per-request machinery (Request/Response models, URL merging, header normalisation, a cookie jar
that we refuse anyway), not the network (docs/architecture.md, "Warm path"). httpcore is httpx's
own transport, already shipped with it, so this keeps what ``httpx.Client`` gave the Auth0 and
extension clients and drops the rest:

* timeouts per phase (connect, read, write, pool) and httpx's pool limits (5 s keep-alive expiry);
* retries only of a failed TCP connect (httpcore's ``retries``, before a byte is written);
* TLS verified against certifi's bundle for https, a no-CA context for plain http (``ropguard.tls``);
* no proxies from the environment, no redirects followed, no cookie jar: httpcore has none of these,
  so one end user's cookie can never ride along on the next one's request;
* the same error classes by name (httpx re-raises httpcore's under the same names): callers catch
  ``TIMEOUT_ERRORS`` and ``TRANSPORT_ERRORS``.

And one thing httpx did not do: the request leaves in one write (``CoalescingBackend``), so headers
and body are one TCP segment (one TLS record) and the server wakes once per request.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

import httpcore

from ropguard.tls import ssl_context_for

#: httpx.Client's pool limits, kept as they were (a Lambda container sends one request at a time).
MAX_CONNECTIONS: Final = 100
MAX_KEEPALIVE_CONNECTIONS: Final = 20
KEEPALIVE_EXPIRY_SECONDS: Final = 5.0

TIMEOUT_ERRORS: Final = (httpcore.TimeoutException,)
#: Every failure of the exchange itself (timeouts included: they are ``NetworkError``s' siblings).
TRANSPORT_ERRORS: Final = (
    httpcore.TimeoutException,
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ProxyError,
)

Headers = Sequence[tuple[bytes, bytes]]

#: ``httpx``'s JSON body encoding (compact, UTF-8, no NaN), built once instead of per request.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def json_content(body: Any) -> bytes:
    """A request body as httpx's ``json=`` encodes it."""
    return _JSON.encode(body).encode("utf-8")


@dataclass(frozen=True, slots=True)
class HttpReply:
    """An answer read in full. Header names are lower-case; a repeated header's values are joined
    with ", " (as httpx's ``Headers.get`` does). The content may hold tokens: never in a repr."""

    status: int
    headers: Mapping[str, str] = field(repr=False)
    content: bytes = field(repr=False)


def reply_headers(raw: Iterable[tuple[bytes, bytes]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        headers[key] = f"{headers[key]}, {text}" if key in headers else text
    return headers


class CoalescingStream(httpcore.NetworkStream):
    """Holds writes until the first read, then sends them in one write.

    httpcore writes a request's headers and its body separately: two segments on the wire, two
    wakeups of the server. HTTP/1.1 without ``Expect: 100-continue`` never needs an answer before the
    whole request is sent, so nothing waits on the held bytes; they leave before any read, TLS
    upgrade or close. A failure to send them surfaces from that read, as the same ``WriteError``.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner
        self._held: list[bytes] = []
        self._write_timeout: float | None = None

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if buffer:
            self._held.append(buffer)
            self._write_timeout = timeout

    def flush(self) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self._inner.write(data, self._write_timeout)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        self.flush()
        return self._inner.read(max_bytes, timeout)

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        self.flush()
        return CoalescingStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def close(self) -> None:
        self._held.clear()  # an unsent request is abandoned, never sent late
        self._inner.close()

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class CoalescingBackend(httpcore.NetworkBackend):
    """``inner``'s connections (the real sockets by default), each wrapped in a ``CoalescingStream``."""

    def __init__(self, inner: httpcore.NetworkBackend | None = None) -> None:
        self._inner = inner if inner is not None else httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        stream = self._inner.connect_tcp(host, port, timeout, local_address, socket_options)
        return CoalescingStream(stream)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect_seconds: float
    read_seconds: float

    def extension(self) -> dict[str, dict[str, float]]:
        """httpcore's per-request ``timeout`` extension, as httpx.Timeout(connect=, read=) built it."""
        return {
            "timeout": {
                "connect": self.connect_seconds,
                "read": self.read_seconds,
                "write": self.read_seconds,
                "pool": self.connect_seconds,
            }
        }


class PooledOrigin:
    """Keep-alive HTTP/1.1 to one origin (``base_url``: scheme, host, port; no path).

    Everything that does not change per request is built here once: the URL of each path, the
    timeout extension, the default headers. ``network_backend`` replaces the sockets (tests).
    """

    def __init__(
        self,
        base_url: str,
        timeouts: Timeouts,
        *,
        retries: int = 0,
        default_headers: Headers = (),
        network_backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context_for(self.base_url),
            max_connections=MAX_CONNECTIONS,
            max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS,
            keepalive_expiry=KEEPALIVE_EXPIRY_SECONDS,
            retries=retries,
            network_backend=CoalescingBackend(network_backend),
        )
        self._extensions = timeouts.extension()
        # Host first, as httpcore's request() would add it (brackets kept for IPv6); then the rest.
        host = urlsplit(self.base_url).netloc.encode("ascii")
        self._default_headers = [(b"Host", host), *default_headers]
        self._urls: dict[str, httpcore.URL] = {}

    def _url(self, path_and_query: str) -> httpcore.URL:
        url = self._urls.get(path_and_query)
        if url is None:
            url = httpcore.URL(self.base_url + path_and_query)
            if len(self._urls) < 64:  # the code's own paths; a query-bearing one is not worth keeping
                self._urls[path_and_query] = url
        return url

    def request(
        self, method: bytes, path_and_query: str, *, headers: Headers = (), content: bytes | None = None
    ) -> HttpReply:
        """One exchange, the answer read in full; raises ``TRANSPORT_ERRORS`` (httpcore's classes).

        What httpcore's ``request()`` does, with the Host header and URL built once instead of
        per call: the request, then the whole answer read and the connection handed back.
        """
        sent = [*self._default_headers, *headers]
        if content is not None:
            sent.append((b"Content-Length", b"%d" % len(content)))
        request = httpcore.Request(
            method, self._url(path_and_query), headers=sent, content=content, extensions=self._extensions
        )
        response = self._pool.handle_request(request)
        try:
            body = response.read()
        finally:
            response.close()
        return HttpReply(response.status, reply_headers(response.headers), body)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> PooledOrigin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
