"""The secret-hygiene scanner must catch a leak, or its green result means nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]

LEAKY_TESTS = """
import logging
from tests.fixtures.secret_hygiene import SECRETS

def test_prints_a_password():
    SECRETS.add("password", "hunter2-very-secret")
    print("user typed hunter2-very-secret")

def test_logs_a_token(secret_registry):
    secret_registry.add_tokens_from({"access_token": "eyJhbGciOi.leaky.token"})
    logging.getLogger("x").warning("got eyJhbGciOi.leaky.token")

def test_clean(secret_registry):
    secret_registry.add("password", "another-secret-value")
    print("nothing to see")
"""


@pytest.fixture
def run_inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))

    def run() -> pytest.RunResult:
        pytester.makepyfile(test_leaky=LEAKY_TESTS)
        return pytester.runpytest_subprocess("-p", "tests.fixtures.secret_hygiene", "-p", "no:cacheprovider")

    return run


def test_scanner_fails_tests_that_print_or_log_a_registered_secret(run_inner):
    result = run_inner()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*contains registered secret(s) of kind: password*"])
    result.stdout.fnmatch_lines(["*contains registered secret(s) of kind: token*"])
    assert "hunter2-very-secret" not in "\n".join(
        line for line in result.outlines if "secret hygiene" in line
    )
