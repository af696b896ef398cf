"""ropguard.edge: routing, fail-closed address, the error table, metrics and logs at the edge only."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ropguard.answers import Answer
from ropguard.api_event import ApiEvent
from ropguard.client_address import ClientAddressResolver
from ropguard.cookie_delivery import CookieDelivery
from ropguard.edge import ERROR_TABLE, ORIGIN_NOT_VERIFIED_DESCRIPTION, Caller, Route, error_answer, serve
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
    UpstreamUnreachableError,
)
from ropguard.settings import CLOUDFRONT, ClientAddressSettings
from tests.fixtures.login import http_api_event


class Recorder:
    def __init__(self) -> None:
        self.metrics: list[str] = []
        self.logs: list[tuple[str, dict[str, Any]]] = []

    def add_metric(self, *, name: str, unit: Any, value: float) -> None:
        self.metrics.append(name)

    def info(self, msg: object, *, extra: Any = None) -> None:
        self.logs.append((str(msg), dict(extra or {})))

    error = info


class Service:
    """What the edge needs of a service: where its end users' addresses come from, how its tokens
    travel (``cookies`` None: body mode)."""

    def __init__(self, name: str = "svc", resolver: ClientAddressResolver | None = None) -> None:
        self.name = name
        self.client_address = resolver or ClientAddressResolver(ClientAddressSettings())
        self.cookies: CookieDelivery | None = None


def echo(service: Service, event: ApiEvent, caller: Caller) -> Answer:
    if event.body == "boom":
        raise UpstreamTimeoutError("ReadTimeout")
    return Answer("Succeeded", 200, {"service": service.name, "ip": caller.source_ip}, log_fields={"n": 1})


ROUTES = {
    "POST /a": Route("POST /a", "a", "RouteA", echo),
    "POST /b": Route("POST /b", "b", "RouteB", echo),
}


def event(route_key: str = "POST /a", body: str = "{}", **options: Any) -> dict[str, Any]:
    raw = http_api_event(body, **options)
    raw["routeKey"] = route_key
    return raw


def test_a_route_is_answered_rendered_counted_and_logged() -> None:
    seen = Recorder()
    response = serve(event("POST /b"), ROUTES, Service, logger=seen, metrics=seen)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"service": "svc", "ip": "203.0.113.7"}
    assert response["headers"]["Cache-Control"] == "no-store"
    assert seen.metrics == ["RouteBSucceeded"]
    ((message, fields),) = seen.logs
    assert message == "b answered"
    assert fields["outcome"] == "RouteBSucceeded"
    assert fields["n"] == 1


def test_no_source_address_fails_closed_before_the_route_runs() -> None:
    seen = Recorder()
    response = serve(event(body="boom", source_ip=None), ROUTES, Service, logger=seen, metrics=seen)
    assert response["statusCode"] == 500
    assert seen.metrics == ["RouteASourceIpMissing"]


def test_errors_map_through_the_table() -> None:
    seen = Recorder()
    response = serve(event(body="boom"), ROUTES, Service, logger=seen, metrics=seen)
    assert response["statusCode"] == 504
    assert seen.metrics == ["RouteAUpstreamTimeout"]


def test_an_unknown_route_is_a_404() -> None:
    seen = Recorder()
    response = serve(event("GET /nope"), ROUTES, Service, logger=seen, metrics=seen)
    assert response["statusCode"] == 404
    assert seen.metrics == ["RouteNotFound"]


def test_a_configuration_error_is_one_log_line_naming_the_variable() -> None:
    seen = Recorder()

    def broken() -> Service:
        raise ConfigurationError("AUTH0_DOMAIN", "is required")

    response = serve(event(), ROUTES, broken, logger=seen, metrics=seen)
    assert response["statusCode"] == 500
    assert seen.metrics == ["RouteAConfigurationInvalid"]
    assert seen.logs[0][1]["variable"] == "AUTH0_DOMAIN"


@pytest.mark.parametrize(
    ("exc", "status", "error"),
    [
        (InvalidRequestError("field 'x' is required"), 400, "invalid_request"),
        (RouteNotFoundError("x"), 404, "not_found"),
        (OriginNotVerifiedError("x"), 403, "access_denied"),
        (ClientAddressError("x"), 500, "server_error"),
        (ConfigurationError("X", "bad"), 500, "server_error"),
        (SecretUnavailableError("x"), 503, "temporarily_unavailable"),
        (UpstreamTimeoutError("x"), 504, "temporarily_unavailable"),
        (UpstreamUnreachableError("x"), 502, "temporarily_unavailable"),
        (UpstreamError("x"), 502, "temporarily_unavailable"),
        (RopguardError("x"), 502, "server_error"),
    ],
)
def test_every_exception_class_has_its_answer(exc: RopguardError, status: int, error: str) -> None:
    answer = error_answer(exc)
    assert (answer.status, answer.body["error"]) == (status, error)


def test_only_invalid_request_returns_its_message() -> None:
    assert error_answer(InvalidRequestError("field 'x' is required")).body["error_description"] == (
        "field 'x' is required"
    )
    assert "internal detail" not in json.dumps(error_answer(SecretUnavailableError("internal detail")).body)
    assert ERROR_TABLE[-1][0] is RopguardError


class _NoOriginSecret:
    def value(self, stage: str = "AWSCURRENT", *, refresh: bool = False) -> str | None:
        return "the-origin-secret" if stage == "AWSCURRENT" else None


def test_cloudfront_mode_refuses_an_unverified_request_before_the_route_runs() -> None:
    seen = Recorder()
    resolver = ClientAddressResolver(ClientAddressSettings(CLOUDFRONT, "origin"), _NoOriginSecret())

    response = serve(event(), ROUTES, lambda: Service(resolver=resolver), logger=seen, metrics=seen)

    assert response["statusCode"] == 403
    assert json.loads(response["body"]) == {
        "error": "access_denied",
        "error_description": ORIGIN_NOT_VERIFIED_DESCRIPTION,
    }
    assert seen.metrics == ["RouteAOriginNotVerified"]


# --- cookie mode (ropguard.cookie_delivery): around every route, in one place --------------------


class CookieService(Service):
    """A service in cookie mode whose address resolver must never be asked for a refused request."""

    def __init__(self) -> None:
        super().__init__()
        from ropguard.cookie_seal import CookieKeys, derive_key  # noqa: PLC0415
        from ropguard.settings import ApiSettings  # noqa: PLC0415

        class Keys:
            def keys(self, *, refresh: bool = False) -> CookieKeys:
                return CookieKeys(derive_key("edge-test-cookie-key-material-0123456789"))

        env = {"AUTH0_DOMAIN": "t.example.com", "AUTH0_SECRET_ID": "s", "TOKEN_DELIVERY": "cookie"}
        env |= {"COOKIE_KEY_SECRET_ID": "k", "ALLOWED_ORIGINS": "https://app.example.com"}
        self.cookies = CookieDelivery.with_keys(Keys(), ApiSettings.from_env(env))


def tokens(service: Service, event: ApiEvent, caller: Caller) -> Answer:
    body = {
        "access_token": "at-edge-test",
        "token_type": "Bearer",
        "refresh_token": "rt-edge-test-never-log-me",
    }
    return Answer("Succeeded", 200, body)


def test_cookie_mode_refuses_a_request_without_x_csrf_before_anything_else() -> None:
    seen = Recorder()
    response = serve(event(source_ip=None), ROUTES, CookieService, logger=seen, metrics=seen)
    assert response["statusCode"] == 403
    assert json.loads(response["body"])["error"] == "access_denied"
    assert seen.metrics == ["RouteACsrfRefused"]  # not SourceIpMissing: the address was never asked


def test_cookie_mode_moves_the_refresh_token_into_the_rendered_cookie() -> None:
    seen = Recorder()
    routes = {"POST /a": Route("POST /a", "a", "RouteA", tokens)}
    headers = {"x-csrf": "1", "origin": "https://app.example.com"}
    response = serve(event(headers=headers), routes, CookieService, logger=seen, metrics=seen)
    assert response["statusCode"] == 200
    assert "refresh_token" not in json.loads(response["body"])
    (cookie,) = response["cookies"]
    assert cookie.startswith("__Host-ropguard-refresh=")
    assert "rt-edge-test-never-log-me" not in json.dumps(response)
