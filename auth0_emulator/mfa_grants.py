"""MFA after ``mfa_required``: ``/mfa/challenge``, ``/mfa/authenticators``, the three MFA grants and
the push decision of the test hooks. The sessions, codes and limits are ``mfa``'s store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping

from auth0_emulator.calls import Outcome, required
from auth0_emulator.clients import GRANT_MFA_OOB, GRANT_MFA_OTP, GRANT_MFA_RECOVERY_CODE, ClientConfig
from auth0_emulator.directory import Directory, User
from auth0_emulator.errors import missing
from auth0_emulator.issuance import TokenIssuer
from auth0_emulator.mfa import MfaSession, MfaStore, authenticators, mfa_error
from auth0_emulator.outbox import Email, Outbox
from auth0_emulator.replies import Reply
from auth0_emulator.tenant_settings import TenantSettings

log = logging.getLogger("ropguard.emulator")

FACTOR_PARAMETER = {GRANT_MFA_OTP: "otp", GRANT_MFA_OOB: "oob_code", GRANT_MFA_RECOVERY_CODE: "recovery_code"}


class MfaGrants:
    def __init__(
        self,
        *,
        settings: TenantSettings,
        lock: threading.RLock,
        directory: Directory,
        outbox: Outbox,
        issuer: TokenIssuer,
    ) -> None:
        self._settings = settings
        self._lock = lock
        self._directory = directory
        self._outbox = outbox
        self._issuer = issuer
        self.store = MfaStore()

    def authenticators(self, mfa_token: str | None, now: float) -> Reply:
        """``GET /mfa/authenticators`` with ``Authorization: Bearer <mfa_token>``."""
        dialect = self._settings.mfa_dialect
        if not mfa_token:
            raise mfa_error("malformed_token", dialect)
        with self._lock:
            _, user = self._session(mfa_token, None, now)
            return Reply(200, [a.to_api() for a in authenticators(user)])

    def challenge(
        self, params: Mapping[str, str], client: ClientConfig, now: float, outcome: Outcome
    ) -> Reply:
        mfa_token = params.get("mfa_token") or required(missing("mfa_token"))
        challenge_types = tuple((params.get("challenge_type") or "otp oob").split())
        with self._lock:
            _, user = self._session(mfa_token, client.client_id, now)
            outcome.user = user
            outcome.record.username = user.email
            answer = self.store.challenge(
                mfa_token, user, challenge_types, params.get("authenticator_id"), now
            )
            if answer.sms_code is not None:
                email = Email(
                    to=user.email,
                    kind="mfa_code",
                    link=None,
                    sent_at=now,
                    code=answer.sms_code,
                    phone_number=user.sms_phone_number,
                )
                self._outbox.send(email)
                log.info("mfa code queued: to=%s", user.email)
        return Reply(200, answer.body, {"Cache-Control": "no-store"})

    def grant(
        self, params: Mapping[str, str], grant: str, client: ClientConfig, now: float, outcome: Outcome
    ) -> Reply:
        mfa_token = params.get("mfa_token") or required(missing("mfa_token"))
        code = params.get(FACTOR_PARAMETER[grant]) or required(missing(FACTOR_PARAMETER[grant]))
        dialect = self._settings.mfa_dialect
        store = self.store
        with self._lock:
            session, user = self._session(mfa_token, client.client_id, now)
            outcome.user = user
            outcome.connection = session.connection
            outcome.record.username = user.email
            new_recovery_code = None
            if grant == GRANT_MFA_OTP:
                store.verify_otp(user, code, now, dialect)
            elif grant == GRANT_MFA_OOB:
                store.verify_oob(
                    mfa_token=mfa_token,
                    user=user,
                    oob_code=code,
                    binding_code=params.get("binding_code"),
                    now=now,
                    dialect=dialect,
                )
            else:
                new_recovery_code = store.use_recovery_code(user, code, now, dialect)
            store.finish(mfa_token)
            reply = self._issuer.issue(
                user,
                client=client,
                api=self._issuer.api(session.audience),
                requested=session.scopes,
                now=now,
                grant="mfa",
                allow_refresh=True,
            )
            if new_recovery_code is not None and isinstance(reply.body, dict):
                reply.body["recovery_code"] = new_recovery_code
            return reply

    def decide_push(self, *, oob_code: str | None, email: str | None, approve: bool) -> str | None:
        """Approve or deny a pending push challenge (by code, or the user's latest); return the user id."""
        with self._lock:
            user_id = None
            if email is not None:
                user = self._directory.user_by_email(email)
                if user is None:
                    return None
                user_id = user.user_id
            decided = self.store.decide(oob_code=oob_code, user_id=user_id, approve=approve)
            log.info("push challenge %s: user=%s", "approved" if approve else "denied", decided)
            return decided

    def _session(self, mfa_token: str, client_id: str | None, now: float) -> tuple[MfaSession, User]:
        dialect = self._settings.mfa_dialect
        session = self.store.session(mfa_token, client_id, now, dialect)
        user = self._directory.user_by_id(session.user_id)
        if user is None:
            raise mfa_error("malformed_token", dialect)
        return session, user
