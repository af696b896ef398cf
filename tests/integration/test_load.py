"""A bounded load through the offline stack: correctness under concurrency, never speed.

20 end users at once, each from its own loopback address, 400 logins with mixed outcomes whose
answers are fixed in advance (``benchmarks.load_plan``). Every answer must be the expected one,
the emulator must have recorded exactly what was sent (per attributed IP, username and outcome;
Auth0's blocks at least once each, as ropguard may repeat them itself),
and the emails must be one reset per breached user and one unblock per crossed (user, address).
Throughput is printed by ``python -m benchmarks.load``, not asserted here.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from benchmarks.load import check_emails, check_records, run_load
from benchmarks.load_plan import PASSWORDS, WRONG_PASSWORDS, build_plan
from ropguard_offline.stack import OfflineStack
from tests.integration.stack_client import assert_error_body_clean

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIENTS = 20
LOGINS = 400


def test_concurrent_logins_from_many_addresses_are_answered_and_counted_exactly(
    offline_stack: OfflineStack, secret_registry: Any
) -> None:
    secret_registry.add("password", *PASSWORDS.values(), *WRONG_PASSWORDS)
    plans = build_plan(CLIENTS, LOGINS)
    assert sum(len(plan.attempts) for plan in plans) == LOGINS
    assert len({plan.address for plan in plans}) == CLIENTS

    def on_response(response: httpx.Response) -> None:
        body = response.json()
        secret_registry.add_tokens_from(body)
        assert_error_body_clean(response, secret_registry)

    result = run_load(offline_stack.api_url, plans, on_response)

    assert result.mismatches == []
    assert len(result.latencies) == LOGINS  # every login was answered
    assert offline_stack.drain(timeout=120)
    records = httpx.get(f"{offline_stack.auth0_url}/__emulator/token-requests", timeout=60).json()
    outbox = httpx.get(f"{offline_stack.auth0_url}/__emulator/outbox", timeout=60).json()
    # Every login reached Auth0 except repeats of Auth0's blocks, which ropguard may answer itself
    # (docs/operations.md, "Floods"); check_records counts each kind of answer.
    assert len(records) <= LOGINS
    assert check_records(records, plans) == []
    assert check_emails(outbox, plans) == []
