"""Refresh tokens: families, rotation, reuse detection with leeway, expiry and revocation.

State and rules only (``EmulatorState`` calls this under its lock). A *family* is what one login
started; with rotation each exchange issues the family's next token and retires the one presented.
Presenting a retired token is reuse and revokes the whole family, except the immediately previous
token within the client's ``leeway`` seconds (two tabs refreshing at once).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from typing import Literal

from auth0_emulator.clients import RefreshTokenPolicy
from auth0_emulator.errors import OAuthError

UNKNOWN_TOKEN = "Unknown or invalid refresh token."
MAX_ACTIVE_PER_USER_AND_CLIENT = 200


@dataclass
class Family:
    family_id: str
    user_id: str
    client_id: str
    audience: str | None
    scopes: tuple[str, ...]
    created_at: float
    revoked: bool = False
    last_rotated: str | None = field(default=None, repr=False)  # the token retired most recently


@dataclass
class StoredToken:
    family_id: str
    issued_at: float
    state: Literal["active", "rotated"] = "active"
    rotated_at: float | None = None


@dataclass(frozen=True)
class Exchange:
    """A refresh the store allowed: the family it belongs to and the new token, if rotation made one."""

    family: Family
    new_token: str | None = field(repr=False)
    reused_within_leeway: bool = False


class ReuseDetectedError(OAuthError):
    """A retired token came back: the family is revoked (logged apart from a plain unknown token)."""

    def __init__(self, family: Family) -> None:
        super().__init__(403, "invalid_grant", UNKNOWN_TOKEN)
        self.family = family


class RefreshStore:
    def __init__(self) -> None:
        self._families: dict[str, Family] = {}
        self._tokens: dict[str, StoredToken] = {}
        # The live families per (user, client), oldest first (at most 200 + the newest): a login's
        # cost stays flat however many logins came before it.
        self._grants: dict[tuple[str, str], list[Family]] = {}

    def issue(
        self, *, user_id: str, client_id: str, audience: str | None, scopes: tuple[str, ...], now: float
    ) -> str:
        """Start a family (one login) and return its first token; the oldest beyond 200 is revoked."""
        family = Family(secrets.token_hex(8), user_id, client_id, audience, scopes, now)
        self._families[family.family_id] = family
        live = [f for f in self._grants.get((user_id, client_id), ()) if not f.revoked]
        self._grants[(user_id, client_id)] = grant = [*live, family]
        while len(grant) > MAX_ACTIVE_PER_USER_AND_CLIENT:
            grant.pop(0).revoked = True
        return self._new_token(family, now)

    def exchange(self, token: str, client_id: str, policy: RefreshTokenPolicy, now: float) -> Exchange:
        stored = self._tokens.get(token)
        family = self._families.get(stored.family_id) if stored is not None else None
        if stored is None or family is None or family.client_id != client_id or family.revoked:
            raise OAuthError(403, "invalid_grant", UNKNOWN_TOKEN)
        if policy.expiring and (
            now - family.created_at > policy.token_lifetime
            or now - stored.issued_at > policy.idle_token_lifetime
        ):
            raise OAuthError(403, "invalid_grant", UNKNOWN_TOKEN)
        if stored.state == "rotated":
            within_leeway = (
                policy.leeway > 0
                and family.last_rotated == token
                and stored.rotated_at is not None
                and now - stored.rotated_at <= policy.leeway
            )
            if not within_leeway:
                family.revoked = True
                raise ReuseDetectedError(family)
            return Exchange(family, self._new_token(family, now), reused_within_leeway=True)
        if not policy.rotating:
            return Exchange(family, None)
        stored.state = "rotated"
        stored.rotated_at = now
        family.last_rotated = token
        return Exchange(family, self._new_token(family, now))

    def family_of(self, token: str) -> Family | None:
        stored = self._tokens.get(token)
        return self._families.get(stored.family_id) if stored is not None else None

    def revoke(self, token: str, client_id: str, *, whole_grant: bool) -> int:
        """Revoke the token's family (``whole_grant``: every family of that user, client and audience).

        Return how many families were revoked; a token of another client or an unknown one revokes
        nothing (the caller answers 200 all the same, as Auth0 does)."""
        family = self.family_of(token)
        if family is None or family.client_id != client_id:
            return 0
        targets = [family]
        if whole_grant:
            grant = self._grants.get((family.user_id, family.client_id), [])
            targets = [f for f in grant if f.audience == family.audience]
        count = 0
        for target in targets:
            if not target.revoked:
                target.revoked = True
                count += 1
        return count

    def _new_token(self, family: Family, now: float) -> str:
        token = secrets.token_urlsafe(48)
        self._tokens[token] = StoredToken(family.family_id, now)
        return token
