"""Auth0's flood verdicts, remembered per container so a blocked caller stops spending the tenant's budget.

Auth0's rate limit is per tenant, and a request Auth0 refuses because the caller is already blocked
still spends it. So when Auth0 says ``429 too_many_attempts`` (attack protection blocked an address,
or a user from an address) or ``429 too_many_requests`` (a rate limit, until ``X-RateLimit-Reset``),
this memory keeps that answer and gives it back for the requests it covers, and the caller answers
them without calling Auth0.

What it never does: make a verdict up. An entry exists only because Auth0 gave that answer; it is
keyed no wider than Auth0's own counter, told apart by Auth0's wording (suspicious-IP throttling
blocks the address, the global rate limit every call; any other or unknown wording is taken as the
narrower user-and-address limit); and it lives at most one window (a rate limit: until Auth0's reset
time, capped), so a block an administrator lifts is seen again at most one window later. Subjects
(usernames, MFA tokens) are kept only as HMAC-SHA256 digests under a random key of this container;
entries live in an LRU of bounded size, so a flood of addresses costs memory up to the limit and
then evicts the least recently used verdicts (which Auth0 then answers once more).
"""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import NamedTuple

TOO_MANY_ATTEMPTS = "too_many_attempts"
TOO_MANY_REQUESTS = "too_many_requests"

#: How Auth0 words suspicious-IP throttling (the whole address is blocked); any other
#: ``too_many_attempts`` is taken as brute-force protection (one user from one address).
#: https://auth0.com/docs/secure/attack-protection/suspicious-ip-throttling
SUSPICIOUS_IP_WORDING = "suspicious login behavior"
#: How Auth0 words its tenant-wide ("global") rate limit bucket; its other buckets are keyed by user
#: and address or by MFA session, so any other ``too_many_requests`` covers only its caller.
#: https://auth0.com/docs/troubleshoot/customer-support/operational-policies/rate-limit-policy
GLOBAL_LIMIT_WORDING = "global limit"

DEFAULT_WINDOW_SECONDS = 60.0
DEFAULT_MAX_ENTRIES = 10_000
DEFAULT_MAX_RATE_LIMIT_SECONDS = 60.0
RETRY_AFTER = "Retry-After"
_DIGEST_BYTES = 16


class Scope(StrEnum):
    """Whom a remembered verdict covers."""

    ADDRESS = "address"  # suspicious-IP throttling: every user from that address
    USER_ADDRESS = "user-and-address"  # brute force, a per-user rate limit: that user from that address
    RATE_LIMIT = "tenant"  # the tenant's global rate limit: every call until the reset time


class Verdict(NamedTuple):
    """The answer ropguard gave for Auth0's verdict, kept to be given again unchanged."""

    status: int
    error: str
    description: str
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, status: int, error: str, description: str, headers: Mapping[str, str]) -> Verdict:
        return cls(status, error, description, tuple(headers.items()))


class Shed(NamedTuple):
    """A request answered from memory: which verdict covered it, and the answer to give."""

    scope: Scope
    verdict: Verdict


class _Entry(NamedTuple):
    verdict: Verdict
    until: float
    counts_down: bool  # a rate limit: ``Retry-After`` tells the seconds left

    def answer(self, now: float) -> Verdict:
        return _with_retry_after(self.verdict, self.until - now) if self.counts_down else self.verdict


_Key = tuple[str, str, bytes | None]  # (family, address, subject digest or None for the whole address)


def reset_time(header: str | None) -> float | None:
    """``X-RateLimit-Reset`` (UTC epoch seconds) as a number, or None when absent or not a number."""
    if header is None:
        return None
    try:
        value = float(header)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def scope_of(error: str, description: str) -> Scope | None:
    """Which verdict Auth0's answer is, told apart by Auth0's wording; None: not a verdict to keep."""
    wording = description.lower()
    if error == TOO_MANY_REQUESTS:
        return Scope.RATE_LIMIT if GLOBAL_LIMIT_WORDING in wording else Scope.USER_ADDRESS
    if error == TOO_MANY_ATTEMPTS:
        return Scope.ADDRESS if SUSPICIOUS_IP_WORDING in wording else Scope.USER_ADDRESS
    return None


class VerdictMemory:
    """Per-container memory of Auth0's blocks and rate limit; ``clock`` is UTC epoch seconds.

    ``family`` keeps callers apart (a login's address block does not cover the MFA routes);
    the tenant's global rate limit covers every family, as it covers every call to Auth0.
    """

    def __init__(
        self,
        *,
        window_seconds: float = DEFAULT_WINDOW_SECONDS,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_rate_limit_seconds: float = DEFAULT_MAX_RATE_LIMIT_SECONDS,
        clock: Callable[[], float] = time.time,
        key: bytes | None = None,
    ) -> None:
        if window_seconds < 0 or max_rate_limit_seconds < 0 or max_entries < 1:
            raise ValueError("windows must be >= 0 and max_entries >= 1")
        self.window_seconds = window_seconds
        self.max_entries = max_entries
        self.max_rate_limit_seconds = max_rate_limit_seconds
        self._clock = clock
        self._key = key if key is not None else secrets.token_bytes(32)
        self._entries: OrderedDict[_Key, _Entry] = OrderedDict()
        self._rate_limit: _Entry | None = None
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Remembered blocks (the rate limit is not counted), expired ones included until touched."""
        return len(self._entries)

    def __repr__(self) -> str:
        return f"VerdictMemory(entries={len(self._entries)}, window_seconds={self.window_seconds:g})"

    def _digest(self, subject: str) -> bytes:
        return hmac.new(self._key, subject.encode("utf-8"), hashlib.sha256).digest()[:_DIGEST_BYTES]

    def shed(self, family: str, address: str, subject: str | None) -> Shed | None:
        """The remembered answer covering this request, or None: then Auth0 must be asked."""
        now = self._clock()
        with self._lock:
            limited = self._rate_limit
            if limited is not None:
                if now < limited.until:
                    return Shed(Scope.RATE_LIMIT, limited.answer(now))
                self._rate_limit = None
            keys: list[tuple[_Key, Scope]] = [((family, address, None), Scope.ADDRESS)]
            if subject is not None:
                keys.append(((family, address, self._digest(subject)), Scope.USER_ADDRESS))
            for key, scope in keys:
                entry = self._entries.get(key)
                if entry is None:
                    continue
                if now >= entry.until:
                    del self._entries[key]
                    continue
                self._entries.move_to_end(key)
                return Shed(scope, entry.answer(now))
        return None

    def remember(
        self,
        family: str,
        address: str,
        subject: str | None,
        verdict: Verdict,
        *,
        rate_limit_reset: str | None = None,
    ) -> Scope | None:
        """Keep Auth0's verdict if it is one; returns whom it now covers (None: nothing kept).

        A ``too_many_attempts`` is kept for the window. A ``too_many_requests`` is kept until
        ``rate_limit_reset`` (Auth0's ``X-RateLimit-Reset``), at most ``max_rate_limit_seconds``,
        and not at all without it.
        """
        scope = scope_of(verdict.error, verdict.description)
        if scope is None:
            return None
        now = self._clock()
        counts_down = verdict.error == TOO_MANY_REQUESTS
        if counts_down:
            reset = reset_time(rate_limit_reset)
            until = now if reset is None else min(reset, now + self.max_rate_limit_seconds)
        else:
            until = now + self.window_seconds
        if until <= now:
            return None
        entry = _Entry(verdict, until, counts_down)
        if scope is Scope.RATE_LIMIT:
            with self._lock:
                self._rate_limit = entry
            return scope
        if scope is Scope.ADDRESS:
            key: _Key = (family, address, None)
        elif subject is None:
            return None  # a verdict on one user we cannot name: keep nothing rather than the address
        else:
            key = (family, address, self._digest(subject))
        with self._lock:
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return scope


def _with_retry_after(verdict: Verdict, seconds: float) -> Verdict:
    """The rate-limit answer with ``Retry-After`` counting down to the remembered reset time."""
    value = str(max(1, math.ceil(seconds)))
    kept = tuple((name, value if name.lower() == "retry-after" else old) for name, old in verdict.headers)
    if not any(name.lower() == "retry-after" for name, _ in kept):
        kept += ((RETRY_AFTER, value),)
    return verdict._replace(headers=kept)
