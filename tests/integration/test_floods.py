"""Floods through the offline stack: an address Auth0 has blocked stops spending the tenant's budget.

Auth0's rate limit is per tenant, and a request Auth0 refuses because its sender is already blocked
still spends it. The functions remember Auth0's ``429 too_many_attempts`` (the whole address after
suspicious-IP throttling, one user from one address after brute-force protection) for a window, and
its ``429 too_many_requests`` until ``X-RateLimit-Reset``, and answer what those cover themselves,
with Auth0's own answer. Each worker of a function is a container with its own memory, so each may
ask Auth0 once more before it knows: the bounds below allow one call per worker.

What Auth0 saw is the emulator's record of token requests; every client address is a loopback
address of its own (the local API's source IP is the TCP peer, as API Gateway's is).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from ropguard_offline.stack import OfflineStack, Ports, StackConfig
from tests.fixtures.emulator import DEMO_USERS
from tests.fixtures.offline_stack import fresh
from tests.integration.stack_client import MANAGEMENT_TOKEN, StackClient

pytestmark = pytest.mark.integration

ALICE = DEMO_USERS["alice"]
CAROL = DEMO_USERS["carol"]
WRONG = "not-the-password-7"
#: Auth0's defaults, as the demo tenant has them (docs/emulator.md).
SUSPICIOUS_IP_THRESHOLD = 100
BRUTE_FORCE_THRESHOLD = 10
RATE_LIMITED_TENANT = Path(__file__).resolve().parents[1] / "fixtures" / "tenants" / "rate_limited.yaml"
RATE_LIMIT = 20  # requests per 80 s, in that tenant
#: Short, so a lifted block is seen again quickly; long enough that the attempts before it are shed.
SHORT_WINDOW_SECONDS = 3
#: Headers that differ per answer whoever answers (the rest must be byte for byte the same).
PER_REQUEST_HEADERS = {"date", "apigw-requestid", "x-amzn-requestid", "server"}


def signature(response: httpx.Response) -> tuple[int, bytes, tuple[tuple[str, str], ...]]:
    """Status, body bytes and headers: what must not tell a shed answer from Auth0's."""
    headers = tuple(
        (name.lower(), value)
        for name, value in response.headers.multi_items()
        if name.lower() not in PER_REQUEST_HEADERS
    )
    return response.status_code, response.content, headers


def calls_from(client: StackClient, address: str) -> list[dict[str, Any]]:
    """The token requests Auth0 attributed to ``address``."""
    return [record for record in client.token_requests() if record["attributed_ip"] == address]


def in_parallel(tasks: list[Callable[[], httpx.Response]], workers: int = 16) -> list[httpx.Response]:
    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(lambda task: task(), tasks))


def management(client: StackClient, method: str, path: str, **options: Any) -> httpx.Response:
    response = httpx.request(
        method,
        f"{client.stack.auth0_url}/api/v2/{path}",
        headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"},
        timeout=30,
        **options,
    )
    return response.raise_for_status()


@pytest.fixture
def users(offline_stack: OfflineStack, secret_registry: Any) -> StackClient:
    return StackClient(offline_stack, secret_registry)


def _started(config: StackConfig) -> Iterator[OfflineStack]:
    with OfflineStack.start(config) as stack:
        yield stack


@pytest.fixture(scope="module")
def own_stack() -> Iterator[OfflineStack]:
    """A tenant that allows 20 requests per 80 s, a short window, and one worker per function (so
    one memory: what one request teaches, the next one knows)."""
    config = StackConfig(
        ports=Ports.free(),
        tenant_path=RATE_LIMITED_TENANT,
        parameter_overrides={"ShedWindowSeconds": str(SHORT_WINDOW_SECONDS)},
        workers_per_function=1,
    )
    with OfflineStack.start(config) as stack:
        yield stack


@pytest.fixture
def own(own_stack: OfflineStack, secret_registry: Any) -> StackClient:
    """This module's own stack, reset like ``offline_stack``."""
    return StackClient(fresh(own_stack, secret_registry), secret_registry)


# -- suspicious-IP throttling: the whole address --------------------------------------------------


def test_a_flood_from_one_address_reaches_auth0_about_as_often_as_auth0_needs(users: StackClient) -> None:
    """600 wrong-password logins for 150 usernames from one address, while alice logs in elsewhere."""
    attacker = "127.0.40.1"
    workers = users.stack.config.workers_per_function
    flood = [f"flood-{i % 150}@example.com" for i in range(600)]
    tasks: list[Callable[[], httpx.Response]] = []
    is_alice: list[bool] = []
    for i, username in enumerate(flood):
        tasks.append(partial(users.login, username, WRONG, source=attacker))
        is_alice.append(False)
        if i % 50 == 25:  # alice, from a new address every 50 attempts
            source = f"127.0.41.{i // 50 + 1}"
            tasks.append(partial(users.login, *ALICE, source=source))
            is_alice.append(True)

    answers = in_parallel(tasks)

    alice = [answer.status_code for answer, hers in zip(answers, is_alice, strict=True) if hers]
    assert alice == [200] * 12, "alice must log in from other addresses throughout the flood"
    flooded = [answer for answer, hers in zip(answers, is_alice, strict=True) if not hers]
    statuses = [answer.status_code for answer in flooded]
    # Logins already past Auth0's check when the threshold is reached still fail as wrong passwords:
    # at most one more per function worker, since only that many reach Auth0 at once.
    assert SUSPICIOUS_IP_THRESHOLD <= statuses.count(403) <= SUSPICIOUS_IP_THRESHOLD + workers
    assert statuses.count(429) == 600 - statuses.count(403)
    reached = calls_from(users, attacker)
    refused_by_auth0 = [record for record in reached if record["error"] == "too_many_attempts"]
    assert refused_by_auth0, "Auth0 itself must have given the verdict"
    assert len(reached) <= SUSPICIOUS_IP_THRESHOLD + 2 * workers, (
        f"Auth0 saw {len(reached)} of the flood's 600"
    )
    shed = {signature(answer) for answer in flooded if answer.status_code == 429}
    assert len(shed) == 1, "every 429 must be byte for byte the one Auth0 gave"
    assert flooded[-1].json()["error"] == "too_many_attempts"
    assert "suspicious" in flooded[-1].json()["error_description"]


# -- brute-force protection: one user from one address --------------------------------------------


def test_a_brute_force_on_alice_stops_reaching_auth0_and_spares_everyone_else(users: StackClient) -> None:
    attacker = "127.0.42.1"
    workers = users.stack.config.workers_per_function

    answers = in_parallel([partial(users.login, ALICE[0], WRONG, source=attacker)] * 30, 4)

    statuses = [answer.status_code for answer in answers]
    assert BRUTE_FORCE_THRESHOLD <= statuses.count(403) <= BRUTE_FORCE_THRESHOLD + workers  # as above
    assert statuses.count(429) == 30 - statuses.count(403)
    reached = calls_from(users, attacker)
    assert any(record["error"] == "too_many_attempts" for record in reached)
    assert len(reached) <= BRUTE_FORCE_THRESHOLD + 2 * workers, f"Auth0 saw {len(reached)} of 30"
    blocked = [answer for answer in answers if answer.status_code == 429]
    assert len({signature(answer) for answer in blocked}) == 1
    assert blocked[0].json()["error"] == "too_many_attempts"
    assert "suspicious" not in blocked[0].json()["error_description"]
    # Only that pair is blocked: alice elsewhere, and another user from the attacker's address.
    assert users.login(*ALICE, source="127.0.42.2").status_code == 200
    carol = users.login(*CAROL, source=attacker)
    assert (carol.status_code, carol.json()["error"]) == (403, "mfa_required")


# -- below every threshold nothing changes ---------------------------------------------------------


def test_addresses_below_every_threshold_all_reach_auth0_and_then_log_in(users: StackClient) -> None:
    sources = [f"127.0.43.{i}" for i in range(1, 41)]

    def five_wrong_then_right(source: str) -> list[httpx.Response]:
        wrong = [users.login(ALICE[0], WRONG, source=source) for _ in range(5)]
        return [*wrong, users.login(*ALICE, source=source)]

    with ThreadPoolExecutor(8) as pool:
        per_source = list(pool.map(five_wrong_then_right, sources))

    for answers in per_source:
        assert [answer.status_code for answer in answers] == [403] * 5 + [200]
    records = users.token_requests()
    assert sum(record["attributed_ip"] in sources for record in records) == 40 * 6


# -- a block an administrator lifts ---------------------------------------------------------------


def _log_in_again_within(client: StackClient, source: str, seconds: float) -> list[int]:
    """Alice's logins from ``source`` until one succeeds (statuses in order); fails after ``seconds``."""
    statuses: list[int] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        statuses.append(client.login(*ALICE, source=source).status_code)
        if statuses[-1] == 200:
            return statuses
        time.sleep(0.2)
    pytest.fail(f"alice could not log in from {source} after the block was lifted: {statuses}")


def test_a_user_block_lifted_by_an_administrator_ends_within_the_window(own: StackClient) -> None:
    attacker = "127.0.44.1"
    for _ in range(BRUTE_FORCE_THRESHOLD):
        assert own.login(ALICE[0], WRONG, source=attacker).status_code == 403
    assert own.login(ALICE[0], WRONG, source=attacker).status_code == 429  # Auth0's verdict
    reached = len(calls_from(own, attacker))
    assert own.login(*ALICE, source=attacker).status_code == 429  # remembered: not sent
    assert len(calls_from(own, attacker)) == reached

    management(own, "DELETE", "user-blocks", params={"identifier": ALICE[0]})

    statuses = _log_in_again_within(own, attacker, SHORT_WINDOW_SECONDS + 10)
    assert set(statuses[:-1]) <= {429}


def test_an_address_block_lifted_by_an_administrator_ends_within_the_window(own: StackClient) -> None:
    attacker = "127.0.44.2"
    management(
        own,
        "PATCH",
        "attack-protection/suspicious-ip-throttling",
        json={"stage": {"pre-login": {"max_attempts": 3, "rate": 864000}}},
    )
    for i in range(3):
        assert own.login(f"nobody-{i}@example.com", WRONG, source=attacker).status_code == 403
    refused = own.login("nobody-3@example.com", WRONG, source=attacker)
    assert (refused.status_code, refused.json()["error"]) == (429, "too_many_attempts")
    reached = len(calls_from(own, attacker))
    assert own.login(*ALICE, source=attacker).status_code == 429  # the whole address: not sent
    assert len(calls_from(own, attacker)) == reached

    management(own, "DELETE", f"anomaly/blocks/ips/{attacker}")

    _log_in_again_within(own, attacker, SHORT_WINDOW_SECONDS + 10)


# -- the tenant's rate limit ---------------------------------------------------------------------


def test_auth0_sees_no_call_between_its_rate_limit_answer_and_the_reset_time(own: StackClient) -> None:
    answers = [own.login(*ALICE, source="127.0.45.1") for _ in range(RATE_LIMIT + 1)]
    assert [answer.status_code for answer in answers] == [200] * RATE_LIMIT + [429]
    first = answers[-1]
    answered_at = time.time()
    assert first.json()["error"] == "too_many_requests"
    retry_after = int(first.headers["retry-after"])
    assert 1 <= retry_after <= 60
    reached = len(own.token_requests())

    # Until the reset time (Retry-After rounds up, so a second earlier to be sure) nothing is sent.
    shed = []
    for i in range(20):
        if time.time() >= answered_at + retry_after - 1:
            break
        shed.append(own.login(*ALICE, source=f"127.0.45.{i + 2}"))
    assert shed, "the reset time came before a second request could be sent"
    assert len(own.token_requests()) == reached
    for answer in shed:
        assert answer.status_code == 429
        assert answer.content == first.content
        assert 1 <= int(answer.headers["retry-after"]) <= retry_after

    time.sleep(max(0.0, answered_at + retry_after - time.time()) + 0.2)
    assert own.login(*ALICE, source="127.0.45.99").status_code == 200
    assert len(own.token_requests()) == reached + 1
