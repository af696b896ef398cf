"""``make demo``'s story passes against the offline stack (the same code the command runs)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ropguard_offline.stack import OfflineStack
from ropguard_tools.demo import Step, play
from tests.fixtures.cookie_stack import CookieStack

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_every_step_of_the_story_goes_as_expected(offline_stack: OfflineStack) -> None:
    lines: list[str] = []
    assert play(offline_stack, lines.append), "\n".join(lines)
    assert lines[-1] == "every step went as expected"
    assert not [line for line in lines if line.startswith("[FAIL]")]
    # Bot Detection once: the app's cue to fall back to Universal Login.
    verification = [line for line in lines if "actual:   401 requires_verification" in line]
    assert len(verification) == 1
    assert "Universal Login" in verification[0]


def test_a_step_that_differs_is_marked_and_fails() -> None:
    assert Step("x", "200", "200").ok
    failed = Step("dave is refused", "401 unauthorized", "200")
    assert not failed.ok
    assert failed.line(3).splitlines() == [
        "[FAIL]  3. dave is refused",
        "          expected: 401 unauthorized",
        "          actual:   200",
    ]


@pytest.mark.integration
def test_the_command_prints_the_story_and_nothing_else() -> None:
    """``make demo`` as a user sees it: no function, emulator or moto log line, no EMF metrics."""
    result = subprocess.run(
        [sys.executable, "-m", "ropguard_tools.demo"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "every step went as expected" in result.stdout
    output = result.stdout + result.stderr
    for noise in ("INFO", "WARNING", "_aws", "ColdStart", "ropguard.emulator"):
        assert noise not in output, noise


@pytest.mark.integration
def test_the_story_goes_as_expected_in_cookie_mode(cookie_stack: CookieStack) -> None:
    """``make demo PARAMS="TokenDelivery=cookie"``: the same story, the session in the cookie."""
    lines: list[str] = []
    assert play(cookie_stack.stack, lines.append), "\n".join(lines)
    assert lines[-1] == "every step went as expected"
