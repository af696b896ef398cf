"""What the load run sends, and what each request must get back, decided before anything is sent.

Each simulated end user (one loopback source address) sends its logins one after another, and
every rule of the demo tenant that decides an answer is keyed by address (brute force: user and
address; suspicious-IP throttling: address), so replaying the tenant's rules per address gives
the exact answer of every request, however the addresses interleave.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field

#: The demo tenant's users (docs/emulator.md) and the answer their right password gets.
PASSWORDS = {
    "alice@example.com": "correct-horse-battery-staple",
    "bob@example.com": "AUTH0-TEST-bob-breached-1",
    "carol@example.com": "carol-has-mfa-9",
    "dave@example.com": "dave-is-blocked-0",
}
RIGHT_PASSWORD_ANSWERS: dict[str, tuple[int, str | None]] = {
    "alice@example.com": (200, None),
    "bob@example.com": (401, "password_leaked"),
    "carol@example.com": (403, "mfa_required"),
    "dave@example.com": (401, "unauthorized"),
}
UNKNOWN_USER = "nobody@example.com"
WRONG_PASSWORDS = tuple(f"load-wrong-password-{index}" for index in range(8))
BRUTE_FORCE_MAX_ATTEMPTS = 10  # the demo tenant's brute_force_protection.max_attempts
SUSPICIOUS_IP_MAX_FAILURES = 100  # its suspicious_ip_throttling pre-login max_attempts
#: Share of each kind among ordinary logins (the rest of a crossing client's burst is extra).
MIX = {"success": 45, "wrong": 25, "breached": 10, "mfa": 10, "blocked": 10}
KIND_USER = {
    "success": "alice@example.com",
    "breached": "bob@example.com",
    "mfa": "carol@example.com",
    "blocked": "dave@example.com",
}


@dataclass(frozen=True)
class Attempt:
    username: str
    password: str = field(repr=False)
    status: int
    error: str | None


@dataclass
class TenantRules:
    """The demo tenant's attack protection as seen from one address (docs/emulator.md)."""

    failures: Counter[str] = field(default_factory=Counter)
    address_failures: int = 0
    blocks: list[str] = field(default_factory=list)

    def answer(self, username: str, password: str) -> tuple[int, str | None]:
        key = username.lower()
        if self.address_failures >= SUSPICIOUS_IP_MAX_FAILURES:
            return 429, "too_many_attempts"
        if self.failures[key] >= BRUTE_FORCE_MAX_ATTEMPTS:
            return 429, "too_many_attempts"  # refused attempts are not counted
        if PASSWORDS.get(key) != password:
            self.failures[key] += 1
            self.address_failures += 1
            if self.failures[key] == BRUTE_FORCE_MAX_ATTEMPTS:
                self.blocks.append(key)
            return 403, "invalid_grant"
        self.failures[key] = 0  # a right password clears the count, even when refused afterwards
        return RIGHT_PASSWORD_ANSWERS[key]


@dataclass
class ClientPlan:
    """One end user: a source address and its logins in order, each with its expected answer."""

    address: str
    attempts: list[Attempt]
    rules: TenantRules

    @property
    def blocked_users(self) -> list[str]:
        return list(self.rules.blocks)


def address_of(index: int) -> str:
    """127.0.1.1, 127.0.1.2, … (250 per /24, then the next one)."""
    return f"127.0.{1 + index // 250}.{1 + index % 250}"


def build_plan(clients: int, logins: int, seed: int = 7, crossing_every: int = 5) -> list[ClientPlan]:
    """``logins`` attempts over ``clients`` addresses; every ``crossing_every``-th client also
    crosses the brute-force threshold for alice on purpose (10 failures, then refused)."""
    rng = random.Random(seed)
    plans = []
    for index in range(clients):
        count = logins // clients + (1 if index < logins % clients else 0)
        crossing = crossing_every > 0 and index % crossing_every == 0
        plans.append(_client_plan(address_of(index), count, crossing, rng))
    return plans


def _client_plan(address: str, count: int, crossing: bool, rng: random.Random) -> ClientPlan:
    rules = TenantRules()
    attempts: list[Attempt] = []
    burst = BRUTE_FORCE_MAX_ATTEMPTS + 2  # the threshold, then two refused attempts
    burst_at = rng.randrange(count - burst + 1) if crossing and count >= burst else -1
    while len(attempts) < count:
        if len(attempts) == burst_at:
            pairs = [("alice@example.com", rng.choice(WRONG_PASSWORDS)) for _ in range(burst)]
        else:
            pairs = [_ordinary(rules, rng)]
        attempts.extend(Attempt(user, password, *rules.answer(user, password)) for user, password in pairs)
    return ClientPlan(address, attempts, rules)


def _ordinary(rules: TenantRules, rng: random.Random) -> tuple[str, str]:
    """One login of the mix; ordinary wrong passwords stay under both thresholds (a success
    takes their place when one would be reached), so only the deliberate burst crosses one."""
    kind = rng.choices(list(MIX), weights=list(MIX.values()))[0]
    if kind == "wrong":
        candidates = [
            user for user in (*PASSWORDS, UNKNOWN_USER) if rules.failures[user] < BRUTE_FORCE_MAX_ATTEMPTS - 1
        ]
        room = SUSPICIOUS_IP_MAX_FAILURES - BRUTE_FORCE_MAX_ATTEMPTS - 2  # keep room for one burst
        if candidates and rules.address_failures < room:
            return rng.choice(candidates), rng.choice(WRONG_PASSWORDS)
        kind = "success"
    username = KIND_USER[kind]
    return username, PASSWORDS[username]


def expected_records(plans: list[ClientPlan]) -> Counter[tuple[str, str, int, str | None]]:
    """(attributed IP, username, status, error) of every token request Auth0 should record."""
    return Counter(
        (plan.address, attempt.username, attempt.status, attempt.error)
        for plan in plans
        for attempt in plan.attempts
    )


def breached_users(plans: list[ClientPlan]) -> set[str]:
    return {
        attempt.username for plan in plans for attempt in plan.attempts if attempt.error == "password_leaked"
    }


def unblock_emails(plans: list[ClientPlan]) -> Counter[str]:
    """One unblock email per (known user, address) that crossed the threshold."""
    return Counter(user for plan in plans for user in plan.blocked_users if user in PASSWORDS)
