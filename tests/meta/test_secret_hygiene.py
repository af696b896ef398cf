"""The secret-hygiene scanner must catch a leak, or its green result means nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

REPO = Path(__file__).resolve().parents[2]

LEAKY_TESTS = """
import logging
from aws_lambda_powertools import Logger
from tests.fixtures.secret_hygiene import SECRETS

LOGGERS = []

def test_prints_a_password():
    SECRETS.add("password", "hunter2-very-secret")
    print("user typed hunter2-very-secret")

def test_logs_a_token(secret_registry):
    secret_registry.add_tokens_from({"access_token": "eyJhbGciOi.leaky.token"})
    logging.getLogger("x").warning("got eyJhbGciOi.leaky.token")

def test_a_handler_module_is_first_imported_under_capsys(capsys):
    LOGGERS.append(Logger(service="meta"))  # keeps capsys's stream, closed after this test

def test_powertools_logger_created_earlier(secret_registry):
    secret_registry.add("password", "logged-through-powertools")
    LOGGERS[0].info("password was logged-through-powertools")

def test_logs_an_otp(secret_registry):
    secret_registry.add_otp("492817")
    logging.getLogger("x").warning('params {"otp": "492817", "grant_type": "mfa-otp"}')

def test_logs_a_binding_code(secret_registry):
    secret_registry.add_code("binding_code", "665544")
    print("mfa-oob binding_code=665544")

def test_logs_a_recovery_code(secret_registry):
    secret_registry.add_tokens_from({"recovery_code": "NEWRECOVERYCODE0000000001"})
    print("answered NEWRECOVERYCODE0000000001")

def test_logs_a_cookie_value(secret_registry):
    secret_registry.add_cookies_from(["__Host-ropguard-refresh=AQIDBAsealedvalue0001; Secure; HttpOnly"])
    logging.getLogger("x").warning("cookie AQIDBAsealedvalue0001")

def test_logs_a_cookie_key(secret_registry):
    secret_registry.add_cookie_key('{"current": "cookie-key-material-0123456789abcdef"}')
    print("key cookie-key-material-0123456789abcdef")

def test_clean(secret_registry):
    secret_registry.add_otp("123456")
    print("timestamp 1795633123456 is not an otp")
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
    result.assert_outcomes(passed=2, failed=8)
    result.stdout.fnmatch_lines(["*contains registered secret(s) of kind: password*"])
    result.stdout.fnmatch_lines(["*contains registered secret(s) of kind: token*"])
    result.stdout.fnmatch_lines(["*test_powertools_logger_created_earlier*contains registered*"])
    result.stdout.fnmatch_lines(["*contains registered secret(s) of kind: otp*"])
    result.stdout.fnmatch_lines(["*contains registered secret(s) of kind: binding_code*"])
    result.stdout.fnmatch_lines(["*test_logs_a_recovery_code*contains registered secret(s) of kind: token*"])
    result.stdout.fnmatch_lines(["*test_logs_a_cookie_value*contains registered secret(s) of kind: cookie*"])
    result.stdout.fnmatch_lines(
        ["*test_logs_a_cookie_key*contains registered secret(s) of kind: cookie_key*"]
    )
    # ...and caught in the test's own stdout, not through a "closed file" logging error on stderr.
    assert "Logging error" not in result.stdout.str()
    assert "hunter2-very-secret" not in "\n".join(
        line for line in result.outlines if "secret hygiene" in line
    )
