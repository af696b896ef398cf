"""Password resets and the links in emails: ``/dbconnections/change_password``, reset and unblock
tickets, and the Management API's password-change tickets. State and rules, no HTTP.

``Tickets`` makes and checks the links (the password grant sends them too); ``PasswordResets``
gets only what a reset touches: the directory, the outbox, the brute-force counters it clears and
the tenant rate limit it spends.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from auth0_emulator.addresses import normalise_ip
from auth0_emulator.clock import Clock
from auth0_emulator.directory import Directory, User
from auth0_emulator.errors import OAuthError, missing
from auth0_emulator.hashing import MAX_PASSWORD_BYTES, hash_password
from auth0_emulator.outbox import Email, Outbox
from auth0_emulator.protection import BruteForceTracker, RateLimiter, TenantRateLimit
from auth0_emulator.replies import Reply
from auth0_emulator.tenant_settings import TenantSettings

log = logging.getLogger("ropguard.emulator")

TICKET_SECONDS = 432_000  # Auth0's default ttl_sec for password-change tickets
CHANGE_PASSWORD_TEXT = "We've just sent you an email to reset your password."
USER_NOT_FOUND = "User not found"
INVALID_TICKET = {"error": "invalid_request", "error_description": "Invalid or expired ticket."}
TicketKind = Literal["reset_password", "unblock"]


@dataclass(frozen=True)
class Ticket:
    kind: TicketKind
    user_id: str
    identifier: str
    ip: str | None
    expires_at: float


class Tickets:
    """Single-use reset and unblock tickets, and the links that carry them (call under the lock)."""

    def __init__(self, settings: TenantSettings) -> None:
        self._settings = settings
        self._tickets: dict[str, Ticket] = {}

    def link(
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
        return f"{self._settings.base_url}{path}?ticket={ticket}"

    def live(self, ticket: str, now: float) -> Ticket | None:
        found = self._tickets.get(ticket)
        if found is not None and found.expires_at <= now:
            del self._tickets[ticket]
            return None
        return found

    def use(self, ticket: str) -> None:
        del self._tickets[ticket]


class PasswordResets:
    def __init__(
        self,
        *,
        settings: TenantSettings,
        lock: threading.RLock,
        clock: Clock,
        directory: Directory,
        outbox: Outbox,
        brute_force: BruteForceTracker,
        tickets: Tickets,
        tenant_limit: TenantRateLimit,
    ) -> None:
        self._settings = settings
        self._lock = lock
        self._clock = clock
        self._directory = directory
        self._outbox = outbox
        self._brute_force = brute_force
        self._tickets = tickets
        self._tenant_limit = tenant_limit
        self._limiter = RateLimiter(10, 600)  # 10 burst, then 1 a minute per (IP, email)

    def change_password(self, peer_ip: str, params: Mapping[str, str]) -> Reply:
        now = self._clock.now()
        ip = normalise_ip(peer_ip)
        with self._lock:
            limit = self._tenant_limit.take(now)
        try:
            TenantRateLimit.refuse(limit)
            reply = self._change_password(ip, params, now)
        except OAuthError as error:
            reply = Reply(error.status, error.body(), error.headers)
        if limit is not None:
            for name, value in limit.headers().items():
                reply.headers.setdefault(name, value)
        return reply

    def _change_password(self, ip: str, params: Mapping[str, str], now: float) -> Reply:
        email = params.get("email")
        if not email:
            raise missing("email")
        connection_name = params.get("connection")
        if not connection_name:
            raise missing("connection")
        with self._lock:
            connection = self._directory.connection(connection_name)
            if connection is None:
                raise OAuthError(400, "invalid_request", "Unknown connection.")
            decision = self._limiter.take(f"{ip} {email.lower()}", now)
            if not decision.allowed:
                log.warning("change_password rate limit: ip=%s email=%s", ip, email)
                raise OAuthError(429, "too_many_requests", "Too many requests.", headers=decision.headers())
            user = self._directory.user(connection.name, email)
            log.info("change_password: email=%s known_user=%s ip=%s", email, user is not None, ip)
            if user is None:
                if self._settings.change_password_unknown_user == "not_found":
                    return Reply(404, {"error": "not_found", "error_description": USER_NOT_FOUND})
                return Reply(200, CHANGE_PASSWORD_TEXT)
            link = self._tickets.link(
                kind="reset_password", user=user, identifier=user.email, ip=None, now=now
            )
            self._outbox.send(Email(to=user.email, kind="reset_password", link=link, sent_at=now))
            log.info("email queued: kind=reset_password to=%s", user.email)
        return Reply(200, CHANGE_PASSWORD_TEXT)

    def ticket_kind(self, ticket: str) -> str | None:
        with self._lock:
            found = self._tickets.live(ticket, self._clock.now())
            return found.kind if found else None

    def complete_password_reset(self, ticket: str, new_password: str) -> Reply:
        encoded_length = len(new_password.encode("utf-8"))
        if not 0 < encoded_length <= MAX_PASSWORD_BYTES:
            return Reply(
                400, {"error": "invalid_request", "error_description": "Password must be 1-72 bytes."}
            )
        new_hash = hash_password(new_password, self._settings.config.bcrypt_rounds)
        with self._lock:
            found = self._tickets.live(ticket, self._clock.now())
            user = self._directory.user_by_id(found.user_id) if found else None
            if found is None or found.kind != "reset_password" or user is None:
                return Reply(400, dict(INVALID_TICKET))
            self._tickets.use(ticket)
            user.password_hash = new_hash
            cleared = self._brute_force.clear_identifier(user.email)
            log.info("password changed: user=%s brute_force_blocks_cleared=%s", user.user_id, cleared)
        return Reply(200, "Your password has been changed.")

    def follow_unblock_link(self, ticket: str) -> Reply:
        with self._lock:
            found = self._tickets.live(ticket, self._clock.now())
            if found is None or found.kind != "unblock":
                return Reply(400, dict(INVALID_TICKET))
            self._tickets.use(ticket)
            self._brute_force.clear_pair(found.identifier, found.ip)
            log.info("unblock link followed: identifier=%s ip=%s", found.identifier, found.ip)
        return Reply(200, "Your account has been unblocked.")

    def password_change_ticket(self, user: User, ttl_seconds: int) -> str:
        with self._lock:
            return self._tickets.link(
                kind="reset_password",
                user=user,
                identifier=user.email,
                ip=None,
                now=self._clock.now(),
                ttl_seconds=ttl_seconds,
            )
