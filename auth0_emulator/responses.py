"""HTTP in, model call, HTTP out: the Authentication API, the links in emails and the test hooks."""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable
from typing import Any

from auth0_emulator.calls import TokenCall
from auth0_emulator.clients import SUPPORTED_GRANTS
from auth0_emulator.errors import OAuthError
from auth0_emulator.faults import Fault
from auth0_emulator.http_types import HttpRequest, HttpResponse
from auth0_emulator.management_responses import ManagementResponses
from auth0_emulator.models import EmulatorState
from auth0_emulator.params import basic_credentials, decode_params
from auth0_emulator.replies import Reply
from auth0_emulator.tenant import MFA_ERROR_FORMATS, MFA_ERROR_STATUSES, UNKNOWN_USER_ANSWERS
from auth0_emulator.validation import (
    ValidationError,
    as_mapping,
    read_choice,
    read_int,
    read_optional_str,
    reject_unknown,
)

log = logging.getLogger("ropguard.emulator")

Handler = Callable[[HttpRequest], HttpResponse]

# The switches ``POST /__emulator/tenant`` may change: where Auth0 documents more than one answer.
TENANT_SWITCHES = {
    "mfa_error_format": MFA_ERROR_FORMATS,
    "mfa_error_status": MFA_ERROR_STATUSES,
    "change_password_unknown_user": UNKNOWN_USER_ANSWERS,
}

RESET_FORM = """<!doctype html><title>Reset your password</title>
<form method="post" action="/lo/reset"><input type="hidden" name="ticket" value="{ticket}">
<label>New password <input type="password" name="password" autocomplete="new-password"></label>
<button>Reset password</button></form>"""


def reply_to_http(reply: Reply) -> HttpResponse:
    if isinstance(reply.body, str):
        if not reply.body:
            return HttpResponse(reply.status, b"", None, dict(reply.headers))
        return HttpResponse.text(reply.status, reply.body, reply.headers)
    return HttpResponse.json(reply.status, reply.body, reply.headers)


def oauth_error(error: OAuthError) -> HttpResponse:
    return HttpResponse.json(error.status, error.body(), error.headers)


class EmulatorResponses:
    """Routes one request to the model; the server owns sockets, this owns meaning."""

    def __init__(self, state: EmulatorState) -> None:
        self.state = state
        self._management = ManagementResponses(state)
        self._routes: dict[tuple[str, str], Handler] = {
            ("POST", "/oauth/token"): self.token,
            ("POST", "/oauth/revoke"): self.revoke,
            ("POST", "/mfa/challenge"): self.mfa_challenge,
            ("GET", "/mfa/authenticators"): self.mfa_authenticators,
            ("POST", "/dbconnections/change_password"): self.change_password,
            ("GET", "/.well-known/openid-configuration"): self.openid_configuration,
            ("GET", "/.well-known/jwks.json"): self.jwks,
            ("GET", "/lo/reset"): self.reset_form,
            ("POST", "/lo/reset"): self.reset_password,
            ("GET", "/lo/unblock"): self.unblock,
            ("POST", "/lo/unblock"): self.unblock,
            ("GET", "/__emulator/token-requests"): self.hook_token_requests,
            ("GET", "/__emulator/outbox"): self.hook_outbox,
            ("POST", "/__emulator/reset"): self.hook_reset,
            ("GET", "/__emulator/faults"): self.hook_list_faults,
            ("POST", "/__emulator/faults"): self.hook_add_fault,
            ("DELETE", "/__emulator/faults"): self.hook_clear_faults,
            ("POST", "/__emulator/clock"): self.hook_advance_clock,
            ("POST", "/__emulator/mfa/approve"): self.hook_approve_push,
            ("POST", "/__emulator/mfa/deny"): self.hook_deny_push,
            ("POST", "/__emulator/tenant"): self.hook_tenant,
        }

    def handle(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/v2/"):
            return self._management.handle(request)
        handler = self._routes.get((request.method, request.path))
        if handler is not None:
            return handler(request)
        if any(path == request.path for _, path in self._routes):
            return HttpResponse.json(
                405, {"error": "method_not_allowed", "error_description": "Method not allowed"}
            )
        return HttpResponse.json(404, {"error": "not_found", "error_description": "Not found"})

    # ---- Authentication API --------------------------------------------------------------------

    def token(self, request: HttpRequest) -> HttpResponse:
        return self._client_call(request, self.state.token)

    def revoke(self, request: HttpRequest) -> HttpResponse:
        return self._client_call(request, self.state.revoke)

    def mfa_challenge(self, request: HttpRequest) -> HttpResponse:
        return self._client_call(request, self.state.mfa_challenge)

    def mfa_authenticators(self, request: HttpRequest) -> HttpResponse:
        scheme, _, token = (request.header("authorization") or "").partition(" ")
        bearer = token.strip() if scheme.lower() == "bearer" else None
        return reply_to_http(self.state.mfa_authenticators(bearer))

    def _client_call(self, request: HttpRequest, serve: Callable[[TokenCall], Reply]) -> HttpResponse:
        """A client-authenticated Authentication API call: parameters, Basic credentials, the header."""
        try:
            params = decode_params(request)
            basic = basic_credentials(request)
        except OAuthError as error:
            return oauth_error(error)
        call = TokenCall(
            peer_ip=request.peer_ip,
            forwarded_for=request.header("auth0-forwarded-for"),
            params=params,
            basic_auth=basic,
        )
        return reply_to_http(serve(call))

    def change_password(self, request: HttpRequest) -> HttpResponse:
        try:
            params = decode_params(request)
        except OAuthError as error:
            return oauth_error(error)
        return reply_to_http(self.state.passwords.change_password(request.peer_ip, params))

    def openid_configuration(self, request: HttpRequest) -> HttpResponse:
        issuer = self.state.issuer
        base = issuer.rstrip("/")
        return HttpResponse.json(
            200,
            {
                "issuer": issuer,
                "token_endpoint": f"{base}/oauth/token",
                "revocation_endpoint": f"{base}/oauth/revoke",
                "mfa_challenge_endpoint": f"{base}/mfa/challenge",
                "jwks_uri": f"{base}/.well-known/jwks.json",
                "grant_types_supported": sorted(SUPPORTED_GRANTS),
                "response_types_supported": ["token", "id_token"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "token_endpoint_auth_methods_supported": [
                    "client_secret_basic",
                    "client_secret_post",
                    "none",
                ],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
            },
        )

    def jwks(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(200, self.state.signer.jwks())

    # ---- links in emails ------------------------------------------------------------------------

    def reset_form(self, request: HttpRequest) -> HttpResponse:
        ticket = request.query_value("ticket") or ""
        if self.state.passwords.ticket_kind(ticket) != "reset_password":
            return HttpResponse.text(400, "Invalid or expired ticket.")
        return HttpResponse.html(200, RESET_FORM.format(ticket=html.escape(ticket, quote=True)))

    def reset_password(self, request: HttpRequest) -> HttpResponse:
        try:
            params = decode_params(request)
        except OAuthError as error:
            return oauth_error(error)
        ticket = params.get("ticket") or request.query_value("ticket") or ""
        return reply_to_http(self.state.passwords.complete_password_reset(ticket, params.get("password", "")))

    def unblock(self, request: HttpRequest) -> HttpResponse:
        return reply_to_http(self.state.passwords.follow_unblock_link(request.query_value("ticket") or ""))

    # ---- test hooks ---------------------------------------------------------------------------

    def hook_token_requests(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(200, self.state.token_requests())

    def hook_outbox(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(200, [email.to_json() for email in self.state.emails()])

    def hook_reset(self, request: HttpRequest) -> HttpResponse:
        self.state.reset()
        log.info("state reset to the tenant file")
        return HttpResponse.json(200, {"reset": True})

    def hook_list_faults(self, request: HttpRequest) -> HttpResponse:
        return HttpResponse.json(200, self.state.faults.pending())

    def hook_add_fault(self, request: HttpRequest) -> HttpResponse:
        try:
            fault, count = Fault.parse(_json_body(request))
        except ValidationError as error:
            return HttpResponse.json(400, {"error": "invalid_request", "error_description": str(error)})
        self.state.faults.add(fault, count)
        log.info("fault queued: route=%s count=%s %s", fault.route, count, fault.to_json())
        return HttpResponse.json(201, {**fault.to_json(), "count": count})

    def hook_clear_faults(self, request: HttpRequest) -> HttpResponse:
        self.state.faults.clear()
        return HttpResponse.empty(204)

    def hook_advance_clock(self, request: HttpRequest) -> HttpResponse:
        try:
            data = as_mapping(_json_body(request), "clock")
            reject_unknown(data, {"advance_seconds"}, "clock")
            seconds = read_int(data, "advance_seconds", "clock", 0, (0, None))
        except ValidationError as error:
            return HttpResponse.json(400, {"error": "invalid_request", "error_description": str(error)})
        advance = getattr(self.state.clock, "advance", None)
        if not callable(advance):
            return HttpResponse.json(409, {"error": "invalid_request", "error_description": "clock is fixed"})
        advance(seconds)
        return HttpResponse.json(200, {"now": self.state.clock.now()})

    def hook_tenant(self, request: HttpRequest) -> HttpResponse:
        """Change the answer-form switches until the next reset (the tenant file sets the defaults).

        Answers the switches the body named, with their new values."""
        try:
            data = as_mapping(_json_body(request), "tenant")
            reject_unknown(data, set(TENANT_SWITCHES), "tenant")
            settings = self.state.settings
            chosen = {
                name: read_choice(data, name, "tenant", getattr(settings, name), choices)
                for name, choices in TENANT_SWITCHES.items()
                if name in data
            }
        except ValidationError as error:
            return HttpResponse.json(400, {"error": "invalid_request", "error_description": str(error)})
        with self.state.lock:
            for name, value in chosen.items():
                setattr(settings, name, value)
        log.info("tenant switches set: %s", chosen)
        return HttpResponse.json(200, chosen)

    def hook_approve_push(self, request: HttpRequest) -> HttpResponse:
        return self._decide_push(request, approve=True)

    def hook_deny_push(self, request: HttpRequest) -> HttpResponse:
        return self._decide_push(request, approve=False)

    def _decide_push(self, request: HttpRequest, *, approve: bool) -> HttpResponse:
        try:
            oob_code, user = _push_target(request)
        except ValidationError as error:
            return HttpResponse.json(400, {"error": "invalid_request", "error_description": str(error)})
        decided = self.state.decide_push(oob_code=oob_code, email=user, approve=approve)
        if decided is None:
            return HttpResponse.json(
                404, {"error": "not_found", "error_description": "No pending push challenge matches."}
            )
        return HttpResponse.json(200, {"user_id": decided, "decision": "approved" if approve else "denied"})


def _push_target(request: HttpRequest) -> tuple[str | None, str | None]:
    data = as_mapping(_json_body(request), "mfa decision")
    reject_unknown(data, {"oob_code", "user"}, "mfa decision")
    oob_code = read_optional_str(data, "oob_code", "mfa decision")
    user = read_optional_str(data, "user", "mfa decision")
    if (oob_code is None) == (user is None):
        raise ValidationError("mfa decision: give exactly one of oob_code or user")
    return oob_code, user


def _json_body(request: HttpRequest) -> Any:
    try:
        return json.loads(request.body or b"{}")
    except ValueError as exc:
        raise ValidationError("body: not valid JSON") from exc
