"""The tenant's state and the Authentication API's decisions, with no HTTP in sight.

``EmulatorState`` is what ``responses`` calls: one token request, one MFA challenge, one
revocation. MFA sessions live in ``mfa``, refresh-token families in ``refresh``, tenant log
events in ``tenant_logs``, reset and unblock tickets in ``password_reset``; this module decides,
in Auth0's order, which of them a request touches. A single re-entrant lock serialises every
read-modify-write of counters, records and tickets, so concurrent requests never lose a count;
only bcrypt runs outside it.
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from auth0_emulator import errors
from auth0_emulator.addresses import normalise_ip
from auth0_emulator.attribution import Attribution, attribute_ip
from auth0_emulator.client_credentials import client_credentials
from auth0_emulator.clock import Clock, SystemClock
from auth0_emulator.directory import Directory, User
from auth0_emulator.errors import OAuthError, missing
from auth0_emulator.faults import FaultPlan
from auth0_emulator.hashing import verify_password
from auth0_emulator.mfa import MfaStore, authenticators, mfa_error, mfa_requirements
from auth0_emulator.outbox import Email, EmailKind, Outbox
from auth0_emulator.password_reset import PasswordResets
from auth0_emulator.protection import (
    BruteForceTracker,
    RateLimitDecision,
    RateLimiter,
    SuspiciousIpThrottle,
)
from auth0_emulator.refresh import RefreshStore, ReuseDetectedError
from auth0_emulator.replies import Reply
from auth0_emulator.settings import (
    PER_IDENTIFIER_AND_IP,
    BreachedPasswordSettings,
    BruteForceSettings,
    SuspiciousIpSettings,
)
from auth0_emulator.tenant import (
    GRANT_CLIENT_CREDENTIALS,
    GRANT_MFA_OOB,
    GRANT_MFA_OTP,
    GRANT_MFA_RECOVERY_CODE,
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_REFRESH_TOKEN,
    MFA_GRANTS,
    SUPPORTED_GRANTS,
    ApiConfig,
    ClientConfig,
    ConnectionConfig,
    TenantConfig,
)
from auth0_emulator.tenant_logs import TenantLogs
from auth0_emulator.tokens import TokenSigner

log = logging.getLogger("ropguard.emulator")

OIDC_SCOPES = frozenset({"openid", "profile", "email", "address", "phone", "offline_access"})
BREACHED_TEST_PREFIX = "AUTH0-TEST-"
NOTICE_WINDOW_SECONDS = 3600  # "at most one per hour" for user notifications (and pwd_leak events)
USERINFO_PATH = "userinfo"
DEFAULT_ACCESS_TOKEN_SECONDS = 86_400
TOKEN_PATH = "/oauth/token"
CHALLENGE_PATH = "/mfa/challenge"
REVOKE_PATH = "/oauth/revoke"

# grant_type -> (success event, failure event) written for every answer of /oauth/token.
EXCHANGE_EVENTS = {
    GRANT_PASSWORD: ("sepft", "fepft"),
    GRANT_PASSWORD_REALM: ("sepft", "fepft"),
    GRANT_MFA_OTP: ("seotpft", "feotpft"),
    GRANT_MFA_OOB: ("seoobft", "feoobft"),
    GRANT_MFA_RECOVERY_CODE: ("sercft", "fercft"),
    GRANT_REFRESH_TOKEN: ("sertft", "fertft"),
    GRANT_CLIENT_CREDENTIALS: ("seccft", "feccft"),
}


@dataclass(frozen=True)
class TokenCall:
    """One request to ``/oauth/token``, ``/mfa/challenge`` or ``/oauth/revoke`` as the HTTP layer saw it."""

    peer_ip: str
    forwarded_for: str | None
    params: Mapping[str, str]
    basic_auth: tuple[str, str] | None = None


@dataclass
class TokenRequestRecord:
    peer_ip: str
    forwarded_for: str | None
    attributed_ip: str
    client_id: str | None
    grant_type: str | None
    username: str | None
    endpoint: str = TOKEN_PATH
    status: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "peer_ip": self.peer_ip,
            "forwarded_for": self.forwarded_for,
            "attributed_ip": self.attributed_ip,
            "client_id": self.client_id,
            "grant_type": self.grant_type,
            "username": self.username,
            "status": self.status,
            "error": self.error,
        }


@dataclass
class Outcome:
    """What one request found out, for its tenant-log events (filled in as the request goes)."""

    record: TokenRequestRecord
    client: ClientConfig | None = None
    user: User | None = None
    connection: str | None = None
    reason: str | None = None


class EmulatorState:
    """Everything a tenant remembers between requests; ``reset()`` returns to the tenant file."""

    def __init__(
        self,
        config: TenantConfig,
        clock: Clock | None = None,
        base_url: str = "http://localhost",
        signer: TokenSigner | None = None,
    ) -> None:
        self.config = config
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.base_url = base_url
        self.lock = threading.RLock()
        self.signer = signer if signer is not None else TokenSigner()
        self.faults = FaultPlan()
        self.reset()

    def reset(self) -> None:
        with self.lock:
            self.directory = Directory(self.config)
            # Tenant settings the Management API (flags) or a test hook may change until the next reset.
            self.mfa_error_format = self.config.mfa_error_format
            self.revoke_refresh_token_grant = self.config.revoke_refresh_token_grant
            self.brute_force_settings: BruteForceSettings = self.config.brute_force
            self.suspicious_ip_settings: SuspiciousIpSettings = self.config.suspicious_ip
            self.breached_password_settings: BreachedPasswordSettings = self.config.breached_password
            self.brute_force = BruteForceTracker()
            self.suspicious_ip = SuspiciousIpThrottle()
            limit = self.config.rate_limit
            self._tenant_limiter = RateLimiter(limit.limit, limit.period_seconds)
            self.outbox = Outbox()
            self.logs = TenantLogs()
            self.mfa = MfaStore()
            self.refresh = RefreshStore()
            self._records: list[TokenRequestRecord] = []
            self.passwords = PasswordResets(self)
            self._leak_events: dict[tuple[str, str], float] = {}
            self.faults.clear()
            reset_clock = getattr(self.clock, "reset", None)
            if callable(reset_clock):
                reset_clock()

    @property
    def issuer(self) -> str:
        return self.config.issuer or f"{self.base_url}/"

    # ---- test hooks -------------------------------------------------------------------------

    def token_requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return [record.to_json() for record in self._records]

    def emails(self) -> list[Email]:
        with self.lock:
            return self.outbox.emails()

    def decide_push(self, *, oob_code: str | None, email: str | None, approve: bool) -> str | None:
        """Approve or deny a pending push challenge (by code, or the user's latest); return the user id."""
        with self.lock:
            user_id = None
            if email is not None:
                user = self.directory.user_by_email(email)
                if user is None:
                    return None
                user_id = user.user_id
            decided = self.mfa.decide(oob_code=oob_code, user_id=user_id, approve=approve)
            log.info("push challenge %s: user=%s", "approved" if approve else "denied", decided)
            return decided

    # ---- /oauth/token, /mfa/challenge, /oauth/revoke ----------------------------------------

    def token(self, call: TokenCall) -> Reply:
        outcome = self._outcome(call, TOKEN_PATH)
        return self._serve(call, outcome, self._token)

    def mfa_challenge(self, call: TokenCall) -> Reply:
        outcome = self._outcome(call, CHALLENGE_PATH)
        outcome.record.grant_type = None
        return self._serve(call, outcome, self._challenge)

    def revoke(self, call: TokenCall) -> Reply:
        outcome = self._outcome(call, REVOKE_PATH)
        outcome.record.grant_type = None
        return self._serve(call, outcome, self._revoke)

    def mfa_authenticators(self, mfa_token: str | None) -> Reply:
        """``GET /mfa/authenticators`` with ``Authorization: Bearer <mfa_token>``."""
        now = self.clock.now()
        error_format = self.mfa_error_format
        try:
            if not mfa_token:
                raise mfa_error("malformed_token", error_format)
            with self.lock:
                session = self.mfa.session(mfa_token, None, now, error_format)
                user = self.directory.user_by_id(session.user_id)
                if user is None:
                    raise mfa_error("malformed_token", error_format)
                return Reply(200, [a.to_api() for a in authenticators(user)])
        except OAuthError as error:
            return Reply(error.status, error.body(), error.headers)

    def _outcome(self, call: TokenCall, endpoint: str) -> Outcome:
        peer = normalise_ip(call.peer_ip)
        record = TokenRequestRecord(
            peer_ip=peer,
            forwarded_for=call.forwarded_for,
            attributed_ip=peer,
            client_id=call.basic_auth[0] if call.basic_auth else call.params.get("client_id"),
            grant_type=call.params.get("grant_type"),
            username=call.params.get("username"),
            endpoint=endpoint,
        )
        return Outcome(record)

    def _serve(self, call: TokenCall, outcome: Outcome, serve: Any) -> Reply:
        now = self.clock.now()
        record = outcome.record
        with self.lock:
            limit = self.tenant_limit(now)
        try:
            if limit is not None and not limit.allowed:
                raise OAuthError(429, "too_many_requests", errors.RATE_LIMITED)
            reply: Reply = serve(call, now, outcome)
        except OAuthError as error:
            reply = Reply(error.status, error.body(), error.headers)
        if limit is not None:
            reply.headers.update(limit.headers())
        record.status = reply.status
        record.error = reply.body.get("error") if isinstance(reply.body, dict) else None
        with self.lock:
            self._records.append(record)
            self._exchange_event(outcome, reply, now)
        log.info(
            "%s grant=%s client=%s username=%s attributed_ip=%s status=%s error=%s",
            record.endpoint,
            record.grant_type,
            record.client_id,
            record.username,
            record.attributed_ip,
            record.status,
            record.error,
        )
        return reply

    def tenant_limit(self, now: float) -> RateLimitDecision | None:
        """Spend one request of the tenant-wide Authentication API budget (None: no limit)."""
        if not self.config.rate_limit.enabled:
            return None
        decision = self._tenant_limiter.take("tenant", now)
        if not decision.allowed:
            log.warning("tenant rate limit reached: limit=%s reset_at=%s", decision.limit, decision.reset_at)
        return decision

    def _attribute(self, call: TokenCall, outcome: Outcome) -> tuple[ClientConfig, bool, Attribution]:
        client, secret_verified = self._authenticate_client(call)
        with self.lock:
            client = self.directory.client(client.client_id) or client
        outcome.client = client
        attribution = attribute_ip(call.peer_ip, call.forwarded_for, client, secret_verified)
        outcome.record.attributed_ip = attribution.ip
        log.info(
            "attributed ip=%s source=%s client=%s: %s",
            attribution.ip,
            attribution.source,
            client.client_id,
            attribution.reason,
        )
        return client, secret_verified, attribution

    def _token(self, call: TokenCall, now: float, outcome: Outcome) -> Reply:
        grant = call.params.get("grant_type")
        if not grant:
            raise missing("grant_type")
        client, secret_verified, attribution = self._attribute(call, outcome)
        if grant not in client.grant_types:
            raise OAuthError(403, "unauthorized_client", f"Grant type '{grant}' not allowed for the client.")
        if grant not in SUPPORTED_GRANTS:
            raise OAuthError(400, "unsupported_grant_type", f"Grant type '{grant}' is not emulated.")
        params = call.params
        if grant == GRANT_REFRESH_TOKEN:
            return self._refresh_grant(params, client, now, outcome)
        if grant in MFA_GRANTS:
            return self._mfa_grant(params, grant, client, now, outcome)
        if grant == GRANT_CLIENT_CREDENTIALS:
            body = client_credentials(
                client=client,
                secret_verified=secret_verified,
                audience=params.get("audience") or self.config.default_audience,
                scope=params.get("scope"),
                issuer=self.issuer,
                grants=self.config.client_grants,
                apis=self.config.apis,
                signer=self.signer,
                now=now,
            )
            return Reply(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})
        return self._password_grant(
            params=params, grant=grant, client=client, attribution=attribution, now=now, outcome=outcome
        )

    def _authenticate_client(self, call: TokenCall) -> tuple[ClientConfig, bool]:
        params = call.params
        secret: str | None
        if "client_assertion" in params:
            raise OAuthError(401, "invalid_client", "private_key_jwt is not emulated")
        if call.basic_auth is not None:
            client_id, secret = call.basic_auth
            if params.get("client_id") not in (None, client_id):
                raise OAuthError(401, "invalid_client", errors.CLIENT_AUTH_FAILED)
        else:
            client_id, secret = params.get("client_id") or "", params.get("client_secret")
        if not client_id:
            raise OAuthError(401, "invalid_client", errors.CLIENT_AUTH_FAILED)
        with self.lock:
            client = self.directory.client(client_id)
        if client is None:
            log.info("client authentication failed: unknown client_id=%s", client_id)
            raise OAuthError(401, "invalid_client", errors.CLIENT_AUTH_FAILED)
        if not client.is_confidential:
            return client, False
        expected = (client.client_secret or "").encode()
        if secret is None or not hmac.compare_digest(secret.encode(), expected):
            log.info("client authentication failed: wrong or missing secret for client=%s", client_id)
            raise OAuthError(401, "invalid_client", errors.CLIENT_AUTH_FAILED)
        return client, True

    # ---- tenant log events ------------------------------------------------------------------

    def _event(self, event_type: str, outcome: Outcome, now: float, **overrides: Any) -> None:
        """Write one tenant-log event for this request (call with the lock held)."""
        record, client, user = outcome.record, outcome.client, outcome.user
        fields: dict[str, Any] = {
            "client_id": client.client_id if client else record.client_id,
            "client_name": client.name if client else None,
            "user_id": user.user_id if user else None,
            "user_name": user.email if user else record.username,
            "connection": outcome.connection or (user.connection if user else None),
        }
        fields.update(overrides)
        self.logs.write(event_type, now=now, ip=record.attributed_ip, client_ip=record.peer_ip, **fields)

    def _exchange_event(self, outcome: Outcome, reply: Reply, now: float) -> None:
        record = outcome.record
        if record.endpoint == REVOKE_PATH:
            return  # a revocation writes srrt itself, only when it revoked something
        if record.endpoint == CHALLENGE_PATH:
            return  # a challenge is no exchange; Auth0's gd_* events are not emulated
        events = EXCHANGE_EVENTS.get(record.grant_type or "")
        if events is None:
            return  # a missing or unknown grant_type writes nothing
        details: dict[str, Any] = {"grant_type": record.grant_type}
        if reply.status == 200:
            self._event(events[0], outcome, now, details=details)
            return
        details["error"] = record.error
        if outcome.reason:
            details["reason"] = outcome.reason
        description = reply.body.get("error_description") if isinstance(reply.body, dict) else None
        self._event(events[1], outcome, now, description=description, details=details)

    # ---- password grants --------------------------------------------------------------------

    def _password_grant(
        self,
        *,
        params: Mapping[str, str],
        grant: str,
        client: ClientConfig,
        attribution: Attribution,
        now: float,
        outcome: Outcome,
    ) -> Reply:
        username = params.get("username") or _raise(missing("username"))
        password = params.get("password") or _raise(missing("password"))
        connection = self._realm(params, grant)
        outcome.connection = connection.name
        api = self._api(params)
        scopes = _split_scope(params.get("scope"))
        ip = attribution.ip
        with self.lock:
            if self.suspicious_ip.is_blocked(ip, self.suspicious_ip_settings, now):
                log.warning("blocked by suspicious-ip throttling: ip=%s username=%s", ip, username)
                self._event("limit_mu", outcome, now, details={"reason": "suspicious IP throttled"})
                raise OAuthError(429, "too_many_attempts", errors.SUSPICIOUS_IP_BLOCKED)
            if self.brute_force.is_blocked(username, ip, self.brute_force_settings, now):
                log.warning("blocked by brute-force protection: username=%s ip=%s", username, ip)
                self._event("limit_wc", outcome, now, details={"reason": "identifier blocked from this IP"})
                raise OAuthError(429, "too_many_attempts", errors.BRUTE_FORCE_BLOCKED)
            user = self.directory.user(connection.name, username)
            password_hash = user.password_hash if user is not None else None
        verified = verify_password(password, password_hash)
        with self.lock:
            if not verified or user is None:
                self._event(
                    "fp" if user is not None else "fu", outcome, now, user_id=user.user_id if user else None
                )
                self._login_failed(
                    username=username, ip=ip, connection=connection, user=user, now=now, outcome=outcome
                )
                raise OAuthError(403, "invalid_grant", errors.WRONG_CREDENTIALS)
            outcome.user = user
            self.brute_force.clear(username, ip, self.brute_force_settings)
            if user.blocked:
                log.info("login refused: user %s is blocked by an administrator", user.user_id)
                self._event("f", outcome, now, description=errors.USER_BLOCKED)
                raise OAuthError(401, "unauthorized", errors.USER_BLOCKED)
            breached = password.startswith(BREACHED_TEST_PREFIX) and self.breached_password_settings.enabled
            if breached and self._breach_detected(user, ip, now, outcome):
                raise OAuthError(401, "password_leaked", errors.PASSWORD_LEAKED)
            if user.has_mfa:
                audience = api.identifier if api else None
                mfa_token = self.mfa.start(user, client.client_id, audience, scopes, now)
                log.info("mfa required for user %s", user.user_id)
                self._event("mfar", outcome, now)
                raise OAuthError(
                    403,
                    "mfa_required",
                    errors.MFA_REQUIRED,
                    extra={"mfa_token": mfa_token, "mfa_requirements": mfa_requirements(user)},
                )
            self._event("s", outcome, now)
            return self._issue(
                user, client=client, api=api, requested=scopes, now=now, grant="password", allow_refresh=True
            )

    def _realm(self, params: Mapping[str, str], grant: str) -> ConnectionConfig:
        if grant == GRANT_PASSWORD_REALM:
            realm = params.get("realm") or _raise(missing("realm"))
        else:
            realm = self.config.default_directory or _raise(
                OAuthError(
                    500, "server_error", "Authorization server not configured with default connection."
                )
            )
        with self.lock:
            connection = self.directory.connection(realm)
        if connection is None:
            raise OAuthError(400, "invalid_request", "Unknown realm.")
        return connection

    def _api(self, params: Mapping[str, str]) -> ApiConfig | None:
        audience = params.get("audience") or self.config.default_audience
        if audience is None:
            return None
        api = next((a for a in self.config.apis if a.identifier == audience), None)
        if api is None:
            raise OAuthError(403, "access_denied", f"Service not found: {audience}")
        return api

    def _login_failed(
        self,
        *,
        username: str,
        ip: str,
        connection: ConnectionConfig,
        user: User | None,
        now: float,
        outcome: Outcome,
    ) -> None:
        settings = self.brute_force_settings
        count = self.brute_force.record_failure(username, ip, connection.name, settings, now)
        left = self.suspicious_ip.record_failure(ip, self.suspicious_ip_settings, now)
        log.info("failed login: username=%s ip=%s brute_force_count=%s", username, ip, count)
        if count == settings.max_attempts:
            log.warning(
                "brute-force threshold reached: username=%s ip=%s count=%s mode=%s",
                username,
                ip,
                count,
                settings.mode,
            )
            self._event(
                "limit_wc",
                outcome,
                now,
                user_id=user.user_id if user else None,
                details={"reason": f"{count} consecutive failed logins", "mode": settings.mode},
            )
            notify_ip = ip if settings.mode == PER_IDENTIFIER_AND_IP else None
            if (
                user is not None
                and "user_notification" in settings.shields
                and self.outbox.may_notify(("unblock", user.user_id, ip), now, NOTICE_WINDOW_SECONDS)
            ):
                link = self._ticket_link(
                    kind="unblock", user=user, identifier=username, ip=notify_ip, now=now
                )
                self._send(user.email, "unblock", link, now)
        if 0 <= left < 1:
            log.warning("suspicious-ip throttling: ip=%s has no login attempts left", ip)
            self._event("limit_mu", outcome, now, details={"reason": "no login attempts left for this IP"})

    def _breach_detected(self, user: User, ip: str, now: float, outcome: Outcome) -> bool:
        """Notify and log as configured; return whether the ``block`` shield stops this login."""
        settings = self.breached_password_settings
        blocks = "block" in settings.shields
        log.warning("breached password detected: user=%s ip=%s block=%s", user.user_id, ip, blocks)
        last = self._leak_events.get((user.user_id, ip))
        if last is None or now - last >= NOTICE_WINDOW_SECONDS:
            self._leak_events[(user.user_id, ip)] = now
            self._event("pwd_leak", outcome, now, details={"blocked": blocks})
        if "user_notification" in settings.shields and self.outbox.may_notify(
            ("breach", user.user_id), now, NOTICE_WINDOW_SECONDS
        ):
            link = self._ticket_link(
                kind="reset_password", user=user, identifier=user.email, ip=None, now=now
            )
            self._send(user.email, "breach_alert", link, now)
        return blocks

    # ---- refresh tokens ---------------------------------------------------------------------

    def _refresh_grant(
        self, params: Mapping[str, str], client: ClientConfig, now: float, outcome: Outcome
    ) -> Reply:
        token = params.get("refresh_token") or _raise(missing("refresh_token"))
        with self.lock:
            family = self.refresh.family_of(token)
            user = self.directory.user_by_id(family.user_id) if family is not None else None
            outcome.user = user
            if user is not None:
                outcome.record.username = user.email
            live = family is not None and family.client_id == client.client_id and not family.revoked
            if live and family is not None and user is not None:
                # Checked before the exchange, so a refused request does not use up the token.
                if user.blocked:
                    raise OAuthError(403, "invalid_grant", errors.USER_BLOCKED)
                if params.get("scope") and not set(_split_scope(params["scope"])) <= set(family.scopes):
                    raise OAuthError(403, "invalid_scope", "Scope must be a subset of the original grant.")
            try:
                exchange = self.refresh.exchange(token, client.client_id, client.refresh_token, now)
            except ReuseDetectedError:
                outcome.reason = "reused rotating refresh token: the whole family is revoked"
                log.warning(
                    "refresh token reuse detected: family revoked for user %s", outcome.record.username
                )
                raise
            if user is None:
                raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
            scopes = _split_scope(params["scope"]) if params.get("scope") else exchange.family.scopes
            api = next((a for a in self.config.apis if a.identifier == exchange.family.audience), None)
            reply = self._issue(
                user,
                client=client,
                api=api,
                requested=scopes,
                now=now,
                grant="refresh_token",
                allow_refresh=False,
            )
            if exchange.new_token is not None and isinstance(reply.body, dict):
                reply.body["refresh_token"] = exchange.new_token
            return reply

    def _revoke(self, call: TokenCall, now: float, outcome: Outcome) -> Reply:
        self._attribute(call, outcome)
        client = outcome.client
        token = call.params.get("token") or _raise(missing("token"))
        with self.lock:
            family = self.refresh.family_of(token)
            revoked = 0
            if client is not None:
                revoked = self.refresh.revoke(
                    token, client.client_id, whole_grant=self.revoke_refresh_token_grant
                )
            if revoked and family is not None:
                outcome.user = self.directory.user_by_id(family.user_id)
                self._event("srrt", outcome, now, details={"families_revoked": revoked})
            log.info("revoke: client=%s families_revoked=%s", outcome.record.client_id, revoked)
        return Reply(200, "")

    # ---- MFA --------------------------------------------------------------------------------

    def _challenge(self, call: TokenCall, now: float, outcome: Outcome) -> Reply:
        params = call.params
        mfa_token = params.get("mfa_token") or _raise(missing("mfa_token"))
        client, _, _ = self._attribute(call, outcome)
        challenge_types = tuple((params.get("challenge_type") or "otp oob").split())
        error_format = self.mfa_error_format
        with self.lock:
            session = self.mfa.session(mfa_token, client.client_id, now, error_format)
            user = self.directory.user_by_id(session.user_id)
            if user is None:
                raise mfa_error("malformed_token", error_format)
            outcome.user = user
            outcome.record.username = user.email
            answer = self.mfa.challenge(mfa_token, user, challenge_types, params.get("authenticator_id"), now)
            if answer.sms_code is not None:
                email = Email(
                    to=user.email,
                    kind="mfa_code",
                    link=None,
                    sent_at=now,
                    code=answer.sms_code,
                    phone_number=user.sms_phone_number,
                )
                self.outbox.send(email)
                log.info("mfa code queued: to=%s", user.email)
        return Reply(200, answer.body, {"Cache-Control": "no-store"})

    def _mfa_grant(
        self, params: Mapping[str, str], grant: str, client: ClientConfig, now: float, outcome: Outcome
    ) -> Reply:
        mfa_token = params.get("mfa_token") or _raise(missing("mfa_token"))
        factor = {GRANT_MFA_OTP: "otp", GRANT_MFA_OOB: "oob_code", GRANT_MFA_RECOVERY_CODE: "recovery_code"}
        code = params.get(factor[grant]) or _raise(missing(factor[grant]))
        error_format = self.mfa_error_format
        with self.lock:
            session = self.mfa.session(mfa_token, client.client_id, now, error_format)
            user = self.directory.user_by_id(session.user_id)
            if user is None:
                raise mfa_error("malformed_token", error_format)
            outcome.user = user
            outcome.connection = session.connection
            outcome.record.username = user.email
            new_recovery_code = None
            if grant == GRANT_MFA_OTP:
                self.mfa.verify_otp(user, code, now, error_format)
            elif grant == GRANT_MFA_OOB:
                self.mfa.verify_oob(
                    mfa_token=mfa_token,
                    user=user,
                    oob_code=code,
                    binding_code=params.get("binding_code"),
                    now=now,
                    error_format=error_format,
                )
            else:
                new_recovery_code = self.mfa.use_recovery_code(user, code, now, error_format)
            self.mfa.finish(mfa_token)
            api = next((a for a in self.config.apis if a.identifier == session.audience), None)
            reply = self._issue(
                user,
                client=client,
                api=api,
                requested=session.scopes,
                now=now,
                grant="mfa",
                allow_refresh=True,
            )
            if new_recovery_code is not None and isinstance(reply.body, dict):
                reply.body["recovery_code"] = new_recovery_code
            return reply

    # ---- tokens -----------------------------------------------------------------------------

    def _issue(
        self,
        user: User,
        *,
        client: ClientConfig,
        api: ApiConfig | None,
        requested: tuple[str, ...],
        now: float,
        grant: str,
        allow_refresh: bool,
    ) -> Reply:
        granted = [s for s in requested if s in OIDC_SCOPES or (api is not None and s in api.scopes)]
        offline_allowed = GRANT_REFRESH_TOKEN in client.grant_types and (
            api is None or api.allow_offline_access
        )
        if "offline_access" in granted and not offline_allowed:
            granted.remove("offline_access")
        issued_at = int(now)
        lifetime = api.token_lifetime if api is not None else DEFAULT_ACCESS_TOKEN_SECONDS
        userinfo = f"{self.issuer}{USERINFO_PATH}"
        audience: str | list[str] = userinfo
        if api is not None:
            audience = [api.identifier, userinfo] if "openid" in granted else api.identifier
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": user.user_id,
            "aud": audience,
            "iat": issued_at,
            "exp": issued_at + lifetime,
            "azp": client.client_id,
            "scope": " ".join(granted),
            "gty": "password",
        }
        body: dict[str, Any] = {
            "access_token": self.signer.sign(claims),
            "token_type": "Bearer",
            "expires_in": lifetime,
        }
        if "openid" in granted:
            id_claims: dict[str, Any] = {
                "iss": self.issuer,
                "sub": user.user_id,
                "aud": client.client_id,
                "iat": issued_at,
                "exp": issued_at + self.config.id_token_lifetime,
                "email": user.email,
                "email_verified": user.email_verified,
                "name": user.email,
            }
            if grant == "mfa":
                id_claims["amr"] = ["mfa"]
            body["id_token"] = self.signer.sign(id_claims)
        if allow_refresh and "offline_access" in granted:
            body["refresh_token"] = self.refresh.issue(
                user_id=user.user_id,
                client_id=client.client_id,
                audience=api.identifier if api else None,
                scopes=tuple(granted),
                now=now,
            )
        if tuple(granted) != requested:
            body["scope"] = " ".join(granted)
        log.info("tokens issued: user=%s client=%s grant=%s", user.user_id, client.client_id, grant)
        return Reply(200, body, {"Cache-Control": "no-store", "Pragma": "no-cache"})

    def _ticket_link(
        self,
        *,
        kind: Literal["reset_password", "unblock"],
        user: User,
        identifier: str,
        ip: str | None,
        now: float,
    ) -> str:
        return self.passwords.ticket_link(kind=kind, user=user, identifier=identifier, ip=ip, now=now)

    def _send(self, to: str, kind: EmailKind, link: str | None, now: float) -> None:
        self.outbox.send(Email(to=to, kind=kind, link=link, sent_at=now))
        log.info("email queued: kind=%s to=%s", kind, to)


def _split_scope(scope: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys((scope or "").split()))


def _raise(error: OAuthError) -> str:
    raise error
