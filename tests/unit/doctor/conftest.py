"""The doctor's unit tests: a fake tenant on pytest-httpserver, and the environment naming it."""

from __future__ import annotations

import re

import pytest
from pytest_httpserver import HTTPServer

from tests.unit.doctor.fake_tenant import LOGIN_ID, LOGIN_SECRET, MANAGEMENT_ID, MANAGEMENT_SECRET, FakeTenant


@pytest.fixture
def tenant(httpserver: HTTPServer) -> FakeTenant:
    fake = FakeTenant()
    httpserver.expect_request(re.compile(".*")).respond_with_handler(fake.handle)
    return fake


@pytest.fixture
def doctor_env(httpserver: HTTPServer, tenant: FakeTenant) -> dict[str, str]:
    """What an operator exports to point the doctor at a tenant (here the fake one)."""
    return {
        "AUTH0_DOMAIN": f"http://127.0.0.1:{httpserver.port}",
        "AUTH0_MANAGEMENT_CLIENT_ID": MANAGEMENT_ID,
        "AUTH0_MANAGEMENT_CLIENT_SECRET": MANAGEMENT_SECRET,
        "AUTH0_CLIENT_ID": LOGIN_ID,
        "AUTH0_CLIENT_SECRET": LOGIN_SECRET,
        "ROPGUARD_ROUTES": "POST /login, POST /login/mfa, POST /token/refresh",
        "ROPGUARD_EGRESS_ADDRESSES": "198.51.100.20",
    }
