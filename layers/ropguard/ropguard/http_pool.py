"""Keep-alive HTTP/1.1 to one origin over the standard library's ``http.client``.

The API functions make one kind of request per invocation, to one origin (the Auth0 tenant, or the
secrets extension on localhost), one at a time. On a warm login that request was most of the
handler's time, and most of it was the HTTP client's own per-request work, not the network:
httpx's models cost 0.3 ms more than httpcore's pool, which cost 0.13 ms more per round trip than
``http.client`` (docs/architecture.md, "Warm path"). ``http.client`` ships with every Python, so
the API functions import no third-party HTTP code at all, which also shortens their cold start.
What ``httpx.Client`` gave them is kept:

* a connect timeout and a read timeout of the caller's;
* keep-alive, a connection idle longer than ``KEEPALIVE_EXPIRY_SECONDS`` or closed by the server
  (readable while idle) is never reused, and ``MAX_KEEPALIVE_CONNECTIONS`` idle ones at most;
* retries only of a failed connect (``retries``), before a byte of the request is written;
* TLS verified against certifi's bundle for https, a no-CA context for plain http (``ropguard.tls``);
* no proxies from the environment, no redirects followed, no cookie jar: one end user's cookie can
  never ride along on the next one's request;
* the request leaves in one write with ``TCP_NODELAY``, so the server wakes once per request.

Failures are this module's own small family, named as httpx names them (the names become log
reasons and metric-free error details; callers catch ``TIMEOUT_ERRORS`` and ``TRANSPORT_ERRORS``)::

    TransportError
    ├── TimeoutException
    │   ├── ConnectTimeout      no connection within the connect timeout (retried)
    │   └── ReadTimeout         no (complete) answer within the read timeout
    ├── ConnectError            refused, unreachable, TLS handshake failed (retried)
    ├── ReadError               the connection broke during the exchange
    └── RemoteProtocolError     the answer is not HTTP/1.1 (or the server hung up without one)
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import urlsplit

from ropguard.tls import ssl_context_for

#: As httpx.Client had them (a Lambda container sends one request at a time).
MAX_KEEPALIVE_CONNECTIONS: Final = 20
KEEPALIVE_EXPIRY_SECONDS: Final = 5.0

Headers = Sequence[tuple[bytes, bytes]]
#: Opens the TCP connection: ``(host, port), timeout -> socket`` (``socket.create_connection``).
Opener = Callable[[tuple[str, int], float], socket.socket]


class TransportError(Exception):
    """The exchange failed before a complete answer arrived (the family is in the module docstring)."""


class TimeoutException(TransportError):  # noqa: N818 - httpx's name; the names are log reasons
    pass


class ConnectTimeout(TimeoutException):
    pass


class ReadTimeout(TimeoutException):
    pass


class ConnectError(TransportError):
    pass


class ReadError(TransportError):
    pass


class RemoteProtocolError(TransportError):
    pass


TIMEOUT_ERRORS: Final = (TimeoutException,)
TRANSPORT_ERRORS: Final = (TransportError,)

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


def reply_headers(raw: Iterable[tuple[str, str]]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for name, value in raw:
        key = name.lower()
        headers[key] = f"{headers[key]}, {value}" if key in headers else value
    return headers


@dataclass(frozen=True, slots=True)
class Timeouts:
    connect_seconds: float
    read_seconds: float


class PooledOrigin:
    """Keep-alive HTTP/1.1 to one origin (``base_url``: scheme, host, port; no path).

    Everything that does not change per request is built here once: the TLS context, the default
    headers. ``opener`` replaces ``socket.create_connection`` (tests).
    """

    def __init__(
        self,
        base_url: str,
        timeouts: Timeouts,
        *,
        retries: int = 0,
        default_headers: Headers = (),
        opener: Opener | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) origin: {self.base_url!r}")
        self._tls = ssl_context_for(self.base_url) if parts.scheme == "https" else None
        self._host = parts.hostname
        self._port = parts.port or (443 if self._tls else 80)
        self._timeouts = timeouts
        self._retries = retries
        self._opener = opener
        # Host first, as http.client would add it (brackets kept for IPv6); then the rest.
        self._default_headers = [(b"Host", parts.netloc.encode("ascii")), *default_headers]
        self._idle: list[tuple[_OneWriteConnection, float]] = []
        self._lock = threading.Lock()

    def request(
        self, method: bytes, path_and_query: str, *, headers: Headers = (), content: bytes | None = None
    ) -> HttpReply:
        """One exchange, the answer read in full; raises ``TRANSPORT_ERRORS``."""
        connection = self._checkout()
        try:
            connection.putrequest(
                method.decode("ascii"), path_and_query, skip_host=True, skip_accept_encoding=True
            )
            for name, value in self._default_headers:
                connection.putheader(name, value)
            for name, value in headers:
                connection.putheader(name, value)
            if content is not None:
                connection.putheader(b"Content-Length", b"%d" % len(content))
            connection.endheaders(content)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise _exchange_error(exc) from None
        except BaseException:
            connection.close()
            raise
        reply = HttpReply(response.status, reply_headers(response.getheaders()), body)
        self._checkin(connection)
        return reply

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for connection, _ in idle:
            connection.close()

    def __enter__(self) -> PooledOrigin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- the pool ------------------------------------------------------------------------------

    def _checkout(self) -> _OneWriteConnection:
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._idle:
                    break
                connection, since = self._idle.pop()
            if now - since < KEEPALIVE_EXPIRY_SECONDS and not _readable(connection):
                return connection
            connection.close()  # expired, or the server closed it (or sent what nobody asked)
        return self._connect()

    def _checkin(self, connection: _OneWriteConnection) -> None:
        if connection.sock is None:  # the answer said Connection: close
            return
        with self._lock:
            if len(self._idle) < MAX_KEEPALIVE_CONNECTIONS:
                self._idle.append((connection, time.monotonic()))
                return
        connection.close()

    def _connect(self) -> _OneWriteConnection:
        error: TransportError = ConnectError("no connect attempt")
        for _ in range(self._retries + 1):
            try:
                sock = self._open()
            except TimeoutError:
                error = ConnectTimeout("no connection within the connect timeout")
            except OSError as exc:  # refused, unreachable, TLS handshake (ssl.SSLError)
                error = ConnectError(type(exc).__name__)
            else:
                connection = _OneWriteConnection(self._host, self._port)
                connection.sock = sock  # http.client speaks over the socket it is given (TLS or not)
                return connection
        raise error

    def _open(self) -> socket.socket:
        """TCP (and TLS) under the connect timeout; the socket then waits up to the read timeout."""
        opener = self._opener or socket.create_connection
        sock = opener((self._host, self._port), self._timeouts.connect_seconds)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                sock = self._tls.wrap_socket(sock, server_hostname=self._host)
            sock.settimeout(self._timeouts.read_seconds)
        except BaseException:
            sock.close()
            raise
        return sock


class _OneWriteConnection(http.client.HTTPConnection):
    """Sends a request's headers and body in one write (http.client sends them apart: two segments,
    two wakeups of the server). Nothing is answered before the whole request is sent (no
    ``Expect: 100-continue``), so the held bytes leave when the answer is asked for."""

    def __init__(self, host: str, port: int) -> None:
        super().__init__(host, port)
        self._held: list[bytes] = []

    def send(self, data: Any) -> None:
        self._held.append(bytes(data))

    def getresponse(self) -> http.client.HTTPResponse:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            super().send(data)
        return super().getresponse()

    def close(self) -> None:
        self._held.clear()  # an unsent request is abandoned, never sent late
        super().close()


def _readable(connection: http.client.HTTPConnection) -> bool:
    """An idle keep-alive socket that is readable was closed by the server (or holds garbage)."""
    sock = connection.sock
    if sock is None:
        return True
    try:
        return bool(select.select([sock], [], [], 0)[0])
    except (OSError, ValueError):
        return True


def _exchange_error(exc: OSError | http.client.HTTPException) -> TransportError:
    """What a failure during the exchange is called (RemoteDisconnected is an HTTPException)."""
    if isinstance(exc, TimeoutError):
        return ReadTimeout("no complete answer within the read timeout")
    if isinstance(exc, http.client.HTTPException):
        return RemoteProtocolError(type(exc).__name__)
    return ReadError(type(exc).__name__)
