"""The tenant: every concern's state wired together, and the Authentication API's front door.

``EmulatorState`` is what ``responses`` calls: one token request, one MFA challenge, one
revocation. It spends the tenant rate limit, authenticates the client, hands the request to the
concern that owns it and writes down the answer. The concerns get only what they use:

- ``password_grant`` with ``shields`` (attack protection): the password grants;
- ``mfa_grants`` (over ``mfa``'s store): MFA challenges, authenticators and grants;
- ``refresh_grants`` (over ``refresh``'s store): the refresh grant and revocation;
- ``client_credentials``: machine-to-machine tokens;
- ``journal`` (over ``tenant_logs``): tenant-log events and request records;
- ``password_reset``: change_password, reset and unblock tickets;
- ``admin`` (the Management API) works on this object from the outside.

A single re-entrant lock serialises every read-modify-write of counters, records and tickets, so
concurrent requests never lose a count; only bcrypt runs outside it.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from auth0_emulator.addresses import normalise_ip
from auth0_emulator.calls import (
    CHALLENGE_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    Outcome,
    TokenCall,
    TokenRequestRecord,
)
from auth0_emulator.client_auth import ClientAuthentication
from auth0_emulator.client_credentials import client_credentials
from auth0_emulator.clients import GRANT_CLIENT_CREDENTIALS, GRANT_REFRESH_TOKEN, MFA_GRANTS, SUPPORTED_GRANTS
from auth0_emulator.clock import Clock, SystemClock
from auth0_emulator.directory import Directory
from auth0_emulator.errors import OAuthError, missing
from auth0_emulator.faults import FaultPlan
from auth0_emulator.issuance import NO_STORE, TokenIssuer
from auth0_emulator.journal import Journal
from auth0_emulator.mfa_grants import MfaGrants
from auth0_emulator.outbox import Email, Outbox
from auth0_emulator.password_grant import PasswordGrant
from auth0_emulator.password_reset import PasswordResets, Tickets
from auth0_emulator.protection import TenantRateLimit
from auth0_emulator.refresh import RefreshStore
from auth0_emulator.refresh_grants import RefreshGrants
from auth0_emulator.replies import Reply
from auth0_emulator.settings import BruteForceSettings, SuspiciousIpSettings
from auth0_emulator.shields import Shields
from auth0_emulator.tenant import TenantConfig
from auth0_emulator.tenant_settings import TenantSettings
from auth0_emulator.tokens import TokenSigner

log = logging.getLogger("ropguard.emulator")

Serve = Callable[[TokenCall, float, Outcome], Reply]


class EmulatorState:
    """Everything a tenant remembers between requests; ``reset()`` returns to the tenant file."""

    def __init__(
        self,
        config: TenantConfig,
        clock: Clock | None = None,
        base_url: str = "http://localhost",
        signer: TokenSigner | None = None,
    ) -> None:
        self.clock: Clock = clock if clock is not None else SystemClock()
        self.lock = threading.RLock()
        self.signer = signer if signer is not None else TokenSigner()
        self.faults = FaultPlan()
        self.settings = TenantSettings.from_config(config, base_url)
        self.reset()

    def reset(self) -> None:
        with self.lock:
            # Settings the Management API or a test hook may change go back to the tenant file.
            settings = self.settings = TenantSettings.from_config(self.config, self.base_url)
            self.directory = directory = Directory(self.config)
            limit = self.config.rate_limit
            self.tenant_limit = TenantRateLimit(limit.enabled, limit.limit, limit.period_seconds)
            self.outbox = outbox = Outbox()
            self.journal = journal = Journal()
            self.refresh = RefreshStore()
            tickets = Tickets(settings)
            self.clients = ClientAuthentication(directory, self.lock)
            issuer = TokenIssuer(settings, self.signer, self.refresh)
            self.shields = Shields(settings=settings, journal=journal, outbox=outbox, tickets=tickets)
            self.brute_force = self.shields.brute_force
            self.suspicious_ip = self.shields.suspicious_ip
            self.mfa = MfaGrants(
                settings=settings, lock=self.lock, directory=directory, outbox=outbox, issuer=issuer
            )
            self.passwords = PasswordResets(
                settings=settings,
                lock=self.lock,
                clock=self.clock,
                directory=directory,
                outbox=outbox,
                brute_force=self.shields.brute_force,
                tickets=tickets,
                tenant_limit=self.tenant_limit,
            )
            self._password_grant = PasswordGrant(
                settings=settings,
                lock=self.lock,
                directory=directory,
                shields=self.shields,
                mfa=self.mfa.store,
                journal=journal,
                issuer=issuer,
            )
            self._refresh_grants = RefreshGrants(
                settings=settings,
                lock=self.lock,
                directory=directory,
                store=self.refresh,
                journal=journal,
                issuer=issuer,
            )
            self.faults.clear()
            reset_clock = getattr(self.clock, "reset", None)
            if callable(reset_clock):
                reset_clock()

    # ---- settings, as tests and the Management API read and change them ------------------------

    @property
    def config(self) -> TenantConfig:
        return self.settings.config

    @config.setter
    def config(self, value: TenantConfig) -> None:
        self.settings.config = value

    @property
    def base_url(self) -> str:
        return self.settings.base_url

    @base_url.setter
    def base_url(self, value: str) -> None:
        self.settings.base_url = value

    @property
    def issuer(self) -> str:
        return self.settings.issuer

    @property
    def mfa_error_format(self) -> str:
        return self.settings.mfa_error_format

    @mfa_error_format.setter
    def mfa_error_format(self, value: str) -> None:
        self.settings.mfa_error_format = value

    @property
    def revoke_refresh_token_grant(self) -> bool:
        return self.settings.revoke_refresh_token_grant

    @revoke_refresh_token_grant.setter
    def revoke_refresh_token_grant(self, value: bool) -> None:
        self.settings.revoke_refresh_token_grant = value

    @property
    def brute_force_settings(self) -> BruteForceSettings:
        return self.settings.brute_force

    @brute_force_settings.setter
    def brute_force_settings(self, value: BruteForceSettings) -> None:
        self.settings.brute_force = value

    @property
    def suspicious_ip_settings(self) -> SuspiciousIpSettings:
        return self.settings.suspicious_ip

    @suspicious_ip_settings.setter
    def suspicious_ip_settings(self, value: SuspiciousIpSettings) -> None:
        self.settings.suspicious_ip = value

    # ---- test hooks -------------------------------------------------------------------------

    def token_requests(self) -> list[dict[str, Any]]:
        with self.lock:
            return self.journal.token_requests()

    def emails(self) -> list[Email]:
        with self.lock:
            return self.outbox.emails()

    def decide_push(self, *, oob_code: str | None, email: str | None, approve: bool) -> str | None:
        return self.mfa.decide_push(oob_code=oob_code, email=email, approve=approve)

    # ---- /oauth/token, /mfa/challenge, /oauth/revoke, /mfa/authenticators ---------------------

    def token(self, call: TokenCall) -> Reply:
        return self._serve(call, TOKEN_PATH, self._token)

    def mfa_challenge(self, call: TokenCall) -> Reply:
        return self._serve(call, CHALLENGE_PATH, self._challenge)

    def revoke(self, call: TokenCall) -> Reply:
        return self._serve(call, REVOKE_PATH, self._revoke)

    def mfa_authenticators(self, mfa_token: str | None) -> Reply:
        """``GET /mfa/authenticators`` with ``Authorization: Bearer <mfa_token>``."""
        try:
            return self.mfa.authenticators(mfa_token, self.clock.now())
        except OAuthError as error:
            return Reply(error.status, error.body(), error.headers)

    def _serve(self, call: TokenCall, endpoint: str, serve: Serve) -> Reply:
        now = self.clock.now()
        peer = normalise_ip(call.peer_ip)
        record = TokenRequestRecord(
            peer_ip=peer,
            forwarded_for=call.forwarded_for,
            attributed_ip=peer,
            client_id=call.basic_auth[0] if call.basic_auth else call.params.get("client_id"),
            grant_type=call.params.get("grant_type") if endpoint == TOKEN_PATH else None,
            username=call.params.get("username"),
            endpoint=endpoint,
        )
        outcome = Outcome(record)
        with self.lock:
            limit = self.tenant_limit.take(now)
        try:
            TenantRateLimit.refuse(limit)
            reply = serve(call, now, outcome)
        except OAuthError as error:
            reply = Reply(error.status, error.body(), error.headers)
        if limit is not None:
            reply.headers.update(limit.headers())
        with self.lock:
            self.journal.answered(outcome, reply, now)
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

    def _token(self, call: TokenCall, now: float, outcome: Outcome) -> Reply:
        params = call.params
        grant = params.get("grant_type")
        if not grant:
            raise missing("grant_type")
        client, secret_verified, attribution = self.clients.attribute(call, outcome)
        if grant not in client.grant_types:
            raise OAuthError(403, "unauthorized_client", f"Grant type '{grant}' not allowed for the client.")
        if grant not in SUPPORTED_GRANTS:
            raise OAuthError(400, "unsupported_grant_type", f"Grant type '{grant}' is not emulated.")
        if grant == GRANT_REFRESH_TOKEN:
            return self._refresh_grants.grant(params, client, now, outcome)
        if grant in MFA_GRANTS:
            return self.mfa.grant(params, grant, client, now, outcome)
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
            return Reply(200, body, dict(NO_STORE))
        return self._password_grant.grant(
            params=params, grant=grant, client=client, attribution=attribution, now=now, outcome=outcome
        )

    def _challenge(self, call: TokenCall, now: float, outcome: Outcome) -> Reply:
        if not call.params.get("mfa_token"):
            raise missing("mfa_token")
        client, _, _ = self.clients.attribute(call, outcome)
        return self.mfa.challenge(call.params, client, now, outcome)

    def _revoke(self, call: TokenCall, now: float, outcome: Outcome) -> Reply:
        client, _, _ = self.clients.attribute(call, outcome)
        return self._refresh_grants.revoke(call.params, client, now, outcome)
