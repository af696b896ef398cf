"""Brute-force protection, suspicious-IP throttling and breached-password detection, on the model."""

from __future__ import annotations

import pytest

from auth0_emulator import EmulatorState, ManualClock
from auth0_emulator.admin import Administration
from auth0_emulator.errors import BRUTE_FORCE_BLOCKED, PASSWORD_LEAKED, SUSPICIOUS_IP_BLOCKED
from tests.emulator.conftest import USER_IP, error_of, login
from tests.fixtures.emulator import DEMO_USERS

ALICE, ALICE_PASSWORD = DEMO_USERS["alice"]
BOB, BOB_PASSWORD = DEMO_USERS["bob"]
OTHER_IP = "198.51.100.20"


def fail(state: EmulatorState, times: int, username: str = ALICE, ip: str = USER_IP) -> list[int]:
    return [login(state, username, "wrong-password", forwarded_for=ip).status for _ in range(times)]


def kinds(state: EmulatorState) -> list[tuple[str, str]]:
    return [(email.kind, email.to) for email in state.emails()]


# ---- brute force ------------------------------------------------------------------------------


def test_tenth_failure_blocks_that_user_from_that_ip_only(state: EmulatorState) -> None:
    assert fail(state, 10) == [403] * 10
    blocked = login(state, ALICE, ALICE_PASSWORD)
    assert error_of(blocked) == (429, "too_many_attempts")
    assert isinstance(blocked.body, dict)
    assert blocked.body["error_description"] == BRUTE_FORCE_BLOCKED
    assert login(state, ALICE, ALICE_PASSWORD, forwarded_for=OTHER_IP).status == 200
    assert kinds(state) == [("unblock", ALICE)]


def test_success_clears_the_consecutive_count(state: EmulatorState) -> None:
    fail(state, 9)
    assert login(state, ALICE, ALICE_PASSWORD).status == 200
    assert fail(state, 9) == [403] * 9
    assert login(state, ALICE, ALICE_PASSWORD).status == 200


def test_identifier_is_counted_case_insensitively(state: EmulatorState) -> None:
    fail(state, 5, username=ALICE.upper())
    fail(state, 5, username=ALICE)
    assert error_of(login(state, ALICE, ALICE_PASSWORD)) == (429, "too_many_attempts")


def test_unknown_identifiers_are_counted_but_nobody_is_emailed(state: EmulatorState) -> None:
    fail(state, 10, username="nobody@example.com")
    assert error_of(login(state, "nobody@example.com", "x")) == (429, "too_many_attempts")
    assert state.emails() == []


def test_account_lockout_mode_blocks_from_every_ip(state: EmulatorState) -> None:
    Administration(state).patch_attack_protection("brute-force-protection", {"mode": "count_per_identifier"})
    for i in range(10):
        fail(state, 1, ip=f"198.51.100.{i}")
    assert error_of(login(state, ALICE, ALICE_PASSWORD, forwarded_for="192.0.2.99")) == (
        429,
        "too_many_attempts",
    )


@pytest.mark.parametrize("ip", ["203.0.113.7", "2001:db8::7", "::ffff:203.0.113.8"])
def test_allowlisted_addresses_are_never_counted(state: EmulatorState, ip: str) -> None:
    admin = Administration(state)
    admin.patch_attack_protection(
        "brute-force-protection", {"allowlist": ["203.0.113.0/24", "2001:db8::/32"]}
    )
    assert fail(state, 12, ip=ip) == [403] * 12
    assert login(state, ALICE, ALICE_PASSWORD, forwarded_for=ip).status == 200


def test_block_ends_after_30_days_without_failures(state: EmulatorState, clock: ManualClock) -> None:
    fail(state, 10)
    clock.advance(30 * 24 * 3600 - 1)
    assert login(state, ALICE, ALICE_PASSWORD).status == 429
    clock.advance(1)
    assert login(state, ALICE, ALICE_PASSWORD).status == 200


def test_raising_the_threshold_lifts_the_block(state: EmulatorState) -> None:
    fail(state, 10)
    Administration(state).patch_attack_protection("brute-force-protection", {"max_attempts": 11})
    assert login(state, ALICE, ALICE_PASSWORD).status == 200


def test_without_block_shield_failures_count_but_never_block(state: EmulatorState) -> None:
    Administration(state).patch_attack_protection(
        "brute-force-protection", {"shields": ["user_notification"]}
    )
    assert fail(state, 12) == [403] * 12
    assert login(state, ALICE, ALICE_PASSWORD).status == 200


def test_unblock_link_lifts_the_block_and_notices_are_hourly(
    state: EmulatorState, clock: ManualClock
) -> None:
    fail(state, 10)
    (email,) = state.emails()
    assert email.link is not None
    ticket = email.link.split("ticket=")[1]
    assert state.passwords.follow_unblock_link(ticket).status == 200
    assert state.passwords.follow_unblock_link(ticket).status == 400  # single use
    assert login(state, ALICE, ALICE_PASSWORD).status == 200
    fail(state, 10)
    assert len(state.emails()) == 1  # second block within the hour: no second email
    state.brute_force.clear_identifier(ALICE)
    clock.advance(3600)
    fail(state, 10)
    assert kinds(state) == [("unblock", ALICE), ("unblock", ALICE)]


def test_management_api_lists_and_deletes_blocks(state: EmulatorState) -> None:
    admin = Administration(state)
    fail(state, 10)
    expected = [{"identifier": ALICE, "ip": USER_IP, "connection": "Username-Password-Authentication"}]
    assert admin.user_blocks(ALICE) == expected
    assert admin.user_blocks_by_id("auth0|alice") == expected
    admin.delete_user_blocks_by_id("auth0|alice")
    assert admin.user_blocks(ALICE) == []
    assert login(state, ALICE, ALICE_PASSWORD).status == 200


def test_password_change_lifts_every_block_of_the_user(state: EmulatorState) -> None:
    fail(state, 10)
    fail(state, 10, ip=OTHER_IP)
    assert state.passwords.change_password(
        "10.0.0.1", {"email": ALICE, "connection": "Username-Password-Authentication"}
    )
    reset = next(e for e in state.emails() if e.kind == "reset_password")
    assert reset.link is not None
    assert (
        state.passwords.complete_password_reset(reset.link.split("ticket=")[1], "a-brand-new-password").status
        == 200
    )
    assert login(state, ALICE, "a-brand-new-password").status == 200
    assert login(state, ALICE, "a-brand-new-password", forwarded_for=OTHER_IP).status == 200
    assert login(state, ALICE, ALICE_PASSWORD, forwarded_for="192.0.2.1").status == 403


# ---- suspicious IP throttling -----------------------------------------------------------------


def test_default_pre_login_limit_is_100_failures_per_ip(state: EmulatorState) -> None:
    statuses = [login(state, f"u{i}@example.com", "x").status for i in range(100)]
    assert statuses == [403] * 100
    throttled = login(state, ALICE, ALICE_PASSWORD)
    assert error_of(throttled) == (429, "too_many_attempts")
    assert isinstance(throttled.body, dict)
    assert throttled.body["error_description"] == SUSPICIOUS_IP_BLOCKED
    assert login(state, ALICE, ALICE_PASSWORD, forwarded_for=OTHER_IP).status == 200
    assert Administration(state).ip_blocked(USER_IP)
    assert not Administration(state).ip_blocked(OTHER_IP)


def test_one_attempt_is_granted_back_every_rate_ms(state: EmulatorState, clock: ManualClock) -> None:
    Administration(state).patch_attack_protection(
        "suspicious-ip-throttling", {"stage": {"pre-login": {"max_attempts": 3, "rate": 60_000}}}
    )
    assert [login(state, f"u{i}@example.com", "x").status for i in range(3)] == [403] * 3
    assert login(state, ALICE, ALICE_PASSWORD).status == 429
    clock.advance(59.9)
    assert login(state, ALICE, ALICE_PASSWORD).status == 429
    clock.advance(0.1)
    assert login(state, "u9@example.com", "x").status == 403  # the one granted attempt, spent
    assert login(state, ALICE, ALICE_PASSWORD).status == 429


def test_successes_do_not_spend_attempts(state: EmulatorState) -> None:
    Administration(state).patch_attack_protection(
        "suspicious-ip-throttling", {"stage": {"pre-login": {"max_attempts": 2, "rate": 60_000}}}
    )
    assert [login(state, ALICE, ALICE_PASSWORD).status for _ in range(5)] == [200] * 5


def test_admin_unblocks_an_ip(state: EmulatorState) -> None:
    admin = Administration(state)
    admin.patch_attack_protection("suspicious-ip-throttling", {"stage": {"pre-login": {"max_attempts": 1}}})
    login(state, "x@example.com", "x")
    assert login(state, ALICE, ALICE_PASSWORD).status == 429
    admin.unblock_ip(USER_IP)
    assert not admin.ip_blocked(USER_IP)
    assert login(state, ALICE, ALICE_PASSWORD).status == 200


def test_suspicious_ip_allowlist(state: EmulatorState) -> None:
    admin = Administration(state)
    admin.patch_attack_protection(
        "suspicious-ip-throttling", {"allowlist": [USER_IP], "stage": {"pre-login": {"max_attempts": 1}}}
    )
    assert [login(state, f"u{i}@example.com", "x").status for i in range(3)] == [403] * 3
    assert login(state, ALICE, ALICE_PASSWORD).status == 200


# ---- breached passwords -----------------------------------------------------------------------


def test_breached_password_is_refused_and_the_user_alerted_hourly(
    state: EmulatorState, clock: ManualClock
) -> None:
    refused = login(state, BOB, BOB_PASSWORD)
    assert error_of(refused) == (401, "password_leaked")
    assert isinstance(refused.body, dict)
    assert refused.body["error_description"] == PASSWORD_LEAKED
    login(state, BOB, BOB_PASSWORD)
    assert kinds(state) == [("breach_alert", BOB)]
    clock.advance(3600)
    login(state, BOB, BOB_PASSWORD)
    assert kinds(state) == [("breach_alert", BOB), ("breach_alert", BOB)]


def test_wrong_password_with_the_test_prefix_is_just_wrong(state: EmulatorState) -> None:
    assert error_of(login(state, BOB, "AUTH0-TEST-not-his")) == (403, "invalid_grant")
    assert state.emails() == []


def test_breach_without_block_shield_logs_in_and_alerts(state: EmulatorState) -> None:
    Administration(state).patch_attack_protection(
        "breached-password-detection", {"shields": ["user_notification"]}
    )
    assert login(state, BOB, BOB_PASSWORD).status == 200
    assert kinds(state) == [("breach_alert", BOB)]


def test_breach_detection_disabled(state: EmulatorState) -> None:
    Administration(state).patch_attack_protection("breached-password-detection", {"enabled": False})
    assert login(state, BOB, BOB_PASSWORD).status == 200
    assert state.emails() == []


def test_reset_link_from_the_breach_alert_sets_a_clean_password(state: EmulatorState) -> None:
    login(state, BOB, BOB_PASSWORD)
    (alert,) = state.emails()
    assert alert.link is not None
    assert (
        state.passwords.complete_password_reset(alert.link.split("ticket=")[1], "bob-new-and-clean-2").status
        == 200
    )
    assert login(state, BOB, "bob-new-and-clean-2").status == 200


def test_breach_is_checked_before_mfa_and_after_admin_block(state: EmulatorState) -> None:
    user = state.directory.user_by_id("auth0|bob")
    assert user is not None
    user.blocked = True
    assert error_of(login(state, BOB, BOB_PASSWORD)) == (401, "unauthorized")
