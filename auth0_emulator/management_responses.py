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
from auth0_emulator.client_credentials import management_token_scopes
from auth0_emulator.http_types import HttpRequest, HttpResponse
from auth0_emulator.models import EmulatorState
from auth0_emulator.tenant_logs import LogQuery, LogQueryError
from auth0_emulator.user_search import UserQuery, UserQueryError
from auth0_emulator.validation import ValidationError

Route = Callable[[HttpRequest, str], HttpResponse]


def management_error(status: int, message: str, error_code: str | None = None) -> HttpResponse:
    body: dict[str, Any] = {"statusCode": status, "error": HTTPStatus(status).phrase, "message": message}
    if error_code:
        body["errorCode"] = error_code
    return HttpResponse.json(status, body)


# The scope each endpoint needs, as Auth0's Management API documents it.
SCOPES: dict[tuple[str, str], str] = {
    ("attack-protection", "GET"): "read:attack_protection",
    ("attack-protection", "PATCH"): "update:attack_protection",
    ("clients", "GET"): "read:clients",
    ("clients", "PATCH"): "update:clients",
    ("logs", "GET"): "read:logs",
    ("users", "GET"): "read:users",
    ("user-blocks", "GET"): "read:users",
    ("user-blocks", "DELETE"): "update:users",
    ("anomaly", "GET"): "read:anomaly_blocks",
    ("anomaly", "DELETE"): "delete:anomaly_blocks",
    ("tickets", "POST"): "create:user_tickets",
    ("tenants", "GET"): "read:tenant_settings",
    ("tenants", "PATCH"): "update:tenant_settings",
}


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
            (re.compile(r"/api/v2/logs(?P<arg>)"), {"GET": self.search_logs}),
            (re.compile(r"/api/v2/users(?P<arg>)"), {"GET": self.search_users}),
            (re.compile(r"/api/v2/logs/(?P<arg>[^/]+)"), {"GET": self.get_log}),
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
            (
                re.compile(r"/api/v2/tenants/settings(?P<arg>)"),
                {"GET": self.get_tenant_settings, "PATCH": self.patch_tenant_settings},
            ),
        ]

    def handle(self, request: HttpRequest) -> HttpResponse:
        scopes = self._token_scopes(request)
        if isinstance(scopes, HttpResponse):
            return scopes
        for pattern, methods in self._routes:
            match = pattern.fullmatch(request.path)
            if match is None:
                continue
            route = methods.get(request.method)
            if route is None:
                return management_error(405, "Method not allowed")
            needed = SCOPES[(request.path.split("/")[3], request.method)]
            if scopes is not None and needed not in scopes:
                return management_error(
                    403, f"Insufficient scope, expected any of: {needed}", "insufficient_scope"
                )
            try:
                return route(request, unquote(match["arg"]))
            except ValidationError as error:
                return management_error(400, f"Payload validation error: {error}", "invalid_body")
            except (LogQueryError, UserQueryError) as error:
                return management_error(400, f"Query validation error: {error}", "invalid_query_string")
            except NotFoundError as error:
                return management_error(404, str(error).capitalize() + ".", "inexistent_resource")
        return management_error(404, "Not Found")

    def _token_scopes(self, request: HttpRequest) -> frozenset[str] | HttpResponse | None:
        """The bearer token's scopes (None: the static token, which may do everything) or a 401."""
        header = request.header("authorization") or ""
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return management_error(401, "Missing authentication")
        expected = self._state.config.management_api_token.encode()
        if hmac.compare_digest(token.encode(), expected):
            return None
        scopes = management_token_scopes(
            token, issuer=self._state.issuer, signer=self._state.signer, now=self._state.clock.now()
        )
        if scopes is None:
            return management_error(401, "Invalid token", "invalid_token")
        return scopes

    def get_protection(self, request: HttpRequest, kind: str) -> HttpResponse:
        return HttpResponse.json(200, self._admin.attack_protection(_kind(kind)))

    def patch_protection(self, request: HttpRequest, kind: str) -> HttpResponse:
        return HttpResponse.json(200, self._admin.patch_attack_protection(_kind(kind), _body(request)))

    def get_client(self, request: HttpRequest, client_id: str) -> HttpResponse:
        names, include = _fields(request)
        return HttpResponse.json(200, self._admin.client(client_id, names, include))

    def search_logs(self, request: HttpRequest, _: str) -> HttpResponse:
        q, search = request.query_value("q"), request.query_value("search")
        if q and search and q != search:
            raise LogQueryError("q and search: give one of them (search is auth0-python's name for q)")
        query = LogQuery.parse(
            q or search,
            request.query_value("sort"),
            request.query_value("page"),
            request.query_value("per_page"),
        )
        events, total = self._admin.logs(query)
        include_totals = request.query_value("include_totals")
        if include_totals not in (None, "true", "false"):
            raise LogQueryError("include_totals: expected true or false")
        if include_totals == "true":
            return HttpResponse.json(
                200,
                {
                    "start": query.page * query.per_page,
                    "limit": query.per_page,
                    "length": len(events),
                    "total": total,
                    "logs": events,
                },
            )
        return HttpResponse.json(200, events)

    def search_users(self, request: HttpRequest, _: str) -> HttpResponse:
        query = UserQuery.parse(request.query_value("q"), request.query_value("search_engine"))
        names, include = _fields(request)
        users = self._admin.users(query)
        if names is not None:
            users = [_select(user, names, include) for user in users]
        return HttpResponse.json(200, users)

    def get_log(self, request: HttpRequest, log_id: str) -> HttpResponse:
        return HttpResponse.json(200, self._admin.log(log_id))

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

    def get_tenant_settings(self, request: HttpRequest, _: str) -> HttpResponse:
        return HttpResponse.json(200, self._admin.tenant_settings())

    def patch_tenant_settings(self, request: HttpRequest, _: str) -> HttpResponse:
        return HttpResponse.json(200, self._admin.patch_tenant_settings(_body(request)))

    def create_ticket(self, request: HttpRequest, _: str) -> HttpResponse:
        return HttpResponse.json(201, self._admin.password_change_ticket(_body(request)))


def _kind(text: str) -> ProtectionKind:
    for kind in PROTECTION_KINDS:
        if kind == text:
            return kind
    raise NotFoundError("attack protection setting does not exist")


def _fields(request: HttpRequest) -> tuple[list[str] | None, bool]:
    """Auth0's ``fields`` (comma-separated names) and ``include_fields`` (default true)."""
    fields = request.query_value("fields")
    include = request.query_value("include_fields")
    if include not in (None, "true", "false"):
        raise ValidationError("include_fields: expected true or false")
    names = [name.strip() for name in fields.split(",") if name.strip()] if fields else None
    return names, include != "false"


def _select(body: dict[str, Any], names: list[str], include: bool) -> dict[str, Any]:
    return {name: value for name, value in body.items() if (name in names) == include}


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
