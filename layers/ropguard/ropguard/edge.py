"""HTTP at the edge: event -> typed request and caller, service call, answer -> response and metrics.

A handler is decorators plus one call to ``serve``. Services never see API Gateway dicts and never
emit metrics; they return an ``Answer`` or raise a ``ropguard.errors`` class, which ``ERROR_TABLE``
maps to its answer (the one place an exception becomes HTTP). The end user's address comes from
the service's ``client_address`` resolver (``ropguard.client_address``: the request context, or in
CloudFront mode a verified viewer address) and is checked before the body is read: without it
nothing else happens (fail closed).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from ropguard.answers import MISCONFIGURED_BODY, TIMEOUT_BODY, UPSTREAM_BODY, Answer, error_body
from ropguard.api_event import ApiEvent, read_event
from ropguard.client_address import ClientAddressResolver
from ropguard.cookie_delivery import CookieDelivery, SessionCookie
from ropguard.errors import (
    ClientAddressError,
    ConfigurationError,
    InvalidRequestError,
    OriginNotVerifiedError,
    RopguardError,
    RouteNotFoundError,
    SecretUnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
    ViewerAddressError,
)
from ropguard.responses import render

S = TypeVar("S", bound="AddressedService")

#: The one answer to a request that did not prove it came through the CloudFront distribution.
ORIGIN_NOT_VERIFIED_DESCRIPTION = "The request was not received through the login service's front door."


class AddressedService(Protocol):
    """A service the edge can serve: it says where its end users' addresses come from, and how its
    tokens travel (``cookies`` None: in the body; otherwise cookie mode, ``ropguard.cookie_delivery``)."""

    @property
    def client_address(self) -> ClientAddressResolver: ...

    @property
    def cookies(self) -> CookieDelivery | None: ...


class Caller(NamedTuple):
    """Who asked: the end user's address (from the request context) and API Gateway's request id."""

    source_ip: str
    request_id: str


class Route(NamedTuple, Generic[S]):
    """One route of a function: ``handle`` parses the typed event and calls the service.

    Metric names are ``metric_prefix`` + the answer's outcome; ``metric_names`` overrides some
    (the login route keeps the names its alarms and dashboards already use). ``session_cookie``
    says whether the route reads (or ends) cookie mode's session cookie.
    """

    key: str
    name: str
    metric_prefix: str
    handle: Callable[[S, ApiEvent, Caller], Answer]
    metric_names: Mapping[str, str] = MappingProxyType({})
    session_cookie: SessionCookie = SessionCookie.NONE

    def metric(self, outcome: str) -> str:
        return self.metric_names.get(outcome, f"{self.metric_prefix}{outcome}")


class ErrorAnswer(NamedTuple):
    """``body`` None means ``invalid_request`` with the exception's own (safe) message."""

    outcome: str
    status: int
    body: Mapping[str, str] | None


CONFIGURATION_INVALID = "ConfigurationInvalid"

#: Every ropguard exception class -> its answer; the first matching row wins (most specific first).
ERROR_TABLE: tuple[tuple[type[RopguardError], ErrorAnswer], ...] = (
    (InvalidRequestError, ErrorAnswer("BadRequest", 400, None)),
    (
        RouteNotFoundError,
        ErrorAnswer(
            "RouteNotFound", 404, error_body("not_found", "This function does not serve that route.")
        ),
    ),
    (
        ViewerAddressError,
        ErrorAnswer(
            "ViewerAddressInvalid", 403, error_body("access_denied", ORIGIN_NOT_VERIFIED_DESCRIPTION)
        ),
    ),
    (
        OriginNotVerifiedError,
        ErrorAnswer("OriginNotVerified", 403, error_body("access_denied", ORIGIN_NOT_VERIFIED_DESCRIPTION)),
    ),
    (
        ClientAddressError,
        ErrorAnswer("SourceIpMissing", 500, error_body("server_error", "The client address is unavailable.")),
    ),
    (
        ConfigurationError,
        ErrorAnswer(
            CONFIGURATION_INVALID, 500, error_body("server_error", "The login service is misconfigured.")
        ),
    ),
    (
        SecretUnavailableError,
        ErrorAnswer(
            "SecretUnavailable",
            503,
            error_body("temporarily_unavailable", "The login service is temporarily unavailable."),
        ),
    ),
    (UpstreamTimeoutError, ErrorAnswer("UpstreamTimeout", 504, TIMEOUT_BODY)),
    (UpstreamError, ErrorAnswer("UpstreamError", 502, UPSTREAM_BODY)),
    (RopguardError, ErrorAnswer("Misconfigured", 502, MISCONFIGURED_BODY)),
)


def error_answer(exc: RopguardError, **log_fields: Any) -> Answer:
    """The table's answer to ``exc``; the message is logged as ``reason`` (it never holds a secret)."""
    for kind, row in ERROR_TABLE:
        if isinstance(exc, kind):
            body = row.body if row.body is not None else error_body("invalid_request", str(exc))
            return Answer(row.outcome, row.status, dict(body), log_fields={**log_fields, "reason": str(exc)})
    raise AssertionError("RopguardError is the table's last row")  # pragma: no cover


def pick_route(event: ApiEvent, routes: Mapping[str, Route[S]]) -> Route[S]:
    """The route for the event; a one-route function serves whatever API Gateway sends it."""
    if len(routes) == 1:
        return next(iter(routes.values()))
    route = routes.get(event.route_key)
    if route is None:
        raise RouteNotFoundError(f"no route {event.route_key!r} in this function")
    return route


def _no_handler(service: Any, event: ApiEvent, caller: Caller) -> Answer:  # pragma: no cover
    raise RouteNotFoundError("no route")


#: Stands for a route the function does not serve, so its 404 is counted and logged like any answer.
UNKNOWN_ROUTE: Route[Any] = Route("", "unknown route", "", _no_handler)


def answer_event(
    event: Mapping[str, Any], routes: Mapping[str, Route[S]], service: S
) -> tuple[Route[S], Answer]:
    """The domain answer to one event, errors included (no metric, no log: see ``serve``)."""
    api = read_event(event)
    try:
        route = pick_route(api, routes)
    except RouteNotFoundError as exc:
        return UNKNOWN_ROUTE, error_answer(exc)
    cookies = service.cookies
    refusal = cookies.csrf_refusal(api) if cookies is not None else None
    if refusal is not None:  # cookie mode: not one of our pages, so nothing else happens
        return route, refusal
    try:
        # Fail closed: without the address Auth0 would count every user as this server; in
        # CloudFront mode a request not proven to come through the distribution stops here too.
        client_ip = service.client_address.resolve(event)
    except RopguardError as exc:
        return route, error_answer(exc, source_ip=None)
    caller = Caller(client_ip, api.request_id)
    try:
        if cookies is None:
            return route, route.handle(service, api, caller)
        return route, cookies.serve(
            route.session_cookie, api, lambda sent: route.handle(service, sent, caller)
        )
    except RopguardError as exc:
        return route, error_answer(exc, source_ip=client_ip)


class MetricsSink(Protocol):
    def add_metric(self, *, name: str, unit: Any, value: float) -> None: ...


class LogSink(Protocol):
    def info(self, msg: object, *, extra: Mapping[str, object] | None = ...) -> None: ...

    def error(self, msg: object, *, extra: Mapping[str, object] | None = ...) -> None: ...


COUNT = "Count"


def count(metrics: MetricsSink, name: str) -> None:
    metrics.add_metric(name=name, unit=COUNT, value=1)


def report_invalid_configuration(
    exc: ConfigurationError, *, logger: LogSink, metrics: MetricsSink, metric: str
) -> None:
    """Every function's one answer to a configuration error: one error log naming the variable, one
    metric (the alarm's); the function then answers as its trigger expects (a JSON 500, a retry)."""
    logger.error("invalid configuration", extra={"variable": exc.variable, "problem": str(exc)})
    count(metrics, metric)


def serve(
    event: Mapping[str, Any],
    routes: Mapping[str, Route[S]],
    service: Callable[[], S],
    *,
    logger: LogSink,
    metrics: MetricsSink,
) -> dict[str, Any]:
    """Answer one event: build (or reuse) the service, answer, count, log, render."""
    try:
        built = service()
    except ConfigurationError as exc:
        try:
            route: Route[Any] = pick_route(read_event(event), routes)
        except RouteNotFoundError:
            route = UNKNOWN_ROUTE
        metric = route.metric(CONFIGURATION_INVALID)
        report_invalid_configuration(exc, logger=logger, metrics=metrics, metric=metric)
        return render(error_answer(exc))
    route, answer = answer_event(event, routes, built)
    name = route.metric(answer.outcome)
    count(metrics, name)
    for extra in answer.extra_metrics:
        count(metrics, extra)
    logger.info(
        f"{route.name} answered",
        extra={"route": route.key, "outcome": name, "status": answer.status, **answer.log_fields},
    )
    return render(answer)
