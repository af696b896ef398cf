"""Every outbound HTTP call of ropguard and its doctor: httpx, with one policy, made here only.

``Origin`` is keep-alive HTTP/1.1 to one origin (the Auth0 tenant, the secrets extension on
localhost), over httpx's transport and httpcore's pool:

* **Trust is ours, not the environment's.** https verifies against certifi's bundle, loaded once
  per process into one ``ssl.SSLContext`` built without ``ssl.create_default_context`` (which would
  honour ``SSLKEYLOGFILE`` and write TLS keys to disk); ``trust_env=False`` on the transport, so
  neither ``SSL_CERT_FILE``/``SSL_CERT_DIR`` nor a proxy variable changes where a request goes or
  whom it trusts. Plain http (loopback) loads no bundle at all.
* **Nothing of one exchange reaches the next.** No ``httpx.Client``: requests go straight to the
  transport, so there is no cookie jar (one user's cookie can never ride along on the next user's
  request), no redirect is followed, no auth or event hook runs.
* **A request is sent at most once.** httpcore retries only a failed connect (``ConnectError``,
  ``ConnectTimeout``), before a byte of the request is written; every later failure is reported.
* **An answer has a size cap** (``max_answer_bytes``): the body is streamed and the exchange ends
  with ``AnswerTooLargeError`` as soon as it is exceeded, never read into memory whole.
* **An exchange has a deadline**: its budget is the worst case of the configured timeouts
  (``connect * (1 + retries) + read``), shortened to the invocation's remaining time less
  ``ANSWER_RESERVE_SECONDS`` (``invocation``). No socket operation waits past it, so a server that
  trickles one byte at a time ends in a timeout at the deadline, never at Lambda's own timeout.

Failures are httpx's exceptions: callers catch ``TIMEOUT_ERRORS`` before ``TRANSPORT_ERRORS`` and use
the class name as the reason in logs.
"""

from __future__ import annotations

import json
import ssl
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache, wraps
from typing import Any, Final, NamedTuple, Protocol, TypeVar

import httpcore
import httpx

from ropguard.errors import ConfigurationError

#: Auth0's answers are a few kilobytes; a larger one is not an answer we use.
MAX_ANSWER_BYTES: Final = 256 * 1024
#: Kept back from the invocation's remaining time to answer (the log line, metrics, the response).
ANSWER_RESERVE_SECONDS: Final = 0.5
#: As httpx.Client has them (a Lambda container sends one request at a time).
LIMITS: Final = httpx.Limits(max_connections=100, max_keepalive_connections=20, keepalive_expiry=5.0)

Headers = Sequence[tuple[str, str]]


class AnswerTooLargeError(httpx.TransportError):
    """The answer is larger than the origin's cap; it was not read."""


TIMEOUT_ERRORS: Final = (httpx.TimeoutException,)
TRANSPORT_ERRORS: Final = (httpx.TransportError,)

#: When the current invocation must have answered (``time.monotonic``), None outside one.
_invocation_end: ContextVar[float | None] = ContextVar("invocation_end", default=None)
#: When the current exchange must have ended, None outside one.
_exchange_end: ContextVar[float | None] = ContextVar("exchange_end", default=None)


# --- the invocation's deadline --------------------------------------------------------------------


class RemainingTime(Protocol):
    """What a Lambda context offers for the deadline."""

    def get_remaining_time_in_millis(self) -> int: ...


@contextmanager
def invocation(context: RemainingTime) -> Iterator[None]:
    """Every exchange inside ends ``ANSWER_RESERVE_SECONDS`` before Lambda would end the invocation."""
    end = time.monotonic() + context.get_remaining_time_in_millis() / 1000 - ANSWER_RESERVE_SECONDS
    token = _invocation_end.set(end)
    try:
        yield
    finally:
        _invocation_end.reset(token)


Handler = TypeVar("Handler", bound=Callable[[Any, Any], Any])


def within_invocation(handler: Handler) -> Handler:
    """A Lambda handler decorator: its outbound exchanges are bounded by the invocation (``invocation``)."""

    @wraps(handler)
    def bounded(event: Any, context: Any) -> Any:
        with invocation(context):
            return handler(event, context)

    return bounded  # type: ignore[return-value]


def require_fits(budget_seconds: float, variable: str) -> None:
    """Inside an invocation, refuse timeouts whose worst case outlives the function's own timeout.

    Called when a function builds its clients (its first invocation, when the remaining time is the
    function's timeout): a configuration that Lambda would cut short is an error naming ``variable``.
    """
    end = _invocation_end.get()
    if end is None:
        return
    available = end - time.monotonic()
    if budget_seconds > available:
        raise ConfigurationError(
            variable,
            f"the worst case of the configured timeouts ({budget_seconds:g} s) does not fit the "
            f"function's timeout ({available + ANSWER_RESERVE_SECONDS:.1f} s, "
            f"{ANSWER_RESERVE_SECONDS:g} s of which is kept to answer)",
        )


def _left(timeout: float | None, on_expiry: type[Exception]) -> float | None:
    """``timeout`` shortened to what is left of the current exchange; raises once nothing is left."""
    end = _exchange_end.get()
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise on_expiry("the exchange's deadline passed")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket whose every wait ends at the exchange's deadline (httpcore waits per operation)."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        wait = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, wait))

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's network, each connect and each stream bounded by the exchange's deadline."""

    def __init__(self, network: httpcore.NetworkBackend) -> None:
        self._network = network

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Any = None,
    ) -> httpcore.NetworkStream:
        wait = _left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._network.connect_tcp(host, port, wait, local_address, socket_options))

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Any = None
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("unix sockets are not an origin of ours")

    def sleep(self, seconds: float) -> None:
        left = _left(seconds, httpcore.ConnectTimeout)
        self._network.sleep(seconds if left is None else left)


# --- TLS ------------------------------------------------------------------------------------------


@cache
def certifi_context() -> ssl.SSLContext:
    """certifi's bundle, loaded once per process; the host name and certificate always checked.

    Built directly (``PROTOCOL_TLS_CLIENT``), not by ``ssl.create_default_context``, which would
    set ``keylog_filename`` from ``SSLKEYLOGFILE``.
    """
    import certifi  # noqa: PLC0415 - only https origins load the bundle

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cafile=certifi.where())
    return context


def _context_for(url: httpx.URL) -> ssl.SSLContext:
    """certifi's context for https; for plain http one that trusts no CA (never used, loads nothing)."""
    if url.scheme == "https":
        return certifi_context()
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


class _Transport(httpx.HTTPTransport):
    """httpx's transport over a pool whose network keeps the deadline.

    httpx takes no network backend of its own, so its pool is replaced by httpcore's same pool
    built with one (``trust_env=False`` and an explicit context: nothing read from the environment).
    """

    def __init__(
        self,
        context: ssl.SSLContext,
        retries: int,
        network: httpcore.NetworkBackend,
        local_address: str | None,
    ) -> None:
        super().__init__(verify=context, trust_env=False, retries=retries, limits=LIMITS)
        self._pool = httpcore.ConnectionPool(
            ssl_context=context,
            max_connections=LIMITS.max_connections,
            max_keepalive_connections=LIMITS.max_keepalive_connections,
            keepalive_expiry=LIMITS.keepalive_expiry,
            http1=True,
            http2=False,
            retries=retries,
            local_address=local_address,
            network_backend=_DeadlineBackend(network),
        )


# --- an origin ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """An answer read in full (at most the cap). The content may hold tokens: never in a repr."""

    status: int
    headers: httpx.Headers = field(repr=False)
    content: bytes = field(repr=False)

    def json(self) -> Any:
        """The parsed body; raises ``ValueError`` when it is not JSON (nested too deep included)."""
        try:
            return json.loads(self.content)
        except RecursionError:
            raise ValueError("the answer nests too deep") from None


class Timeouts(NamedTuple):
    connect_seconds: float
    read_seconds: float


class Origin:
    """Keep-alive HTTP/1.1 to one origin (``base_url``: scheme, host, port) under the module's policy.

    ``network`` replaces httpcore's socket layer (tests: a network whose connects fail);
    ``local_address`` binds the source address (the doctor's smoke test from a chosen address).
    """

    def __init__(
        self,
        base_url: str,
        timeouts: Timeouts,
        *,
        retries: int = 0,
        headers: Headers = (),
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        network: httpcore.NetworkBackend | None = None,
        local_address: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        url = httpx.URL(self.base_url)
        if url.scheme not in ("http", "https") or not url.host:
            raise ValueError(f"not an http(s) origin: {self.base_url!r}")
        self.budget_seconds = timeouts.connect_seconds * (1 + retries) + timeouts.read_seconds
        self._timeouts = {
            "connect": timeouts.connect_seconds,
            "read": timeouts.read_seconds,
            "write": timeouts.read_seconds,
            "pool": timeouts.connect_seconds,
        }
        self._headers = list(headers)
        self._max_answer_bytes = max_answer_bytes
        self._transport = _Transport(
            _context_for(url), retries, network or httpcore.SyncBackend(), local_address
        )

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        headers: Headers = (),
        content: bytes | None = None,
    ) -> Reply:
        """One exchange under the deadline, the answer read up to the cap; raises ``TRANSPORT_ERRORS``."""
        request = httpx.Request(
            method,
            f"{self.base_url}{path}",
            params=params,
            headers=[*self._headers, *headers],
            content=content,
            extensions={"timeout": self._timeouts},
        )
        token = _exchange_end.set(self._deadline())
        try:
            response = self._transport.handle_request(request)
            try:
                body = self._read(response)
            finally:
                response.close()
        finally:
            _exchange_end.reset(token)
        return Reply(response.status_code, response.headers, body)

    def _deadline(self) -> float:
        end = time.monotonic() + self.budget_seconds
        invocation_end = _invocation_end.get()
        return end if invocation_end is None else min(end, invocation_end)

    def _read(self, response: httpx.Response) -> bytes:
        """The body as sent (no decoding: we ask for identity), refused past the cap before reading on."""
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_answer_bytes:
            raise AnswerTooLargeError(f"the answer declares {declared} bytes")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_raw():
            size += len(chunk)
            if size > self._max_answer_bytes:
                raise AnswerTooLargeError(f"the answer exceeds {self._max_answer_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._transport.close()

    def __enter__(self) -> Origin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


#: httpx's JSON body encoding (compact, UTF-8, no NaN), built once instead of per request.
_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def json_content(body: Any) -> bytes:
    """A request body as httpx's ``json=`` encodes it."""
    return _JSON.encode(body).encode("utf-8")
