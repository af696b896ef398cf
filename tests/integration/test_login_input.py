"""Client input through lambda_handler: JSON, form, base64; every bad input is a precise 400."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.fixtures.login import ACCESS_TOKEN, PASSWORD, b64, http_api_event, json_body, rest_api_event

pytestmark = pytest.mark.integration

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def tokens(login_env):
    login_env.expect_request("/oauth/token", method="POST").respond_with_json(
        {"access_token": ACCESS_TOKEN, "token_type": "Bearer", "expires_in": 60}
    )
    return login_env


def sent_to_auth0(server) -> dict[str, Any]:
    assert len(server.log) == 1
    sent: dict[str, Any] = server.log[0][0].get_json()
    return sent


@pytest.mark.parametrize(
    "event",
    [
        http_api_event(json_body(username="a@example.com", password=PASSWORD, scope="openid email")),
        http_api_event(
            b64(json_body(username="a@example.com", password=PASSWORD, scope="openid email")),
            base64_encoded=True,
        ),
        http_api_event(
            urlencode({"username": "a@example.com", "password": PASSWORD, "scope": "openid email"}),
            content_type=FORM,
        ),
        rest_api_event(
            b64(urlencode({"username": "a@example.com", "password": PASSWORD, "scope": "openid email"})),
            content_type=f"{FORM}; charset=UTF-8",
            base64_encoded=True,
        ),
        http_api_event(
            json_body(username="a@example.com", password=PASSWORD, scope="openid email openid"),
            content_type="Application/JSON; charset=utf-8",
        ),
    ],
    ids=["json", "json-base64", "form", "form-base64-v1-charset", "json-case-and-duplicate-scope"],
)
def test_accepted_encodings_send_the_same_grant(tokens, invoke_login, event) -> None:
    response = invoke_login(event)

    assert response["statusCode"] == 200
    sent = sent_to_auth0(tokens)
    assert (sent["username"], sent["password"], sent["scope"]) == ("a@example.com", PASSWORD, "openid email")


def test_missing_scope_sends_the_configured_scopes(tokens, invoke_login) -> None:
    invoke_login(http_api_event(json_body(username="a@example.com", password=PASSWORD)))

    assert sent_to_auth0(tokens)["scope"] == "openid profile email offline_access"


def test_unicode_credentials_reach_auth0_intact(tokens, invoke_login) -> None:
    password = f"{PASSWORD}-ünï-密码"
    invoke_login(http_api_event(json_body(username="zoë@example.com", password=password)))

    sent = sent_to_auth0(tokens)
    assert (sent["username"], sent["password"]) == ("zoë@example.com", password)


BAD_INPUTS = [
    ("no-body", http_api_event(None), "the request body is empty"),
    ("empty-body", http_api_event(""), "the request body is empty"),
    (
        "no-content-type",
        http_api_event(json_body(username="a", password=PASSWORD), content_type=None),
        "Content-Type header is required",
    ),
    (
        "text-plain",
        http_api_event("username=a", content_type="text/plain"),
        "unsupported Content-Type 'text/plain'",
    ),
    (
        "multipart",
        http_api_event("x", content_type="multipart/form-data; boundary=x"),
        "unsupported Content-Type",
    ),
    (
        "latin1-charset",
        http_api_event(
            json_body(username="a", password=PASSWORD), content_type="application/json; charset=latin-1"
        ),
        "unsupported charset",
    ),
    ("invalid-json", http_api_event('{"username": "a", "password": '), "not valid JSON"),
    ("json-array", http_api_event(json.dumps(["a", PASSWORD])), "must be a JSON object"),
    ("json-string", http_api_event(json.dumps(PASSWORD)), "must be a JSON object"),
    ("deep-json", http_api_event("[" * 2000 + "]" * 2000), "not valid JSON"),
    (
        "duplicate-json-field",
        http_api_event('{"username":"a","username":"b","password":"p"}'),
        "'username' is given more than once",
    ),
    ("bad-base64", http_api_event("%%%not-base64%%%", base64_encoded=True), "not valid base64"),
    (
        "invalid-utf8",
        http_api_event(b64(b'{"username":"\xff\xfe","password":"x"}'), base64_encoded=True),
        "not valid UTF-8",
    ),
    ("lone-surrogate", http_api_event('{"username":"a","password":"x"}\ud800'), "not valid UTF-8"),
    ("invalid-utf8-form", http_api_event("username=%FF&password=x", content_type=FORM), "not valid UTF-8"),
    ("bad-form", http_api_event("username&&password", content_type=FORM), "not a valid form"),
    (
        "duplicate-form-field",
        http_api_event("username=a&username=b&password=x", content_type=FORM),
        "'username' is given more than once",
    ),
    ("too-large", http_api_event(json_body(username="a", password="p" * 5000)), "exceeds 4096 bytes"),
    ("too-large-base64", http_api_event(b64("x" * 6000), base64_encoded=True), "exceeds 4096 bytes"),
    ("missing-username", http_api_event(json_body(password=PASSWORD)), "'username' is required"),
    ("null-username", http_api_event(json_body(username=None, password=PASSWORD)), "'username' is required"),
    ("missing-password", http_api_event(json_body(username="a")), "'password' is required"),
    (
        "empty-username",
        http_api_event(json_body(username="", password=PASSWORD)),
        "'username' must not be empty",
    ),
    (
        "empty-password-form",
        http_api_event("username=a&password=", content_type=FORM),
        "'password' must not be empty",
    ),
    (
        "number-username",
        http_api_event(json_body(username=42, password=PASSWORD)),
        "'username' must be a string",
    ),
    (
        "object-password",
        http_api_event(json_body(username="a", password={"p": 1})),
        "'password' must be a string",
    ),
    (
        "long-username",
        http_api_event(json_body(username="u" * 257, password=PASSWORD)),
        "'username' is longer than 256",
    ),
    (
        "long-password",
        http_api_event(json_body(username="a", password="p" * 1025)),
        "'password' is longer than 1024",
    ),
    ("nul-username", http_api_event(json_body(username="a\x00b", password=PASSWORD)), "NUL"),
    (
        "scope-not-allowed",
        http_api_event(json_body(username="a", password=PASSWORD, scope="openid admin")),
        "must be a subset of",
    ),
    (
        "scope-empty",
        http_api_event(json_body(username="a", password=PASSWORD, scope="  ")),
        "'scope' must not be empty",
    ),
    (
        "scope-list",
        http_api_event(json_body(username="a", password=PASSWORD, scope=["openid"])),
        "'scope' must be a string",
    ),
]


@pytest.mark.parametrize(
    ("event", "expected"), [case[1:] for case in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_input_is_a_precise_400_and_never_reaches_auth0(login_env, invoke_login, event, expected) -> None:
    response = invoke_login(event)

    assert response["statusCode"] == 400
    body = json.loads(response["body"])
    assert body["error"] == "invalid_request"
    assert expected in body["error_description"]
    assert PASSWORD not in response["body"]
    assert response["headers"]["Cache-Control"] == "no-store"
    assert login_env.log == []
