"""Typed requests of the routes after /login: MFA challenge, authenticators, MFA verify, refresh, logout.

Each parser turns a typed event into a frozen request or raises ``InvalidRequestError`` with a
precise description naming fields, never repeating a value: every field here is a credential.
Fields a route does not read are ignored and never reach Auth0.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ropguard.api_event import ApiEvent
from ropguard.errors import InvalidRequestError
from ropguard.request_body import body_fields, checked_string, is_given, optional_string_field, scope_field
from ropguard.request_body import string_field as required

# Auth0's mfa_token, refresh tokens and oob codes are a few hundred characters at most; OTPs are
# 6 digits, recovery codes 24 characters, binding codes 6 digits. The caps keep hostile input small.
MAX_TOKEN_CHARS = 2048
MAX_OOB_CODE_CHARS = 2048
MAX_OTP_CHARS = 16
MAX_BINDING_CODE_CHARS = 64
MAX_RECOVERY_CODE_CHARS = 64
MAX_AUTHENTICATOR_ID_CHARS = 256
#: RFC 6750's b64token: the only characters a bearer token may have, and all a header can carry
#: safely onward to Auth0 (an mfa_token is a JWT: base64url and dots).
_BEARER_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
CHALLENGE_TYPES = ("otp", "oob")
FACTORS = ("otp", "oob_code", "recovery_code")


@dataclass(frozen=True, slots=True)
class MfaChallengeRequest:
    mfa_token: str = field(repr=False)
    challenge_type: str | None
    authenticator_id: str | None


@dataclass(frozen=True, slots=True)
class AuthenticatorsRequest:
    mfa_token: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class OtpFactor:
    otp: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class OobFactor:
    oob_code: str = field(repr=False)
    binding_code: str | None = field(repr=False)


@dataclass(frozen=True, slots=True)
class RecoveryCodeFactor:
    recovery_code: str = field(repr=False)


Factor = OtpFactor | OobFactor | RecoveryCodeFactor


@dataclass(frozen=True, slots=True)
class MfaVerifyRequest:
    mfa_token: str = field(repr=False)
    factor: Factor

    @property
    def factor_name(self) -> str:
        """``otp``, ``oob`` or ``recovery_code``: safe to log and count."""
        return {OtpFactor: "otp", OobFactor: "oob", RecoveryCodeFactor: "recovery_code"}[type(self.factor)]


@dataclass(frozen=True, slots=True)
class RefreshRequest:
    refresh_token: str = field(repr=False)
    scope: str | None


@dataclass(frozen=True, slots=True)
class LogoutRequest:
    refresh_token: str = field(repr=False)


def _challenge_type(fields: dict[str, Any]) -> str | None:
    value = optional_string_field(fields, "challenge_type", 32)
    if value is None:
        return None
    asked = value.split()
    if not asked:
        raise InvalidRequestError("field 'challenge_type' must not be empty")
    if len(set(asked)) != len(asked) or not set(asked) <= set(CHALLENGE_TYPES):
        raise InvalidRequestError("field 'challenge_type' must be 'otp', 'oob' or 'otp oob'")
    return " ".join(asked)


def parse_mfa_challenge(event: ApiEvent, *, max_body_bytes: int) -> MfaChallengeRequest:
    fields = body_fields(event, max_body_bytes)
    return MfaChallengeRequest(
        mfa_token=required(fields, "mfa_token", MAX_TOKEN_CHARS),
        challenge_type=_challenge_type(fields),
        authenticator_id=optional_string_field(fields, "authenticator_id", MAX_AUTHENTICATOR_ID_CHARS),
    )


def parse_authenticators(event: ApiEvent) -> AuthenticatorsRequest:
    """``Authorization: Bearer <mfa_token>``, as Auth0's own /mfa/authenticators takes it."""
    header = event.header("authorization")
    if header is None or not header.strip():
        raise InvalidRequestError("the Authorization header is required (Bearer <mfa_token>)")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise InvalidRequestError("the Authorization header must use the Bearer scheme (Bearer <mfa_token>)")
    mfa_token = checked_string(token.strip(), "the Authorization header's token", MAX_TOKEN_CHARS)
    if _BEARER_TOKEN.fullmatch(mfa_token) is None:
        raise InvalidRequestError(
            "the Authorization header's token may hold only letters, digits and -._~+/ (then =)"
        )
    return AuthenticatorsRequest(mfa_token=mfa_token)


def _factor(fields: dict[str, Any]) -> Factor:
    given = [name for name in FACTORS if is_given(fields, name)]
    if not given:
        raise InvalidRequestError("one of 'otp', 'oob_code' or 'recovery_code' is required")
    if len(given) > 1:
        named = " and ".join(repr(name) for name in given)
        raise InvalidRequestError(f"give exactly one of 'otp', 'oob_code' or 'recovery_code', not {named}")
    if is_given(fields, "binding_code") and given != ["oob_code"]:
        raise InvalidRequestError("field 'binding_code' goes only with 'oob_code'")
    if given == ["otp"]:
        return OtpFactor(required(fields, "otp", MAX_OTP_CHARS))
    if given == ["oob_code"]:
        return OobFactor(
            oob_code=required(fields, "oob_code", MAX_OOB_CODE_CHARS),
            binding_code=optional_string_field(fields, "binding_code", MAX_BINDING_CODE_CHARS),
        )
    return RecoveryCodeFactor(required(fields, "recovery_code", MAX_RECOVERY_CODE_CHARS))


def parse_mfa_verify(event: ApiEvent, *, max_body_bytes: int) -> MfaVerifyRequest:
    fields = body_fields(event, max_body_bytes)
    mfa_token = required(fields, "mfa_token", MAX_TOKEN_CHARS)
    return MfaVerifyRequest(mfa_token=mfa_token, factor=_factor(fields))


def parse_refresh(event: ApiEvent, *, max_body_bytes: int, scopes: tuple[str, ...]) -> RefreshRequest:
    fields = body_fields(event, max_body_bytes)
    return RefreshRequest(
        refresh_token=required(fields, "refresh_token", MAX_TOKEN_CHARS),
        scope=scope_field(fields, scopes),
    )


def parse_logout(event: ApiEvent, *, max_body_bytes: int) -> LogoutRequest:
    fields = body_fields(event, max_body_bytes)
    return LogoutRequest(refresh_token=required(fields, "refresh_token", MAX_TOKEN_CHARS))
