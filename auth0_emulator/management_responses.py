"""The Management API subset: bearer-token check, routing, Auth0's management error shape."""

from __future__ import annotations

import hmac
import json
import re
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from auth0_emulator.admin import PROTECTION_KINDS, Administration, NotFoundError, ProtectionKind
from auth0_emulator.http_types import HttpRequest, HttpResponse
from auth0_emulator.models import EmulatorState
from auth0_emulator.validation import ValidationError

Route = Callable[[HttpRequest, str], HttpResponse]


def management_error(status: int, message: str, error_code: str | None = None) -> HttpResponse:
    body: dict[str, Any] = {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}
    if error_code:
        body["errorCode"] = error_code
    return HttpResponse.json(status, body)


class ManagementResponses:
    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._admin = Administration(state)
        self._routes: list[tuple[re.Pattern[str], dict[str, Route]]] = [
            (
                re.compile(r"/api/v2/attack-protection/(?P<arg>[a-z-]+)"),
                {"GET": self.get_protection, "PATCH": self.patch_protection},
            ),
            (
                re.compile(r"/api/v2/clients/(?P<arg>[^/]+)"),
                {"GET": self.get_client, "PATCH": self.patch_client},
            ),
            (
                re.compile(r"/api/v2/user-blocks(?P<arg>)"),
                {"GET": self.get_blocks, "DELETE": self.delete_blocks},
            ),
            (
                re.compile(r"/api/v2/user-blocks/(?P<arg>[^/]+)"),
                {"GET": self.get_user_blocks, "DELETE": self.delete_user_blocks},
            ),
            (
                re.compile(r"/api/v2/anomaly/blocks/ips/(?P<arg>[^/]+)"),
                {"GET": self.get_ip_block, "DELETE": self.delete_ip_block},
            ),
            (re.compile(r"/api/v2/tickets/password-change(?P<arg>)"), {"POST": self.create_ticket}),
        ]

    def handle(self, request: HttpRequest) -> HttpResponse:
        denied = self._check_token(request)
        if denied is not None:
            return denied
        for pattern, methods in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            route = methods.get(request.method)
            if route is None:
                return management_error(405, "Method not allowed")
            try:
                return route(request, unquote(match["arg"]))
            except ValidationError as error:
                return management_error(400, f"Payload validation error: {error}", "invalid_body")
            except NotFoundError as error:
                return management_error(404, str(error).capitalize() + ".", "inexistent_resource")
        return management_error(404, "Not Found")

    def _check_token(self, request: HttpRequest) -> HttpResponse | None:
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            return management_error(401, "Missing authentication")
        expected = self._state.config.management_api_token.encode()
        if not hmac.compare_digest(token.strip().encode(), expected):
            return management_error(401, "Invalid token")
        return None

    def get_protection(self, request: HttpRequest, kind: str) -> HttpResponse:
        return HttpResponse.json(200, self._admin.attack_protection(_kind(kind)))

    def patch_protection(self, request: HttpRequest, kind: str) -> HttpResponse:
        return HttpResponse.json(200, self._admin.patch_attack_protection(_kind(kind), _body(request)))

    def get_client(self, request: HttpRequest, client_id: str) -> HttpResponse:
        return HttpResponse.json(200, self._admin.client(client_id))

    def patch_client(self, request: HttpRequest, client_id: str) -> HttpResponse:
        return HttpResponse.json(200, self._admin.patch_client(client_id, _body(request)))

    def get_blocks(self, request: HttpRequest, _: str) -> HttpResponse:
        return HttpResponse.json(200, {"blocked_for": self._admin.user_blocks(_identifier(request))})

    def delete_blocks(self, request: HttpRequest, _: str) -> HttpResponse:
        self._admin.delete_user_blocks(_identifier(request))
        return HttpResponse.empty(204)

    def get_user_blocks(self, request: HttpRequest, user_id: str) -> HttpResponse:
        return HttpResponse.json(200, {"blocked_for": self._admin.user_blocks_by_id(user_id)})

    def delete_user_blocks(self, request: HttpRequest, user_id: str) -> HttpResponse:
        self._admin.delete_user_blocks_by_id(user_id)
        return HttpResponse.empty(204)

    def get_ip_block(self, request: HttpRequest, ip: str) -> HttpResponse:
        if self._admin.ip_blocked(ip):
            return HttpResponse.empty(200)
        return management_error(404, "IP address specified is not currently blocked.")

    def delete_ip_block(self, request: HttpRequest, ip: str) -> HttpResponse:
        self._admin.unblock_ip(ip)
        return HttpResponse.empty(204)

    def create_ticket(self, request: HttpRequest, _: str) -> HttpResponse:
        return HttpResponse.json(201, self._admin.password_change_ticket(_body(request)))


def _kind(text: str) -> ProtectionKind:
    for kind in PROTECTION_KINDS:
        if kind == text:
            return kind
    raise NotFoundError("attack protection setting does not exist")


def _identifier(request: HttpRequest) -> str:
    identifier = request.query_value("identifier")
    if not identifier:
        raise ValidationError("identifier: required query parameter")
    return identifier


def _body(request: HttpRequest) -> object:
    content_type = (request.header("content-type") or "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise ValidationError("body: Content-Type must be application/json")
    try:
        return json.loads(request.body or b"{}")
    except ValueError as exc:
        raise ValidationError("body: not valid JSON") from exc
