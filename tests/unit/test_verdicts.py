"""ropguard.verdicts: Auth0's blocks and rate limit remembered per container, never made up."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ropguard.verdicts import (
    Scope,
    Shed,
    Verdict,
    VerdictMemory,
    reset_time,
    scope_of,
)

# Auth0's wording (https://auth0.com/docs/secure/attack-protection/*), as the emulator answers it.
SUSPICIOUS_IP = Verdict(
    429,
    "too_many_attempts",
    "We have detected suspicious login behavior and further attempts will be blocked. "
    "Please contact the administrator.",
)
BRUTE_FORCE = Verdict(
    429,
    "too_many_attempts",
    "Your account has been blocked after multiple consecutive login attempts. "
    "We've sent you an email with instructions on how to unblock it.",
)
RATE_LIMITED = Verdict(
    429, "too_many_requests", "Global limit has been reached", (("Retry-After", "7"), ("X-Extra", "kept"))
)
LOGIN = "login"
ATTACKER = "203.0.113.9"
OTHER = "198.51.100.4"
ALICE = "alice@example.com"
BOB = "bob@example.com"


class Clock:
    """Epoch seconds that a test moves."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def memory(clock: Clock) -> VerdictMemory:
    return VerdictMemory(window_seconds=60, max_entries=100, max_rate_limit_seconds=60, clock=clock)


# -- which verdict is which -----------------------------------------------------------------------


def test_auth0s_wording_tells_an_address_block_from_a_user_block() -> None:
    assert scope_of(SUSPICIOUS_IP.error, SUSPICIOUS_IP.description) is Scope.ADDRESS
    assert scope_of(BRUTE_FORCE.error, BRUTE_FORCE.description) is Scope.USER_ADDRESS
    assert scope_of(RATE_LIMITED.error, RATE_LIMITED.description) is Scope.RATE_LIMIT


def test_a_rate_limit_not_worded_as_the_global_one_covers_only_its_caller() -> None:
    """Auth0's other buckets are per user and address (logins) or per MFA session."""
    assert scope_of("too_many_requests", "Too many requests.") is Scope.USER_ADDRESS
    assert scope_of("too_many_requests", "") is Scope.USER_ADDRESS


def test_an_unknown_too_many_attempts_wording_is_the_narrower_block() -> None:
    assert scope_of("too_many_attempts", "Too many failed MFA attempts. Try again later.") is (
        Scope.USER_ADDRESS
    )
    assert scope_of("too_many_attempts", "") is Scope.USER_ADDRESS


@pytest.mark.parametrize(
    "error",
    ["invalid_grant", "password_leaked", "unauthorized", "mfa_required", "access_denied", "slow_down"],
)
def test_other_answers_are_not_verdicts(memory: VerdictMemory, error: str) -> None:
    verdict = Verdict(403, error, "We have detected suspicious login behavior")
    assert scope_of(error, verdict.description) is None
    assert memory.remember(LOGIN, ATTACKER, ALICE, verdict) is None
    assert memory.shed(LOGIN, ATTACKER, ALICE) is None
    assert len(memory) == 0


# -- address blocks (suspicious-IP throttling) ----------------------------------------------------


def test_an_address_block_covers_every_user_from_that_address(memory: VerdictMemory) -> None:
    assert memory.remember(LOGIN, ATTACKER, ALICE, SUSPICIOUS_IP) is Scope.ADDRESS
    for user in (ALICE, BOB, "nobody@example.com", None):
        assert memory.shed(LOGIN, ATTACKER, user) == Shed(Scope.ADDRESS, SUSPICIOUS_IP)


def test_an_address_block_covers_no_other_address_and_no_other_family(memory: VerdictMemory) -> None:
    memory.remember(LOGIN, ATTACKER, ALICE, SUSPICIOUS_IP)
    assert memory.shed(LOGIN, OTHER, ALICE) is None
    assert memory.shed("mfa", ATTACKER, ALICE) is None


# -- user-and-address blocks (brute-force protection) ---------------------------------------------


def test_a_user_block_covers_that_user_from_that_address_only(memory: VerdictMemory) -> None:
    assert memory.remember(LOGIN, ATTACKER, ALICE, BRUTE_FORCE) is Scope.USER_ADDRESS
    assert memory.shed(LOGIN, ATTACKER, ALICE) == Shed(Scope.USER_ADDRESS, BRUTE_FORCE)
    assert memory.shed(LOGIN, ATTACKER, BOB) is None
    assert memory.shed(LOGIN, ATTACKER, None) is None
    assert memory.shed(LOGIN, OTHER, ALICE) is None
    assert memory.shed("mfa", ATTACKER, ALICE) is None


def test_a_user_block_without_a_user_to_name_is_not_kept(memory: VerdictMemory) -> None:
    assert memory.remember(LOGIN, ATTACKER, None, BRUTE_FORCE) is None
    assert memory.shed(LOGIN, ATTACKER, ALICE) is None
    assert len(memory) == 0


def test_subjects_are_compared_exactly_as_given(memory: VerdictMemory) -> None:
    """Normalising a username is the caller's business: the memory never widens a block itself."""
    memory.remember(LOGIN, ATTACKER, ALICE, BRUTE_FORCE)
    assert memory.shed(LOGIN, ATTACKER, ALICE.upper()) is None


def test_an_address_block_is_answered_before_a_user_block(memory: VerdictMemory) -> None:
    memory.remember(LOGIN, ATTACKER, ALICE, BRUTE_FORCE)
    memory.remember(LOGIN, ATTACKER, BOB, SUSPICIOUS_IP)
    assert memory.shed(LOGIN, ATTACKER, ALICE) == Shed(Scope.ADDRESS, SUSPICIOUS_IP)


def test_the_answer_given_back_is_the_one_kept(memory: VerdictMemory) -> None:
    verdict = Verdict(429, "too_many_attempts", "Blocked.", (("X-RateLimit-Limit", "100"),))
    memory.remember(LOGIN, ATTACKER, ALICE, verdict)
    shed = memory.shed(LOGIN, ATTACKER, ALICE)
    assert shed is not None
    assert shed.verdict == verdict
    assert Verdict.of(429, "e", "d", {"A": "1", "B": "2"}).headers == (("A", "1"), ("B", "2"))


# -- the window -----------------------------------------------------------------------------------


def test_a_block_lasts_one_window_from_auth0s_answer(memory: VerdictMemory, clock: Clock) -> None:
    memory.remember(LOGIN, ATTACKER, ALICE, SUSPICIOUS_IP)
    clock.now += 59.9
    assert memory.shed(LOGIN, ATTACKER, BOB) is not None  # a shed answer does not extend it
    clock.now += 0.1
    assert memory.shed(LOGIN, ATTACKER, BOB) is None
    assert len(memory) == 0  # the expired entry is gone once touched


def test_auth0s_next_verdict_starts_a_new_window(memory: VerdictMemory, clock: Clock) -> None:
    memory.remember(LOGIN, ATTACKER, ALICE, BRUTE_FORCE)
    clock.now += 60
    assert memory.shed(LOGIN, ATTACKER, ALICE) is None
    memory.remember(LOGIN, ATTACKER, ALICE, BRUTE_FORCE)
    clock.now += 30
    assert memory.shed(LOGIN, ATTACKER, ALICE) is not None


def test_a_window_of_zero_keeps_no_block(clock: Clock) -> None:
    memory = VerdictMemory(window_seconds=0, clock=clock)
    assert memory.remember(LOGIN, ATTACKER, ALICE, SUSPICIOUS_IP) is None
    assert memory.shed(LOGIN, ATTACKER, ALICE) is None


@pytest.mark.parametrize(
    "options",
    [{"window_seconds": -1}, {"max_entries": 0}, {"max_rate_limit_seconds": -1}],
)
def test_impossible_limits_are_refused(options: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="must be"):
        VerdictMemory(**options)


# -- bounded memory -------------------------------------------------------------------------------


def test_the_least_recently_used_block_makes_room(clock: Clock) -> None:
    memory = VerdictMemory(max_entries=2, clock=clock)
    memory.remember(LOGIN, "192.0.2.1", None, SUSPICIOUS_IP)
    memory.remember(LOGIN, "192.0.2.2", None, SUSPICIOUS_IP)
    assert memory.shed(LOGIN, "192.0.2.1", None) is not None  # now the most recently used
    memory.remember(LOGIN, "192.0.2.3", None, SUSPICIOUS_IP)
    assert len(memory) == 2
    assert memory.shed(LOGIN, "192.0.2.2", None) is None  # evicted: Auth0 is asked again
    assert memory.shed(LOGIN, "192.0.2.1", None) is not None
    assert memory.shed(LOGIN, "192.0.2.3", None) is not None


def test_a_flood_of_addresses_never_grows_past_the_limit(clock: Clock) -> None:
    memory = VerdictMemory(max_entries=50, clock=clock)
    for i in range(1000):
        memory.remember(LOGIN, f"10.0.{i // 256}.{i % 256}", f"user{i}", BRUTE_FORCE)
    assert len(memory) == 50


def test_remembering_the_same_block_again_takes_no_more_room(memory: VerdictMemory) -> None:
    for _ in range(5):
        memory.remember(LOGIN, ATTACKER, ALICE, BRUTE_FORCE)
    assert len(memory) == 1


# -- usernames only as keyed hashes ---------------------------------------------------------------


def _strings_and_bytes(value: Any, seen: set[int]) -> Iterator[str | bytes]:
    if id(value) in seen:
        return
    seen.add(id(value))
    if isinstance(value, (str, bytes)):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings_and_bytes(key, seen)
            yield from _strings_and_bytes(item, seen)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _strings_and_bytes(item, seen)
    elif hasattr(value, "__slots__"):
        for name in value.__slots__:
            yield from _strings_and_bytes(getattr(value, name, None), seen)


def test_usernames_are_kept_only_as_keyed_hashes(memory: VerdictMemory) -> None:
    username = "victim-user-9f3a@example.com"
    memory.remember(LOGIN, ATTACKER, username, BRUTE_FORCE)
    held = list(_strings_and_bytes(vars(memory), set()))
    assert any(isinstance(item, bytes) and len(item) == 16 for item in held)  # the digest is there
    for item in held:
        text = item.decode("latin-1") if isinstance(item, bytes) else item
        assert username not in text
        assert username.encode() not in (item if isinstance(item, bytes) else b"")
    assert username not in repr(memory)


def test_each_container_keys_its_hashes_with_its_own_random_key(clock: Clock) -> None:
    first, second = VerdictMemory(clock=clock), VerdictMemory(clock=clock)
    assert first._digest(ALICE) != second._digest(ALICE)
    keyed = VerdictMemory(clock=clock, key=b"k" * 32)
    assert keyed._digest(ALICE) == VerdictMemory(clock=clock, key=b"k" * 32)._digest(ALICE)
    assert keyed._digest(ALICE) != keyed._digest(BOB)


# -- the tenant's rate limit ----------------------------------------------------------------------


def test_a_rate_limit_covers_every_call_until_auth0s_reset_time(memory: VerdictMemory, clock: Clock) -> None:
    reset = clock.now + 7
    assert memory.remember(LOGIN, ATTACKER, ALICE, RATE_LIMITED, rate_limit_reset=str(int(reset))) is (
        Scope.RATE_LIMIT
    )
    for family, address, user in ((LOGIN, OTHER, BOB), ("mfa", ATTACKER, None), ("refresh", OTHER, "x")):
        shed = memory.shed(family, address, user)
        assert shed is not None
        assert shed.scope is Scope.RATE_LIMIT
    clock.now = reset
    assert memory.shed(LOGIN, OTHER, BOB) is None


def test_retry_after_counts_down_to_the_reset_time(memory: VerdictMemory, clock: Clock) -> None:
    memory.remember(LOGIN, ATTACKER, ALICE, RATE_LIMITED, rate_limit_reset=str(clock.now + 7))
    clock.now += 2.5
    shed = memory.shed(LOGIN, OTHER, BOB)
    assert shed is not None
    assert shed.verdict == Verdict(
        429, "too_many_requests", "Global limit has been reached", (("Retry-After", "5"), ("X-Extra", "kept"))
    )
    clock.now += 4.4
    shed = memory.shed(LOGIN, OTHER, BOB)
    assert shed is not None
    assert dict(shed.verdict.headers)["Retry-After"] == "1"  # never 0 while still shed


def test_retry_after_is_added_when_the_kept_answer_had_none(memory: VerdictMemory, clock: Clock) -> None:
    bare = Verdict(429, "too_many_requests", "Global limit has been reached")
    memory.remember(LOGIN, ATTACKER, ALICE, bare, rate_limit_reset=str(clock.now + 3))
    shed = memory.shed(LOGIN, ATTACKER, ALICE)
    assert shed is not None
    assert shed.verdict.headers == (("Retry-After", "3"),)


def test_a_far_reset_time_is_capped(memory: VerdictMemory, clock: Clock) -> None:
    memory.remember(LOGIN, ATTACKER, ALICE, RATE_LIMITED, rate_limit_reset=str(clock.now + 3600))
    shed = memory.shed(LOGIN, OTHER, BOB)
    assert shed is not None
    assert dict(shed.verdict.headers)["Retry-After"] == "60"
    clock.now += 60
    assert memory.shed(LOGIN, OTHER, BOB) is None


@pytest.mark.parametrize("reset", [None, "", "soon", "nan", "inf", "-5", "1800000000"])
def test_a_rate_limit_without_a_future_reset_is_not_kept(memory: VerdictMemory, reset: str | None) -> None:
    assert memory.remember(LOGIN, ATTACKER, ALICE, RATE_LIMITED, rate_limit_reset=reset) is None
    assert memory.shed(LOGIN, ATTACKER, ALICE) is None


def test_a_rate_limit_is_answered_before_a_block(memory: VerdictMemory, clock: Clock) -> None:
    """Auth0 checks its rate limit before attack protection, and so does the memory."""
    memory.remember(LOGIN, ATTACKER, ALICE, SUSPICIOUS_IP)
    memory.remember(LOGIN, ATTACKER, ALICE, RATE_LIMITED, rate_limit_reset=str(clock.now + 5))
    shed = memory.shed(LOGIN, ATTACKER, ALICE)
    assert shed is not None
    assert shed.scope is Scope.RATE_LIMIT
    clock.now += 5
    assert memory.shed(LOGIN, ATTACKER, ALICE) == Shed(Scope.ADDRESS, SUSPICIOUS_IP)


def test_a_rate_limit_is_kept_even_with_blocks_switched_off(clock: Clock) -> None:
    """The window is for attack protection; the rate limit has its own end, Auth0's reset time."""
    memory = VerdictMemory(window_seconds=0, clock=clock)
    assert memory.remember(LOGIN, ATTACKER, ALICE, RATE_LIMITED, rate_limit_reset=str(clock.now + 5)) is (
        Scope.RATE_LIMIT
    )


def test_a_rate_limit_of_zero_seconds_keeps_nothing(clock: Clock) -> None:
    memory = VerdictMemory(max_rate_limit_seconds=0, clock=clock)
    assert memory.remember(LOGIN, ATTACKER, ALICE, RATE_LIMITED, rate_limit_reset=str(clock.now + 5)) is None


@pytest.mark.parametrize(
    ("header", "expected"),
    [(None, None), ("", None), ("12x", None), ("nan", None), ("-inf", None), ("17", 17.0), ("17.5", 17.5)],
)
def test_reset_time_reads_auth0s_header(header: str | None, expected: float | None) -> None:
    assert reset_time(header) == expected


def test_a_callers_own_rate_limit_covers_that_caller_until_the_reset_time(
    memory: VerdictMemory, clock: Clock
) -> None:
    own = Verdict(429, "too_many_requests", "Too many logins for this user.", (("Retry-After", "6"),))
    assert memory.remember(LOGIN, ATTACKER, ALICE, own, rate_limit_reset=str(clock.now + 6)) is (
        Scope.USER_ADDRESS
    )
    clock.now += 2
    assert memory.shed(LOGIN, ATTACKER, ALICE) == Shed(
        Scope.USER_ADDRESS,
        Verdict(429, "too_many_requests", "Too many logins for this user.", (("Retry-After", "4"),)),
    )
    assert memory.shed(LOGIN, ATTACKER, BOB) is None
    assert memory.shed(LOGIN, OTHER, ALICE) is None
    clock.now += 4
    assert memory.shed(LOGIN, ATTACKER, ALICE) is None


def test_a_callers_own_rate_limit_needs_a_caller_and_a_reset_time(
    memory: VerdictMemory, clock: Clock
) -> None:
    own = Verdict(429, "too_many_requests", "Too many requests.")
    assert memory.remember(LOGIN, ATTACKER, None, own, rate_limit_reset=str(clock.now + 6)) is None
    assert memory.remember(LOGIN, ATTACKER, ALICE, own) is None
    assert len(memory) == 0
