"""MFA after ``mfa_required``: sessions (``mfa_token``), authenticators, challenges, push decisions
and the per-user failure limits. State and rules only; ``mfa_grants`` calls this under the tenant's lock.

Auth0 documents two error dialects for the MFA grants (behaviour in docs/emulator.md): the older
``invalid_grant``/``expired_token`` and the newer ``invalid_otp``, ``mfa_token_invalid``, ... The
tenant's ``mfa_error_format`` picks one, and ``mfa_error_status`` picks between answering every failure
403 and the 401/400 of Auth0's reference tables, so a product can be tested against each form.
"""

from __future__ import annotations

import hmac
import math
import re
import secrets
from dataclasses import dataclass, field
from typing import Any, Literal

import pyotp

from auth0_emulator.directory import User, normalise_recovery_code
from auth0_emulator.errors import OAuthError
from auth0_emulator.protection import DrainingCounter

MFA_TOKEN_SECONDS = 600  # MFA-audience tokens live 10 minutes (not configurable at Auth0)
PUSH_POLL_INTERVAL_SECONDS = 5
FAILURE_BUCKET = 10  # failed OTP validations: a bucket of 10 ...
FAILURE_REFILL_SECONDS = 360  # ... refilled one every 6 minutes (10 an hour for recovery codes too)
USED_OTP_SECONDS = 90  # a TOTP code is accepted once: remembered for its whole ±1-step window
RECOVERY_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
RECOVERY_CODE_LENGTH = 24

MfaFailure = Literal[
    "malformed_token",
    "expired_token",
    "invalid_otp",
    "invalid_binding_code",
    "invalid_oob_code",
    "invalid_recovery_code",
]

# failure -> (legacy error, current error, description, status in Auth0's reference tables). The
# ``forbidden`` statuses answer 403 for all; ``reference`` answers the last column, and with legacy
# codes an MFA token, oob_code or recovery code failure is ``access_denied`` (Auth0.Android's tests).
_ERRORS: dict[str, tuple[str, str, str, int]] = {
    "malformed_token": ("invalid_grant", "mfa_token_invalid", "Malformed mfa_token", 401),
    "expired_token": ("expired_token", "mfa_token_invalid", "mfa_token is expired", 401),
    "invalid_otp": ("invalid_grant", "invalid_otp", "Invalid otp_code.", 400),
    "invalid_binding_code": ("invalid_grant", "invalid_binding_code", "Invalid binding_code.", 400),
    "invalid_oob_code": ("invalid_grant", "invalid_oob_code", "Invalid oob_code.", 401),
    "invalid_recovery_code": ("invalid_grant", "invalid_recovery_code", "Invalid recovery_code.", 401),
}
INVALID_MFA_TOKEN = "Invalid MFA token"
TOO_MANY_FAILURES = "Too many failed MFA attempts. Try again later."
PUSH_REJECTED = "MFA Authorization rejected."
PUSH_PENDING = "Authorization pending: please repeat the request in a few seconds."
SLOW_DOWN = "You are polling faster than allowed. Try again in 5 seconds."


@dataclass(frozen=True)
class MfaDialect:
    """Which of Auth0's documented forms a failed MFA step answers (two tenant switches)."""

    codes: str = "legacy"  # legacy | current
    statuses: str = "forbidden"  # forbidden | reference


def mfa_error(failure: MfaFailure, dialect: MfaDialect) -> OAuthError:
    legacy, current, description, reference_status = _ERRORS[failure]
    if dialect.statuses != "reference":
        return OAuthError(403, current if dialect.codes == "current" else legacy, description)
    if dialect.codes == "current":
        return OAuthError(reference_status, current, description)
    if reference_status == 400:
        return OAuthError(400, "invalid_grant", description)
    if failure in ("malformed_token", "expired_token"):
        description = INVALID_MFA_TOKEN
    return OAuthError(401, "access_denied", description)


@dataclass(frozen=True)
class Authenticator:
    id: str
    authenticator_type: Literal["otp", "oob", "recovery-code"]
    oob_channel: str | None = None
    name: str | None = None

    def to_api(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "authenticator_type": self.authenticator_type, "active": True}
        if self.oob_channel is not None:
            body["oob_channel"] = self.oob_channel
        if self.name is not None:
            body["name"] = self.name
        return body


def authenticators(user: User) -> list[Authenticator]:
    """The user's factors with stable ids (``totp|dev_<user>``, ``sms|...``, ``push|...``, ...)."""
    slug = re.sub(r"[^A-Za-z0-9]", "_", user.user_id.split("|")[-1])
    found: list[Authenticator] = []
    if user.totp_secret:
        found.append(Authenticator(f"totp|dev_{slug}", "otp"))
    if user.sms_phone_number:
        masked = "X" * max(0, len(user.sms_phone_number) - 4) + user.sms_phone_number[-4:]
        found.append(Authenticator(f"sms|dev_{slug}", "oob", "sms", masked))
    if user.push_device_name:
        found.append(Authenticator(f"push|dev_{slug}", "oob", "auth0", user.push_device_name))
    if user.recovery_codes:
        found.append(Authenticator(f"recovery-code|dev_{slug}", "recovery-code"))
    return found


def mfa_requirements(user: User) -> dict[str, Any]:
    """``mfa_requirements`` of the ``mfa_required`` answer: the primary factor types enrolled."""
    challenge = []
    if user.totp_secret:
        challenge.append({"type": "otp"})
    if user.sms_phone_number or user.push_device_name:
        challenge.append({"type": "oob"})
    return {"challenge": challenge}


@dataclass(frozen=True)
class MfaSession:
    """What an ``mfa_token`` stands for: the login it continues."""

    user_id: str
    client_id: str
    audience: str | None
    scopes: tuple[str, ...]
    connection: str
    expires_at: float


@dataclass
class OobChallenge:
    mfa_token: str = field(repr=False)
    user_id: str
    channel: Literal["sms", "auth0"]
    binding_code: str | None = field(repr=False)
    created_at: float
    decision: Literal["pending", "approved", "denied"] = "pending"
    last_poll: float | None = None


@dataclass(frozen=True)
class ChallengeAnswer:
    body: dict[str, Any]
    sms_code: str | None = field(default=None, repr=False)  # to deliver through the outbox


class MfaStore:
    """Pending MFA logins of the tenant, keyed by ``mfa_token``; oob challenges keyed by ``oob_code``."""

    def __init__(self) -> None:
        self._sessions: dict[str, MfaSession] = {}
        self._challenges: dict[str, OobChallenge] = {}
        self._failures: dict[tuple[str, str], DrainingCounter] = {}
        self._used_otps: dict[tuple[str, str], float] = {}

    # ---- sessions --------------------------------------------------------------------------

    def start(
        self, user: User, client_id: str, audience: str | None, scopes: tuple[str, ...], now: float
    ) -> str:
        token = secrets.token_urlsafe(32)
        self._sessions[token] = MfaSession(
            user.user_id, client_id, audience, scopes, user.connection, now + MFA_TOKEN_SECONDS
        )
        return token

    def session(self, mfa_token: str, client_id: str | None, now: float, dialect: MfaDialect) -> MfaSession:
        """The live session of a token (for this client when one is named), or Auth0's error."""
        found = self._sessions.get(mfa_token)
        if found is None or (client_id is not None and found.client_id != client_id):
            raise mfa_error("malformed_token", dialect)
        if found.expires_at <= now:
            self.finish(mfa_token)
            raise mfa_error("expired_token", dialect)
        return found

    def finish(self, mfa_token: str) -> None:
        """A session is single-use: success (or expiry) ends it and its challenges."""
        self._sessions.pop(mfa_token, None)
        for code in [code for code, c in self._challenges.items() if c.mfa_token == mfa_token]:
            del self._challenges[code]

    # ---- /mfa/challenge -----------------------------------------------------------------------

    def challenge(
        self,
        mfa_token: str,
        user: User,
        challenge_types: tuple[str, ...],
        authenticator_id: str | None,
        now: float,
    ) -> ChallengeAnswer:
        unsupported = [t for t in challenge_types if t not in {"otp", "oob"}]
        if unsupported:
            raise OAuthError(
                400, "unsupported_challenge_type", f"Unsupported challenge type: {unsupported[0]}"
            )
        enrolled = [a for a in authenticators(user) if a.authenticator_type in challenge_types]
        if authenticator_id is not None:
            enrolled = [a for a in authenticators(user) if a.id == authenticator_id]
            if not enrolled:
                raise OAuthError(400, "invalid_request", "Unknown authenticator_id.")
            if enrolled[0].authenticator_type not in challenge_types:
                raise OAuthError(
                    400,
                    "unsupported_challenge_type",
                    f"The authenticator does not support challenge type {' '.join(challenge_types)}.",
                )
        if not enrolled:
            raise OAuthError(
                400,
                "association_required",
                "User is not enrolled. You can use /mfa/associate endpoint to enroll the first "
                "authenticator.",
            )
        chosen = enrolled[0]
        if chosen.authenticator_type == "otp":
            return ChallengeAnswer({"challenge_type": "otp"})
        oob_code = secrets.token_urlsafe(24)
        if chosen.oob_channel == "sms":
            code = f"{secrets.randbelow(1_000_000):06d}"
            self._challenges[oob_code] = OobChallenge(mfa_token, user.user_id, "sms", code, now)
            return ChallengeAnswer(
                {"challenge_type": "oob", "oob_code": oob_code, "binding_method": "prompt"}, sms_code=code
            )
        self._challenges[oob_code] = OobChallenge(mfa_token, user.user_id, "auth0", None, now)
        return ChallengeAnswer({"challenge_type": "oob", "oob_code": oob_code})

    # ---- the three grants -------------------------------------------------------------------

    def verify_otp(self, user: User, otp: str, now: float, dialect: MfaDialect) -> None:
        self._spend_check(user, "otp", now)
        secret = user.totp_secret
        key = (user.user_id, otp)
        self._used_otps = {k: until for k, until in self._used_otps.items() if until > now}
        if (
            secret is None
            or key in self._used_otps
            or not pyotp.TOTP(secret).verify(otp, for_time=int(now), valid_window=1)
        ):
            self._failed(user, "otp", now)
            raise mfa_error("invalid_otp", dialect)
        self._used_otps[key] = now + USED_OTP_SECONDS

    def verify_oob(
        self,
        *,
        mfa_token: str,
        user: User,
        oob_code: str,
        binding_code: str | None,
        now: float,
        dialect: MfaDialect,
    ) -> None:
        """Return when the challenge is passed; raise the answer a client should act on otherwise."""
        challenge = self._challenges.get(oob_code)
        if challenge is None or challenge.mfa_token != mfa_token:
            raise mfa_error("invalid_oob_code", dialect)
        if challenge.channel == "sms":
            if not binding_code:
                raise OAuthError(400, "invalid_request", "Missing required parameter: binding_code")
            self._spend_check(user, "otp", now)
            expected = challenge.binding_code or ""
            if not hmac.compare_digest(binding_code.encode(), expected.encode()):
                self._failed(user, "otp", now)
                raise mfa_error("invalid_binding_code", dialect)
            return
        interval = {"interval": PUSH_POLL_INTERVAL_SECONDS}
        if challenge.last_poll is not None and now - challenge.last_poll < PUSH_POLL_INTERVAL_SECONDS:
            wait = max(1, math.ceil(challenge.last_poll + PUSH_POLL_INTERVAL_SECONDS - now))
            raise OAuthError(429, "slow_down", SLOW_DOWN, extra=interval, headers={"Retry-After": str(wait)})
        challenge.last_poll = now
        if challenge.decision == "pending":
            raise OAuthError(400, "authorization_pending", PUSH_PENDING, extra=interval)
        if challenge.decision == "denied":
            raise OAuthError(403, "invalid_grant", PUSH_REJECTED)

    def use_recovery_code(self, user: User, code: str, now: float, dialect: MfaDialect) -> str:
        """Spend one recovery code; return the new one Auth0 hands out in its place."""
        self._spend_check(user, "recovery", now)
        normalised = normalise_recovery_code(code)
        match = next(
            (c for c in user.recovery_codes if hmac.compare_digest(c.encode(), normalised.encode())), None
        )
        if match is None:
            self._failed(user, "recovery", now)
            raise mfa_error("invalid_recovery_code", dialect)
        user.recovery_codes.remove(match)
        fresh = "".join(secrets.choice(RECOVERY_CODE_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
        user.recovery_codes.append(fresh)
        return fresh

    def _spend_check(self, user: User, kind: str, now: float) -> None:
        bucket = self._failures.get((kind, user.user_id))
        if bucket is not None and bucket.remaining(now, FAILURE_BUCKET, 1 / FAILURE_REFILL_SECONDS) < 1:
            raise OAuthError(429, "too_many_attempts", TOO_MANY_FAILURES)

    def _failed(self, user: User, kind: str, now: float) -> None:
        bucket = self._failures.setdefault((kind, user.user_id), DrainingCounter(updated=now))
        bucket.try_take(now, FAILURE_BUCKET, 1 / FAILURE_REFILL_SECONDS)

    # ---- the push decision (test hooks) ------------------------------------------------------

    def decide(self, *, oob_code: str | None, user_id: str | None, approve: bool) -> str | None:
        """Approve or deny one pending push challenge; return its user id (None: nothing pending)."""
        pending = [
            (code, c)
            for code, c in self._challenges.items()
            if c.channel == "auth0" and c.decision == "pending"
        ]
        if oob_code is not None:
            pending = [(code, c) for code, c in pending if code == oob_code]
        if user_id is not None:
            pending = [(code, c) for code, c in pending if c.user_id == user_id]
        if not pending:
            return None
        _, challenge = pending[-1]  # insertion order is creation order: the latest one
        challenge.decision = "approved" if approve else "denied"
        return challenge.user_id
