"""The Management API client: the token request, Auth0's messages, rate limits; never a secret."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Response

from ropguard_doctor.credentials import Credentials
from ropguard_doctor.errors import ManagementApiError
from ropguard_doctor.management import ManagementApi, audience
from tests.unit.doctor.fake_tenant import MANAGEMENT_ID, MANAGEMENT_SECRET, MANAGEMENT_TOKEN


@pytest.fixture
def api(httpserver: HTTPServer) -> ManagementApi:
    base = httpserver.url_for("").rstrip("/")
    httpserver.expect_request(
        "/oauth/token",
        method="POST",
        json={
            "grant_type": "client_credentials",
            "client_id": MANAGEMENT_ID,
            "client_secret": MANAGEMENT_SECRET,
            "audience": f"{base}/api/v2/",
        },
    ).respond_with_json({"access_token": MANAGEMENT_TOKEN, "token_type": "Bearer"})
    waits: list[float] = []
    management = ManagementApi(base, Credentials(MANAGEMENT_ID, MANAGEMENT_SECRET), sleep=waits.append)
    management.waits = waits  # type: ignore[attr-defined]
    return management


def test_audience_is_the_tenants_api_v2() -> None:
    assert audience("https://t.eu.auth0.com") == "https://t.eu.auth0.com/api/v2/"


def test_rate_limited_calls_wait_and_retry(api: ManagementApi, httpserver: HTTPServer) -> None:
    answers = iter(
        [
            Response("{}", status=429, headers={"x-ratelimit-reset": "0"}, content_type="application/json"),
            Response(json.dumps({"enabled": True}), status=200, content_type="application/json"),
        ]
    )
    httpserver.expect_request("/api/v2/attack-protection/brute-force-protection").respond_with_handler(
        lambda request: next(answers)
    )
    assert api.protection("brute-force-protection") == {"enabled": True}
    assert api.waits == [0.5]  # type: ignore[attr-defined]


def test_errors_carry_auth0s_message_and_the_call(api: ManagementApi, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/api/v2/clients/abc").respond_with_json(
        {
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient scope, expected any of: read:clients",
        },
        status=403,
    )
    with pytest.raises(ManagementApiError) as raised:
        api.client("abc")
    assert raised.value.status == 403
    assert (
        str(raised.value) == "GET /api/v2/clients/abc: 403 Insufficient scope, expected any of: read:clients"
    )
    assert MANAGEMENT_TOKEN not in str(raised.value)
    assert MANAGEMENT_SECRET not in repr(api)


def test_a_refused_token_names_the_client_not_its_secret(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/oauth/token").respond_with_json(
        {"error": "access_denied", "error_description": "Unauthorized"}, status=401
    )
    api = ManagementApi(httpserver.url_for("").rstrip("/"), Credentials(MANAGEMENT_ID, MANAGEMENT_SECRET))
    with pytest.raises(
        ManagementApiError, match=f"refused for client {MANAGEMENT_ID} \\(401: Unauthorized\\)"
    ):
        api.protection("brute-force-protection")
