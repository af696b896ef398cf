"""A small stateful stand-in for Auth0's token endpoint, Management API subset and tenant logs,
served by pytest-httpserver (a real loopback HTTP server), for the doctor's unit tests.

It follows Auth0's documented behaviour (README "Is Auth0 really using the forwarded address?"):
the forwarded address is used only for a confidential client that sent its secret and trusts the
header; otherwise the TCP peer is logged. Integration tests use the real emulator instead.
"""

from __future__ import annotations

import copy
import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from werkzeug import Request, Response

from tests.fixtures.secret_hygiene import SECRETS

MANAGEMENT_ID = "doctor-m2m"
MANAGEMENT_SECRET = "m2m-secret-never-printed-7f3a9c"
MANAGEMENT_TOKEN = "mgmt-token-never-printed-41d2e8"
LOGIN_ID = "login-client"
LOGIN_SECRET = "login-secret-never-printed-9b8c7d"
SECRETS.add("client_secret", MANAGEMENT_SECRET, LOGIN_SECRET)
SECRETS.add("token", MANAGEMENT_TOKEN)

GOOD_CLIENT: dict[str, Any] = {
    "client_id": LOGIN_ID,
    "name": "ropguard",
    "app_type": "regular_web",
    "token_endpoint_auth_method": "client_secret_post",
    "is_token_endpoint_ip_header_trusted": True,
    "grant_types": [
        "password",
        "http://auth0.com/oauth/grant-type/password-realm",
        "http://auth0.com/oauth/grant-type/mfa-otp",
        "http://auth0.com/oauth/grant-type/mfa-oob",
        "http://auth0.com/oauth/grant-type/mfa-recovery-code",
        "refresh_token",
    ],
    "refresh_token": {
        "rotation_type": "rotating",
        "expiration_type": "expiring",
        "leeway": 5,
        "token_lifetime": 2592000,
        "infinite_token_lifetime": False,
        "idle_token_lifetime": 1296000,
        "infinite_idle_token_lifetime": False,
        "policies": [],
    },
}
GOOD_PROTECTIONS: dict[str, dict[str, Any]] = {
    "brute-force-protection": {
        "enabled": True,
        "shields": ["user_notification", "block"],
        "mode": "count_per_identifier_and_ip",
        "max_attempts": 10,
        "allowlist": [],
    },
    "suspicious-ip-throttling": {
        "enabled": True,
        "shields": ["block", "admin_notification"],
        "allowlist": [],
        "stage": {
            "pre-login": {"max_attempts": 100, "rate": 864000},
            "pre-user-registration": {"max_attempts": 50, "rate": 1200},
        },
    },
    "breached-password-detection": {
        "enabled": True,
        "shields": ["block", "user_notification"],
        "admin_notification_frequency": [],
        "method": "standard",
        "stage": {"pre-user-registration": {"shields": []}},
    },
}


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json(status, {"statusCode": status, "error": "Error", "message": message})


@dataclass
class FakeTenant:
    client: dict[str, Any] = field(default_factory=lambda: copy.deepcopy(GOOD_CLIENT))
    protections: dict[str, dict[str, Any]] = field(default_factory=lambda: copy.deepcopy(GOOD_PROTECTIONS))
    logs: list[dict[str, Any]] = field(default_factory=list)
    patches: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    hide_logs: bool = False

    #: What a deployed ropguard's function looks like to Auth0 in ``smoke``: its egress address.
    function_address: str = "10.0.0.5"
    #: False: the "deployed API" forwards nothing (as if it ignored the header entirely).
    api_forwards: bool = True
    #: A scope the M2M client's token lacks (its calls answer 403 insufficient_scope).
    missing_scope: str | None = None
    #: How each user grant (not client_credentials) authenticated its client: "post" or "basic".
    client_auth: list[str] = field(default_factory=list)

    def handle(self, request: Request) -> Response:
        if request.path == "/login":
            return self._deployed_login(request)
        if request.path == "/oauth/token":
            return self._token(request)
        if not request.path.startswith("/api/v2/"):
            return _error(404, "Not Found")
        if request.headers.get("authorization") != f"Bearer {MANAGEMENT_TOKEN}":
            return _error(401, "Invalid token")
        match = re.fullmatch(r"/api/v2/clients/(.+)", request.path)
        if match:
            if match[1] != self.client["client_id"]:
                return _error(404, "The client does not exist")
            if request.method == "PATCH":
                return self._patch_client(request.get_json())
            fields = [f for f in request.args.get("fields", "").split(",") if f]
            shown = {k: v for k, v in self.client.items() if not fields or k in fields}
            return _json(200, shown)
        match = re.fullmatch(r"/api/v2/attack-protection/([a-z-]+)", request.path)
        if match and self.missing_scope == "read:attack_protection":
            return _error(403, "Insufficient scope, expected any of: read:attack_protection")
        if match and match[1] in self.protections:
            if request.method == "PATCH":
                body = request.get_json()
                self.patches.append((match[1], body))
                self.protections[match[1]].update(body)
            return _json(200, self.protections[match[1]])
        if request.path == "/api/v2/logs":
            query = re.fullmatch(r'user_name:"(.+)"', request.args.get("q", ""))
            if self.hide_logs or query is None:
                return _json(200, [])
            return _json(200, [e for e in reversed(self.logs) if e["user_name"] == query[1]])
        return _error(404, "Not Found")

    def _patch_client(self, body: dict[str, Any]) -> Response:
        updated = {**self.client, **body}
        if updated["is_token_endpoint_ip_header_trusted"] and updated["token_endpoint_auth_method"] == "none":
            return _error(400, "is_token_endpoint_ip_header_trusted requires a confidential client")
        self.patches.append(("client", body))
        self.client = updated
        return _json(200, self.client)

    def _deployed_login(self, request: Request) -> Response:
        """ropguard's POST /login in miniature: the caller's address forwarded, the login
        client's secret sent, Auth0's error passed through in its dialect."""
        body = request.get_json()
        params = {
            "grant_type": "password",
            "username": body["username"],
            "password": body["password"],
            "client_id": LOGIN_ID,
            "client_secret": LOGIN_SECRET,
        }
        forwarded = request.remote_addr if self.api_forwards else None
        return self._token_grant(params, self.function_address, forwarded)

    def _token(self, request: Request) -> Response:
        if request.is_json:
            params = {k: str(v) for k, v in request.get_json().items()}
        else:
            params = {k: v[0] for k, v in parse_qs(request.get_data(as_text=True)).items()}
        basic = request.authorization
        if basic is not None and basic.type == "basic":  # RFC 6749 2.3.1: each part URL-encoded
            params |= {
                "client_id": unquote(basic.username or ""),
                "client_secret": unquote(basic.password or ""),
            }
        if params.get("grant_type") != "client_credentials":
            self.client_auth.append("basic" if basic is not None else "post")
        peer = request.remote_addr or "127.0.0.1"
        return self._token_grant(params, peer, request.headers.get("auth0-forwarded-for"))

    def _token_grant(self, params: dict[str, str], peer: str, forwarded: str | None) -> Response:
        SECRETS.add("password", params.get("password"))
        if params.get("grant_type") == "client_credentials":
            if (params.get("client_id"), params.get("client_secret")) != (MANAGEMENT_ID, MANAGEMENT_SECRET):
                return _json(401, {"error": "access_denied", "error_description": "Unauthorized"})
            return _json(200, {"access_token": MANAGEMENT_TOKEN, "token_type": "Bearer", "expires_in": 86400})
        if (params.get("client_id"), params.get("client_secret")) != (LOGIN_ID, LOGIN_SECRET):
            return _json(
                401, {"error": "invalid_client", "error_description": "Client authentication failed"}
            )
        if params.get("grant_type") not in self.client["grant_types"]:
            return _json(403, {"error": "unauthorized_client", "error_description": "Grant type not allowed"})
        honoured = (
            self.client["is_token_endpoint_ip_header_trusted"]
            and self.client["token_endpoint_auth_method"] != "none"
        )
        ip = forwarded if honoured and forwarded else peer
        self.logs.append(
            {
                "log_id": f"log{len(self.logs) + 1}",
                "date": "2026-12-01T00:00:00.000Z",
                "type": "fu",
                "ip": ip,
                "client_ip": peer,
                "client_id": LOGIN_ID,
                "user_name": params.get("username"),
                "description": "Wrong email or password.",
            }
        )
        return _json(403, {"error": "invalid_grant", "error_description": "Wrong email or password."})
