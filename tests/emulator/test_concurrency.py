"""Many threads at once: every attempt is counted and recorded exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from auth0_emulator import EmulatorServer, EmulatorState
from auth0_emulator.admin import Administration
from tests.emulator.conftest import USER_IP, login
from tests.fixtures.emulator import DEMO_AUDIENCE, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_USERS

THREADS = 16
PER_THREAD = 25


def test_model_counts_every_failure_under_contention(state: EmulatorState) -> None:
    admin = Administration(state)
    admin.patch_attack_protection("brute-force-protection", {"max_attempts": 100})
    admin.patch_attack_protection(
        "suspicious-ip-throttling", {"stage": {"pre-login": {"max_attempts": 100_000}}}
    )

    def attack(worker: int) -> list[int]:
        return [login(state, f"user{worker}@example.com", "wrong").status for _ in range(PER_THREAD)]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(attack, range(THREADS)))
    assert all(statuses == [403] * PER_THREAD for statuses in results)
    now = state.clock.now()
    settings = state.brute_force_settings
    for worker in range(THREADS):
        assert state.brute_force.count(f"user{worker}@example.com", USER_IP, settings, now) == PER_THREAD
    outstanding = state.suspicious_ip.failures_outstanding(USER_IP, state.suspicious_ip_settings, now)
    assert outstanding == THREADS * PER_THREAD
    assert len(state.token_requests()) == THREADS * PER_THREAD


def test_racing_on_one_user_loses_no_count(state: EmulatorState) -> None:
    """Attempts racing past the threshold may all get 403, but each 403 is counted."""
    alice, password = DEMO_USERS["alice"]
    with ThreadPoolExecutor(THREADS) as pool:
        statuses = list(pool.map(lambda _: login(state, alice, "wrong").status, range(40)))
    failures = statuses.count(403)
    assert failures >= 10
    assert failures + statuses.count(429) == 40
    now = state.clock.now()
    assert state.brute_force.count(alice, USER_IP, state.brute_force_settings, now) == failures
    assert login(state, alice, password).status == 429


@pytest.mark.integration
def test_http_hammer_records_every_request(manual_server: EmulatorServer) -> None:
    alice, password = DEMO_USERS["alice"]
    body = {
        "grant_type": "password",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "username": alice,
        "password": password,
        "audience": DEMO_AUDIENCE,
    }

    def worker(index: int) -> list[int]:
        headers = {"auth0-forwarded-for": f"198.51.100.{index}"}
        with httpx.Client(base_url=manual_server.base_url, timeout=30) as client:  # one keep-alive connection
            return [
                client.post("/oauth/token", json=body, headers=headers).status_code for _ in range(PER_THREAD)
            ]

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(worker, range(THREADS)))
    assert all(statuses == [200] * PER_THREAD for statuses in results)
    records = manual_server.state.token_requests()
    assert len(records) == THREADS * PER_THREAD
    by_ip: dict[str, int] = {}
    for record in records:
        by_ip[record["attributed_ip"]] = by_ip.get(record["attributed_ip"], 0) + 1
    assert by_ip == {f"198.51.100.{i}": PER_THREAD for i in range(THREADS)}
