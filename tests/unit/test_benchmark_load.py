"""``benchmarks.load``'s reference: the issue-11 stack's own row, or a clear reason it is missing."""

from __future__ import annotations

import pytest

from benchmarks.load import COLUMNS, check_records, parse_reference, reference_row, table
from benchmarks.load_plan import build_plan

REFERENCE_OUTPUT = """python 3.11.7, 2 cpus, 50 clients x 5000 logins, seed 7
| requests | concurrency | wall time s | throughput req/s | latency p50 ms | latency p99 ms | mismatches |
|----------|-------------|-------------|------------------|----------------|----------------|------------|
| 5000     | 50          | 44.34       | 112.8            | 352.6          | 1355.1         | 0          |
"""


def test_the_reference_row_is_its_last_table_line_labelled() -> None:
    row = parse_reference("eb6c95c5d0c9", 0, REFERENCE_OUTPUT)
    assert row == ["reference eb6c95c", "5000", "50", "44.34", "112.8", "352.6", "1355.1", "0"]
    assert len(row) == len(COLUMNS)
    assert table([], [row]).splitlines()[-1].startswith("| reference eb6c95c | 5000 ")


@pytest.mark.parametrize(
    ("returncode", "stdout", "stderr"),
    [
        (1, REFERENCE_OUTPUT + "mismatch: 127.0.1.1 #3\n", ""),  # its answers did not match
        (0, "", "Traceback (most recent call last): ..."),
        (0, "python 3.11.7, 2 cpus\n", ""),
    ],
)
def test_a_failed_reference_says_why(returncode: int, stdout: str, stderr: str) -> None:
    with pytest.raises(RuntimeError, match=f"failed \\(exit {returncode}\\)"):
        parse_reference("eb6c95c", returncode, stdout, stderr)


def test_an_unknown_revision_is_named() -> None:
    with pytest.raises(RuntimeError, match="no worktree of no-such-revision"):
        reference_row("no-such-revision", clients=1, logins=1, seed=7)


def _record(username: str, status: int, error: str | None) -> dict[str, object]:
    return {
        "attributed_ip": "127.0.1.1",
        "forwarded_for": "127.0.1.1",
        "username": username,
        "status": status,
        "error": error,
    }


def test_auth0s_blocks_may_be_repeated_by_ropguard_but_every_other_answer_is_counted_exactly() -> None:
    """ropguard answers Auth0's 429 too_many_attempts again itself: Auth0 records it at least once."""
    plan = build_plan(clients=1, logins=20, crossing_every=1)
    blocked = sum(attempt.error == "too_many_attempts" for attempt in plan[0].attempts)
    assert blocked >= 2
    records = [_record(a.username, a.status, a.error) for a in plan[0].attempts]
    assert check_records(records, plan) == []
    first_block = next(r for r in records if r["error"] == "too_many_attempts")
    others = [r for r in records if r["error"] != "too_many_attempts"]
    assert check_records([*others, first_block], plan) == []  # the rest repeated by ropguard
    assert check_records(others, plan) != []  # Auth0 never gave the block
    assert check_records(records[1:], plan) != []  # one answer of another kind missing
