"""The ``refresh_token`` grant and ``/oauth/revoke``. Families, rotation and reuse detection are
``refresh``'s store; this module decides who may use a token and answers.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from auth0_emulator import errors
from auth0_emulator.calls import Outcome, required, split_scope
from auth0_emulator.clients import ClientConfig
from auth0_emulator.directory import Directory
from auth0_emulator.errors import OAuthError, missing
from auth0_emulator.issuance import TokenIssuer
from auth0_emulator.journal import Journal
from auth0_emulator.refresh import RefreshStore, ReuseDetectedError
from auth0_emulator.replies import Reply
from auth0_emulator.tenant_settings import TenantSettings

log = logging.getLogger("ropguard.emulator")


class RefreshGrants:
    def __init__(
        self,
        *,
        settings: TenantSettings,
        lock: threading.RLock,
        directory: Directory,
        store: RefreshStore,
        journal: Journal,
        issuer: TokenIssuer,
    ) -> None:
        self._settings = settings
        self._lock = lock
        self._directory = directory
        self._store = store
        self._journal = journal
        self._issuer = issuer

    def grant(self, params: Mapping[str, str], client: ClientConfig, now: float, outcome: Outcome) -> Reply:
        token = params.get("refresh_token") or required(missing("refresh_token"))
        with self._lock:
            family = self._store.family_of(token)
            user = self._directory.user_by_id(family.user_id) if family is not None else None
            outcome.user = user
            if user is not None:
                outcome.record.username = user.email
            live = family is not None and family.client_id == client.client_id and not family.revoked
            if live and family is not None and user is not None:
                # Checked before the exchange, so a refused request does not use up the token.
                if user.blocked:
                    raise OAuthError(403, "invalid_grant", errors.USER_BLOCKED)
                if params.get("scope") and not set(split_scope(params["scope"])) <= set(family.scopes):
                    raise OAuthError(403, "invalid_scope", "Scope must be a subset of the original grant.")
            try:
                exchange = self._store.exchange(token, client.client_id, client.refresh_token, now)
            except ReuseDetectedError:
                outcome.reason = "reused rotating refresh token: the whole family is revoked"
                log.warning(
                    "refresh token reuse detected: family revoked for user %s", outcome.record.username
                )
                raise
            if user is None:
                raise OAuthError(403, "invalid_grant", "Unknown or invalid refresh token.")
            scopes = split_scope(params["scope"]) if params.get("scope") else exchange.family.scopes
            reply = self._issuer.issue(
                user,
                client=client,
                api=self._issuer.api(exchange.family.audience),
                requested=scopes,
                now=now,
                grant="refresh_token",
                allow_refresh=False,
            )
            if exchange.new_token is not None and isinstance(reply.body, dict):
                reply.body["refresh_token"] = exchange.new_token
            return reply

    def revoke(self, params: Mapping[str, str], client: ClientConfig, now: float, outcome: Outcome) -> Reply:
        token = params.get("token") or required(missing("token"))
        with self._lock:
            family = self._store.family_of(token)
            whole_grant = self._settings.revoke_refresh_token_grant
            revoked = self._store.revoke(token, client.client_id, whole_grant=whole_grant)
            if revoked and family is not None:
                outcome.user = self._directory.user_by_id(family.user_id)
                self._journal.event("srrt", outcome, now, details={"families_revoked": revoked})
            log.info("revoke: client=%s families_revoked=%s", outcome.record.client_id, revoked)
        return Reply(200, "")
