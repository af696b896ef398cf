"""Password resets and the links in emails: ``/dbconnections/change_password``, reset and unblock
tickets, and the Management API's password-change tickets. State and rules, no HTTP.

It works on the tenant's ``EmulatorState`` (directory, outbox, brute-force counters, the tenant
rate limit) under that state's lock; the tickets and the per-(IP, email) limit are its own.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from auth0_emulator import errors
from auth0_emulator.addresses import normalise_ip
from auth0_emulator.directory import User
from auth0_emulator.errors import OAuthError, missing
from auth0_emulator.hashing import MAX_PASSWORD_BYTES, hash_password
from auth0_emulator.outbox import Email
from auth0_emulator.protection import RateLimiter
from auth0_emulator.replies import Reply

if TYPE_CHECKING:
    from auth0_emulator.models import EmulatorState

log = logging.getLogger("ropguard.emulator")

TICKET_SECONDS = 432_000  # Auth0's default ttl_sec for password-change tickets
CHANGE_PASSWORD_TEXT = "We've just sent you an email to reset your password."
INVALID_TICKET = {"error": "invalid_request", "error_description": "Invalid or expired ticket."}
TicketKind = Literal["reset_password", "unblock"]


@dataclass(frozen=True)
class Ticket:
    kind: TicketKind
    user_id: str
    identifier: str
    ip: str | None
    expires_at: float


class PasswordResets:
    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._tickets: dict[str, Ticket] = {}
        self._limiter = RateLimiter(10, 600)  # 10 burst, then 1 a minute per (IP, email)

    def change_password(self, peer_ip: str, params: Mapping[str, str]) -> Reply:
        state = self._state
        now = state.clock.now()
        ip = normalise_ip(peer_ip)
        with state.lock:
            limit = state.tenant_limit(now)
        try:
            if limit is not None and not limit.allowed:
                raise OAuthError(429, "too_many_requests", errors.RATE_LIMITED)
            email = params.get("email")
            if not email:
                raise missing("email")
            connection_name = params.get("connection")
            if not connection_name:
                raise missing("connection")
            with state.lock:
                connection = state.directory.connection(connection_name)
                if connection is None:
                    raise OAuthError(400, "invalid_request", "Unknown connection.")
                decision = self._limiter.take(f"{ip} {email.lower()}", now)
                if not decision.allowed:
                    log.warning("change_password rate limit: ip=%s email=%s", ip, email)
                    raise OAuthError(
                        429, "too_many_requests", "Too many requests.", headers=decision.headers()
                    )
                user = state.directory.user(connection.name, email)
                if user is not None:
                    link = self.ticket_link(
                        kind="reset_password", user=user, identifier=user.email, ip=None, now=now
                    )
                    state.outbox.send(Email(to=user.email, kind="reset_password", link=link, sent_at=now))
                    log.info("email queued: kind=reset_password to=%s", user.email)
                log.info("change_password: email=%s known_user=%s ip=%s", email, user is not None, ip)
            reply = Reply(200, CHANGE_PASSWORD_TEXT)
        except OAuthError as error:
            reply = Reply(error.status, error.body(), error.headers)
        if limit is not None:
            for name, value in limit.headers().items():
                reply.headers.setdefault(name, value)
        return reply

    def ticket_kind(self, ticket: str) -> str | None:
        with self._state.lock:
            found = self._live(ticket, self._state.clock.now())
            return found.kind if found else None

    def complete_password_reset(self, ticket: str, new_password: str) -> Reply:
        state = self._state
        encoded_length = len(new_password.encode("utf-8"))
        if not 0 < encoded_length <= MAX_PASSWORD_BYTES:
            return Reply(
                400, {"error": "invalid_request", "error_description": "Password must be 1-72 bytes."}
            )
        new_hash = hash_password(new_password, state.config.bcrypt_rounds)
        with state.lock:
            found = self._live(ticket, state.clock.now())
            user = state.directory.user_by_id(found.user_id) if found else None
            if found is None or found.kind != "reset_password" or user is None:
                return Reply(400, dict(INVALID_TICKET))
            del self._tickets[ticket]
            user.password_hash = new_hash
            cleared = state.brute_force.clear_identifier(user.email)
            log.info("password changed: user=%s brute_force_blocks_cleared=%s", user.user_id, cleared)
        return Reply(200, "Your password has been changed.")

    def follow_unblock_link(self, ticket: str) -> Reply:
        state = self._state
        with state.lock:
            found = self._live(ticket, state.clock.now())
            if found is None or found.kind != "unblock":
                return Reply(400, dict(INVALID_TICKET))
            del self._tickets[ticket]
            state.brute_force.clear_pair(found.identifier, found.ip)
            log.info("unblock link followed: identifier=%s ip=%s", found.identifier, found.ip)
        return Reply(200, "Your account has been unblocked.")

    def password_change_ticket(self, user: User, ttl_seconds: int) -> str:
        with self._state.lock:
            return self.ticket_link(
                kind="reset_password",
                user=user,
                identifier=user.email,
                ip=None,
                now=self._state.clock.now(),
                ttl_seconds=ttl_seconds,
            )

    def ticket_link(
        self,
        *,
        kind: TicketKind,
        user: User,
        identifier: str,
        ip: str | None,
        now: float,
        ttl_seconds: int = TICKET_SECONDS,
    ) -> str:
        ticket = secrets.token_urlsafe(24)
        self._tickets[ticket] = Ticket(kind, user.user_id, identifier.lower(), ip, now + ttl_seconds)
        path = "/lo/reset" if kind == "reset_password" else "/lo/unblock"
        return f"{self._state.base_url}{path}?ticket={ticket}"

    def _live(self, ticket: str, now: float) -> Ticket | None:
        found = self._tickets.get(ticket)
        if found is not None and found.expires_at <= now:
            del self._tickets[ticket]
            return None
        return found
