"""The password grants (``password`` and ``password-realm``), in Auth0's order of checks.

Attack protection (``shields``) may refuse the login before or after the password check; a user
with MFA gets ``mfa_required`` and an ``mfa_token`` from the MFA store instead of tokens.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from auth0_emulator import errors
from auth0_emulator.attribution import Attribution
from auth0_emulator.calls import Outcome, required, split_scope
from auth0_emulator.clients import GRANT_PASSWORD_REALM, ClientConfig
from auth0_emulator.directory import Directory
from auth0_emulator.errors import OAuthError, missing
from auth0_emulator.hashing import verify_password
from auth0_emulator.issuance import TokenIssuer
from auth0_emulator.journal import Journal
from auth0_emulator.mfa import MfaStore, mfa_requirements
from auth0_emulator.replies import Reply
from auth0_emulator.shields import Shields
from auth0_emulator.tenant import ConnectionConfig
from auth0_emulator.tenant_settings import TenantSettings

log = logging.getLogger("ropguard.emulator")

NO_DEFAULT_CONNECTION = "Authorization server not configured with default connection."


class PasswordGrant:
    def __init__(
        self,
        *,
        settings: TenantSettings,
        lock: threading.RLock,
        directory: Directory,
        shields: Shields,
        mfa: MfaStore,
        journal: Journal,
        issuer: TokenIssuer,
    ) -> None:
        self._settings = settings
        self._lock = lock
        self._directory = directory
        self._shields = shields
        self._mfa = mfa
        self._journal = journal
        self._issuer = issuer

    def grant(
        self,
        *,
        params: Mapping[str, str],
        grant: str,
        client: ClientConfig,
        attribution: Attribution,
        now: float,
        outcome: Outcome,
    ) -> Reply:
        username = params.get("username") or required(missing("username"))
        password = params.get("password") or required(missing("password"))
        connection = self._realm(params, grant)
        outcome.connection = connection.name
        api = self._issuer.requested_api(params.get("audience"))
        scopes = split_scope(params.get("scope"))
        ip = attribution.ip
        shields, journal = self._shields, self._journal
        with self._lock:
            shields.refuse_blocked(username, ip, now, outcome)
            user = self._directory.login_user(connection.name, username)
            password_hash = user.password_hash if user is not None else None
        verified = verify_password(password, password_hash)
        with self._lock:
            if not verified or user is None:
                journal.event(
                    "fp" if user is not None else "fu", outcome, now, user_id=user.user_id if user else None
                )
                shields.login_failed(
                    username=username, ip=ip, connection=connection.name, user=user, now=now, outcome=outcome
                )
                raise OAuthError(403, "invalid_grant", errors.WRONG_CREDENTIALS)
            outcome.user = user
            shields.login_succeeded(username, ip)
            if user.blocked:
                log.info("login refused: user %s is blocked by an administrator", user.user_id)
                journal.event("f", outcome, now, description=errors.USER_BLOCKED)
                raise OAuthError(401, "unauthorized", errors.USER_BLOCKED)
            if shields.breached(user, password, ip, now, outcome):
                raise OAuthError(401, "password_leaked", errors.PASSWORD_LEAKED)
            if user.has_mfa:
                audience = api.identifier if api else None
                mfa_token = self._mfa.start(user, client.client_id, audience, scopes, now)
                log.info("mfa required for user %s", user.user_id)
                journal.event("mfar", outcome, now)
                raise OAuthError(
                    403,
                    "mfa_required",
                    errors.MFA_REQUIRED,
                    extra={"mfa_token": mfa_token, "mfa_requirements": mfa_requirements(user)},
                )
            journal.event("s", outcome, now)
            return self._issuer.issue(
                user, client=client, api=api, requested=scopes, now=now, grant="password", allow_refresh=True
            )

    def _realm(self, params: Mapping[str, str], grant: str) -> ConnectionConfig:
        if grant == GRANT_PASSWORD_REALM:
            realm = params.get("realm") or required(missing("realm"))
        else:
            realm = self._settings.config.default_directory or required(
                OAuthError(500, "server_error", NO_DEFAULT_CONNECTION)
            )
        with self._lock:
            connection = self._directory.connection(realm)
        if connection is None:
            raise OAuthError(400, "invalid_request", "Unknown realm.")
        return connection
