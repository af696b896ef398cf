"""Attack protection as a password login meets it: the blocks that refuse it, Bot Detection, and
what a failure or a breached password sets off (counters, tenant-log events, emails).

The counters are ``protection``'s; the settings are read live from ``TenantSettings``, so a
Management API change applies to the next login. Call with the tenant's lock held.
"""

from __future__ import annotations

import logging

from auth0_emulator import errors
from auth0_emulator.calls import Outcome
from auth0_emulator.directory import User
from auth0_emulator.errors import OAuthError
from auth0_emulator.journal import Journal
from auth0_emulator.outbox import Email, EmailKind, Outbox
from auth0_emulator.password_reset import Tickets
from auth0_emulator.protection import BruteForceTracker, SuspiciousIpThrottle
from auth0_emulator.settings import PER_IDENTIFIER_AND_IP
from auth0_emulator.tenant_settings import TenantSettings

log = logging.getLogger("ropguard.emulator")

BREACHED_TEST_PREFIX = "AUTH0-TEST-"
NOTICE_WINDOW_SECONDS = 3600  # "at most one per hour" for user notifications (and pwd_leak events)
REQUIRES_VERIFICATION = "Suspicious request requires verification"


class Shields:
    def __init__(
        self, *, settings: TenantSettings, journal: Journal, outbox: Outbox, tickets: Tickets
    ) -> None:
        self._settings = settings
        self._journal = journal
        self._outbox = outbox
        self._tickets = tickets
        self.brute_force = BruteForceTracker()
        self.suspicious_ip = SuspiciousIpThrottle()
        self._leak_events: dict[tuple[str, str], float] = {}

    def refuse_blocked(self, username: str, ip: str, now: float, outcome: Outcome) -> None:
        """429 when the IP is throttled or the identifier is blocked from it; 401 for a risky login."""
        settings = self._settings
        if self.suspicious_ip.is_blocked(ip, settings.suspicious_ip, now):
            log.warning("blocked by suspicious-ip throttling: ip=%s username=%s", ip, username)
            self._journal.event("limit_mu", outcome, now, details={"reason": "suspicious IP throttled"})
            raise OAuthError(429, "too_many_attempts", errors.SUSPICIOUS_IP_BLOCKED)
        if self.brute_force.is_blocked(username, ip, settings.brute_force, now):
            log.warning("blocked by brute-force protection: username=%s ip=%s", username, ip)
            self._journal.event(
                "limit_wc", outcome, now, details={"reason": "identifier blocked from this IP"}
            )
            raise OAuthError(429, "too_many_attempts", errors.BRUTE_FORCE_BLOCKED)
        if settings.config.bot_detection.is_risky(username, ip):
            log.warning("bot detection wants a CAPTCHA: username=%s ip=%s", username, ip)
            raise OAuthError(401, "requires_verification", REQUIRES_VERIFICATION)

    def login_failed(
        self, *, username: str, ip: str, connection: str, user: User | None, now: float, outcome: Outcome
    ) -> None:
        settings = self._settings.brute_force
        count = self.brute_force.record_failure(username, ip, connection, settings, now)
        left = self.suspicious_ip.record_failure(ip, self._settings.suspicious_ip, now)
        log.info("failed login: username=%s ip=%s brute_force_count=%s", username, ip, count)
        if count == settings.max_attempts:
            log.warning(
                "brute-force threshold reached: username=%s ip=%s count=%s mode=%s",
                username,
                ip,
                count,
                settings.mode,
            )
            self._journal.event(
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
                and self._outbox.may_notify(("unblock", user.user_id, ip), now, NOTICE_WINDOW_SECONDS)
            ):
                link = self._tickets.link(
                    kind="unblock", user=user, identifier=username, ip=notify_ip, now=now
                )
                self._send(user.email, "unblock", link, now)
        if 0 <= left < 1:
            log.warning("suspicious-ip throttling: ip=%s has no login attempts left", ip)
            self._journal.event(
                "limit_mu", outcome, now, details={"reason": "no login attempts left for this IP"}
            )

    def login_succeeded(self, username: str, ip: str) -> None:
        self.brute_force.clear(username, ip, self._settings.brute_force)

    def breached(self, user: User, password: str, ip: str, now: float, outcome: Outcome) -> bool:
        """Notify and log a breached password as configured; return whether ``block`` stops the login."""
        settings = self._settings.breached_password
        if not (password.startswith(BREACHED_TEST_PREFIX) and settings.enabled):
            return False
        blocks = "block" in settings.shields
        log.warning("breached password detected: user=%s ip=%s block=%s", user.user_id, ip, blocks)
        last = self._leak_events.get((user.user_id, ip))
        if last is None or now - last >= NOTICE_WINDOW_SECONDS:
            self._leak_events[(user.user_id, ip)] = now
            self._journal.event("pwd_leak", outcome, now, details={"blocked": blocks})
        if "user_notification" in settings.shields and self._outbox.may_notify(
            ("breach", user.user_id), now, NOTICE_WINDOW_SECONDS
        ):
            link = self._tickets.link(
                kind="reset_password", user=user, identifier=user.email, ip=None, now=now
            )
            self._send(user.email, "breach_alert", link, now)
        return blocks

    def _send(self, to: str, kind: EmailKind, link: str, now: float) -> None:
        self._outbox.send(Email(to=to, kind=kind, link=link, sent_at=now))
        log.info("email queued: kind=%s to=%s", kind, to)
