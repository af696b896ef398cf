"""template.yaml: the session routes (issue 9) are wired to one least-privilege function, the scopes
ask for refresh tokens, CORS is off unless AllowedOrigins is set, and the sample events reach the
routes the code serves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

from ropguard.api_event import read_event
from ropguard.edge import pick_route
from ropguard.session import SESSION_ROUTES
from tests.template.sam_translation import translated_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE: dict[str, Any] = cfn_yaml.load(str(ROOT / "template.yaml"))
SESSION_ROUTE_KEYS = {
    "POST /login/mfa/challenge",
    "GET /login/mfa/authenticators",
    "POST /login/mfa",
    "POST /token/refresh",
    "POST /logout",
}


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translated_template()["Resources"]


def test_session_function_serves_exactly_the_session_routes_on_the_login_api() -> None:
    events = TEMPLATE["Resources"]["SessionFunction"]["Properties"]["Events"].values()
    routes = {f"{event['Properties']['Method']} {event['Properties']['Path']}" for event in events}
    assert routes == SESSION_ROUTE_KEYS == set(SESSION_ROUTES)
    for event in events:
        assert event["Type"] == "HttpApi"
        assert event["Properties"]["ApiId"] == {"Ref": "LoginApi"}
        assert event["Properties"]["PayloadFormatVersion"] == "2.0"


def test_translated_api_has_a_route_per_session_route(translated: dict[str, Any]) -> None:
    body = translated["LoginApi"]["Properties"]["Body"]
    found = {f"{method.upper()} {path}" for path, methods in body["paths"].items() for method in methods}
    assert found >= SESSION_ROUTE_KEYS | {"POST /login"}


def test_session_role_reads_the_secret_and_writes_its_logs_only(translated: dict[str, Any]) -> None:
    role = translated["SessionFunctionRole"]["Properties"]
    (policy,) = role["Policies"]
    actions = {
        action
        for statement in policy["PolicyDocument"]["Statement"]
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert actions == {"logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"}
    assert translated["SessionFunction"]["Properties"]["Role"] == {
        "Fn::GetAtt": ["SessionFunctionRole", "Arn"]
    }
    assert "sns:Publish" not in json.dumps(role)


def test_scopes_default_asks_for_refresh_tokens() -> None:
    assert "offline_access" in TEMPLATE["Parameters"]["Auth0Scopes"]["Default"].split()
    variables = TEMPLATE["Resources"]["SessionFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["AUTH0_SCOPES"] == {"Ref": "Auth0Scopes"}


def test_cors_is_off_unless_allowed_origins_is_set() -> None:
    assert TEMPLATE["Parameters"]["AllowedOrigins"]["Default"] == ""
    cors = TEMPLATE["Resources"]["LoginApi"]["Properties"]["CorsConfiguration"]
    condition, when_set, when_unset = cors["Fn::If"]
    assert condition == "HasAllowedOrigins"
    assert when_set["AllowOrigins"] == {"Fn::Split": [",", {"Ref": "AllowedOrigins"}]}
    # Credentials (and the X-CSRF header) only in cookie mode (docs/browser.md).
    assert when_set["AllowCredentials"] == {"Fn::If": ["CookieDelivery", True, {"Ref": "AWS::NoValue"}]}
    assert when_unset == {"Ref": "AWS::NoValue"}


@pytest.mark.parametrize(
    ("file", "route"),
    [
        ("mfa-challenge-http-api-v2.json", "POST /login/mfa/challenge"),
        ("mfa-authenticators-http-api-v2.json", "GET /login/mfa/authenticators"),
        ("mfa-verify-http-api-v2.json", "POST /login/mfa"),
        ("token-refresh-http-api-v2.json", "POST /token/refresh"),
        ("token-refresh-rest-api-v1.json", "POST /token/refresh"),
        ("logout-http-api-v2.json", "POST /logout"),
    ],
)
def test_sample_events_reach_their_route(file: str, route: str) -> None:
    event = read_event(json.loads((ROOT / "events" / file).read_text()))
    assert pick_route(event, SESSION_ROUTES).key == route
