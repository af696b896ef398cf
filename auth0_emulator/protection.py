"""Attack-protection counters: brute-force per identifier (and IP), suspicious IP, rate limits.

Pure state with an explicit ``now``; the concerns that use them serialise access with the tenant's lock.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

from auth0_emulator.errors import RATE_LIMITED, OAuthError
from auth0_emulator.settings import PER_IDENTIFIER_AND_IP, BruteForceSettings, SuspiciousIpSettings

log = logging.getLogger("ropguard.emulator")

# A brute-force block lifts by itself 30 days after the last failed attempt
# (https://auth0.com/docs/secure/attack-protection/brute-force-protection).
BRUTE_FORCE_BLOCK_SECONDS = 30 * 24 * 3600


@dataclass
class DrainingCounter:
    """A token bucket kept as its debt ("attempts used"), so capacity may change at run time."""

    used: float = 0.0
    updated: float = 0.0

    def level(self, now: float, drain_per_second: float) -> float:
        elapsed = max(0.0, now - self.updated)
        self.used = max(0.0, self.used - elapsed * drain_per_second)
        self.updated = now
        return self.used

    def remaining(self, now: float, capacity: int, drain_per_second: float) -> float:
        return capacity - self.level(now, drain_per_second)

    def try_take(self, now: float, capacity: int, drain_per_second: float) -> bool:
        if self.remaining(now, capacity, drain_per_second) < 1:
            return False
        self.used += 1
        return True

    def next_grant_at(self, now: float, capacity: int, drain_per_second: float) -> float:
        """When one more attempt will be accepted (``now`` if one is available already)."""
        excess = self.level(now, drain_per_second) - (capacity - 1)
        return now if excess <= 0 else now + excess / drain_per_second


@dataclass(frozen=True)
class RateLimitDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


class RateLimiter:
    """Buckets of ``limit`` requests refilled evenly over ``period_seconds``, one per key."""

    def __init__(self, limit: int, period_seconds: float) -> None:
        self.limit = limit
        self._drain = limit / period_seconds
        self._buckets: dict[str, DrainingCounter] = {}

    def take(self, key: str, now: float) -> RateLimitDecision:
        bucket = self._buckets.setdefault(key, DrainingCounter(updated=now))
        allowed = bucket.try_take(now, self.limit, self._drain)
        remaining = max(0, math.floor(bucket.remaining(now, self.limit, self._drain)))
        reset_at = math.ceil(bucket.next_grant_at(now, self.limit, self._drain))
        return RateLimitDecision(allowed=allowed, limit=self.limit, remaining=remaining, reset_at=reset_at)


class TenantRateLimit:
    """The tenant-wide Authentication API budget, shared by every endpoint that spends it."""

    def __init__(self, enabled: bool, limit: int, period_seconds: int) -> None:
        self._limiter = RateLimiter(limit, period_seconds) if enabled else None

    def take(self, now: float) -> RateLimitDecision | None:
        """Spend one request (None: the tenant has no limit)."""
        if self._limiter is None:
            return None
        decision = self._limiter.take("tenant", now)
        if not decision.allowed:
            log.warning("tenant rate limit reached: limit=%s reset_at=%s", decision.limit, decision.reset_at)
        return decision

    @staticmethod
    def refuse(decision: RateLimitDecision | None) -> None:
        if decision is not None and not decision.allowed:
            raise OAuthError(429, "too_many_requests", RATE_LIMITED)


@dataclass
class FailureCount:
    count: int
    last_failure: float
    connection: str


@dataclass(frozen=True)
class BlockEntry:
    identifier: str
    ip: str | None
    connection: str


class BruteForceTracker:
    """Consecutive failed logins per identifier and attributed IP (or per identifier: account lockout)."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str | None], FailureCount] = {}

    @staticmethod
    def _key(identifier: str, ip: str, settings: BruteForceSettings) -> tuple[str, str | None]:
        return identifier.lower(), ip if settings.mode == PER_IDENTIFIER_AND_IP else None

    def _live(self, key: tuple[str, str | None], now: float) -> FailureCount | None:
        entry = self._counts.get(key)
        if entry is not None and now - entry.last_failure >= BRUTE_FORCE_BLOCK_SECONDS:
            del self._counts[key]
            return None
        return entry

    @staticmethod
    def applies(ip: str, settings: BruteForceSettings) -> bool:
        return settings.enabled and not settings.allowlist.contains(ip)

    def is_blocked(self, identifier: str, ip: str, settings: BruteForceSettings, now: float) -> bool:
        if not self.applies(ip, settings) or "block" not in settings.shields:
            return False
        entry = self._live(self._key(identifier, ip, settings), now)
        return entry is not None and entry.count >= settings.max_attempts

    def record_failure(
        self, identifier: str, ip: str, connection: str, settings: BruteForceSettings, now: float
    ) -> int:
        """Count one failure; return the new count (0 when the address is exempt)."""
        if not self.applies(ip, settings):
            return 0
        key = self._key(identifier, ip, settings)
        entry = self._live(key, now)
        if entry is None:
            entry = self._counts[key] = FailureCount(count=0, last_failure=now, connection=connection)
        entry.count += 1
        entry.last_failure = now
        return entry.count

    def count(self, identifier: str, ip: str, settings: BruteForceSettings, now: float) -> int:
        entry = self._live(self._key(identifier, ip, settings), now)
        return 0 if entry is None else entry.count

    def clear(self, identifier: str, ip: str, settings: BruteForceSettings) -> None:
        self._counts.pop(self._key(identifier, ip, settings), None)

    def clear_pair(self, identifier: str, ip: str | None) -> bool:
        return self._counts.pop((identifier.lower(), ip), None) is not None

    def clear_identifier(self, identifier: str) -> int:
        keys = [key for key in self._counts if key[0] == identifier.lower()]
        for key in keys:
            del self._counts[key]
        return len(keys)

    def blocks(self, identifier: str, settings: BruteForceSettings, now: float) -> list[BlockEntry]:
        found = []
        for key in list(self._counts):
            if key[0] != identifier.lower():
                continue
            entry = self._live(key, now)
            if entry is not None and entry.count >= settings.max_attempts:
                found.append(BlockEntry(identifier=key[0], ip=key[1], connection=entry.connection))
        return found


class SuspiciousIpThrottle:
    """Failed logins per attributed IP, all identifiers: ``max_attempts``, one back every ``rate`` ms."""

    def __init__(self) -> None:
        self._buckets: dict[str, DrainingCounter] = {}

    @staticmethod
    def applies(ip: str, settings: SuspiciousIpSettings) -> bool:
        return settings.enabled and not settings.allowlist.contains(ip)

    @staticmethod
    def _drain(settings: SuspiciousIpSettings) -> float:
        return 1000.0 / settings.pre_login.rate

    def is_throttled(self, ip: str, settings: SuspiciousIpSettings, now: float) -> bool:
        """Out of attempts, whether or not the ``block`` shield would act on it."""
        bucket = self._buckets.get(ip)
        if bucket is None or not self.applies(ip, settings):
            return False
        return bucket.remaining(now, settings.pre_login.max_attempts, self._drain(settings)) < 1

    def is_blocked(self, ip: str, settings: SuspiciousIpSettings, now: float) -> bool:
        return "block" in settings.shields and self.is_throttled(ip, settings, now)

    def record_failure(self, ip: str, settings: SuspiciousIpSettings, now: float) -> float:
        """Spend one attempt; return the attempts left (may go below 1: then the IP is throttled)."""
        if not self.applies(ip, settings):
            return math.inf
        bucket = self._buckets.setdefault(ip, DrainingCounter(updated=now))
        capacity = settings.pre_login.max_attempts
        bucket.level(now, self._drain(settings))
        bucket.used = min(bucket.used + 1, float(capacity))
        return capacity - bucket.used

    def failures_outstanding(self, ip: str, settings: SuspiciousIpSettings, now: float) -> float:
        bucket = self._buckets.get(ip)
        return 0.0 if bucket is None else bucket.level(now, self._drain(settings))

    def unblock(self, ip: str) -> bool:
        return self._buckets.pop(ip, None) is not None
