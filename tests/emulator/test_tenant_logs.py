"""Tenant logs over real HTTP (``auth0_emulator/tenant_logs.py``): which events each outcome writes,
``ip`` (attributed) against ``client_ip`` (TCP peer), and ``GET /api/v2/logs`` queries and pages."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pyotp
import pytest

from tests.fixtures.emulator import (
    CAROL_TOTP_SECRET,
    DEMO_AUDIENCE,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CONNECTION,
    DEMO_USERS,
    MANAGEMENT_TOKEN,
    UNTRUSTED_CLIENT_ID,
    UNTRUSTED_CLIENT_SECRET,
    EmulatorHandle,
)
from tests.fixtures.secret_hygiene import SecretRegistry

pytestmark = pytest.mark.integration

USER_IP = "198.51.100.23"
PEER = "127.0.0.1"
AUTH = {"Authorization": f"Bearer {MANAGEMENT_TOKEN}"}
EVENT_KEYS = {
    "log_id",
    "date",
    "type",
    "description",
    "ip",
    "client_ip",
    "client_id",
    "client_name",
    "user_id",
    "user_name",
    "connection",
    "details",
}


def password_login(
    http: httpx.Client,
    user: str,
    password: str | None = None,
    client_id: str = DEMO_CLIENT_ID,
    secret: str = DEMO_CLIENT_SECRET,
    **extra: str,
) -> httpx.Response:
    username, right = DEMO_USERS.get(user, (user, "no-such-password"))
    body = {
        "grant_type": "password",
        "client_id": client_id,
        "client_secret": secret,
        "username": username,
        "password": password if password is not None else right,
        "audience": DEMO_AUDIENCE,
        **extra,
    }
    return http.post("/oauth/token", json=body, headers={"auth0-forwarded-for": USER_IP})


def logs(http: httpx.Client, **params: Any) -> Any:
    response = http.get("/api/v2/logs", params=params, headers=AUTH)
    assert response.status_code == 200, response.text
    return response.json()


def types_in_order(http: httpx.Client) -> list[str]:
    return [event["type"] for event in logs(http, sort="date:1", per_page=100)]


def test_password_login_writes_a_login_event_and_an_exchange_event(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    password_login(http, "alice")
    password_login(http, "alice", "wrong-password-123")
    password_login(http, "nobody@example.com")
    password_login(http, "dave")
    assert types_in_order(http) == ["s", "sepft", "fp", "fepft", "fu", "fepft", "f", "fepft"]
    success = logs(http, q='type:"s"')[0]
    assert set(success) == EVENT_KEYS
    assert (success["ip"], success["client_ip"]) == (USER_IP, PEER)
    assert (success["user_id"], success["user_name"], success["connection"]) == (
        "auth0|alice",
        "alice@example.com",
        DEMO_CONNECTION,
    )
    assert (success["client_id"], success["client_name"]) == (DEMO_CLIENT_ID, "ropguard-demo")
    assert success["date"].endswith("Z")
    unknown = logs(http, q="type:fu")[0]
    assert (unknown["user_name"], unknown["user_id"]) == ("nobody@example.com", None)
    failed = logs(http, q='type:"fepft" AND user_name:"dave@example.com"')[0]
    assert failed["details"] == {"grant_type": "password", "error": "unauthorized"}


def test_untrusted_client_logs_the_server_address(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    password_login(http, "canary@example.com", client_id=UNTRUSTED_CLIENT_ID, secret=UNTRUSTED_CLIENT_SECRET)
    event = logs(http, q='type:"fu" AND user_name:"canary@example.com"')[0]
    assert (event["ip"], event["client_ip"], event["client_id"]) == (PEER, PEER, UNTRUSTED_CLIENT_ID)


def test_blocks_and_breaches(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    for _ in range(10):
        password_login(http, "alice", "wrong-password-123")
    password_login(http, "alice")
    password_login(http, "bob")
    password_login(http, "bob")
    events = types_in_order(http)
    assert events[-8:] == ["fp", "limit_wc", "fepft", "limit_wc", "fepft", "pwd_leak", "fepft", "fepft"]
    assert events.count("limit_wc") == 2  # the block set by the 10th failure, then the refused login
    assert events.count("pwd_leak") == 1  # at most once an hour per user and address
    assert [e["details"] for e in logs(http, q="type:pwd_leak")] == [{"blocked": True}]


def test_suspicious_ip_block_writes_limit_mu(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    auth0_emulator.server.state.suspicious_ip_settings = (
        auth0_emulator.server.state.suspicious_ip_settings.patched(
            {"stage": {"pre-login": {"max_attempts": 2}}}
        )
    )
    for i in range(3):
        password_login(http, f"user{i}@example.com")
    mu = logs(http, q=f'type:"limit_mu" AND ip:"{USER_IP}"')
    assert len(mu) == 2  # when the last attempt is spent, and for the refused login


def test_mfa_and_refresh_exchanges(auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry) -> None:
    http = auth0_emulator.http
    mfa = password_login(http, "carol", scope="openid offline_access").json()
    secret_registry.add("mfa_token", mfa["mfa_token"])
    otp_grant = {
        "grant_type": "http://auth0.com/oauth/grant-type/mfa-otp",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "mfa_token": mfa["mfa_token"],
    }
    otp = pyotp.TOTP(CAROL_TOTP_SECRET).at(int(auth0_emulator.server.state.clock.now()))
    secret_registry.add_otp(otp)
    http.post("/oauth/token", data={**otp_grant, "otp": "000000" if otp != "000000" else "111111"})
    tokens = http.post("/oauth/token", data={**otp_grant, "otp": otp}).json()
    secret_registry.add_tokens_from(tokens)
    refresh = {
        "grant_type": "refresh_token",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
    }
    rotated = http.post("/oauth/token", data={**refresh, "refresh_token": tokens["refresh_token"]}).json()
    secret_registry.add_tokens_from(rotated)
    auth0_emulator.advance_clock(10)
    http.post("/oauth/token", data={**refresh, "refresh_token": tokens["refresh_token"]})
    recovery = password_login(http, "carol").json()
    secret_registry.add("mfa_token", recovery["mfa_token"])
    http.post(
        "/oauth/token",
        data={
            **otp_grant,
            "grant_type": "http://auth0.com/oauth/grant-type/mfa-recovery-code",
            "mfa_token": recovery["mfa_token"],
            "recovery_code": "NOT-A-CODE",
        },
    )
    http.post(
        "/oauth/revoke",
        data={
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "token": rotated["refresh_token"],
        },
    )
    assert types_in_order(http) == [
        "mfar",
        "fepft",
        "feotpft",
        "seotpft",
        "sertft",
        "fertft",
        "mfar",
        "fepft",
        "fercft",
    ]  # revoking a family the reuse already revoked writes nothing
    (reuse,) = logs(http, q="type:fertft")
    assert reuse["details"]["reason"].startswith("reused rotating refresh token")
    assert (reuse["user_name"], reuse["ip"]) == ("carol@example.com", PEER)


def test_revoke_writes_srrt(auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry) -> None:
    http = auth0_emulator.http
    tokens = password_login(http, "alice", scope="offline_access").json()
    secret_registry.add_tokens_from(tokens)
    http.post(
        "/oauth/revoke",
        json={
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "token": tokens["refresh_token"],
        },
        headers={"auth0-forwarded-for": USER_IP},
    )
    (event,) = logs(http, q="type:srrt")
    assert (event["user_id"], event["ip"], event["client_ip"]) == ("auth0|alice", USER_IP, PEER)


# ---- the query subset ----------------------------------------------------------------------------


def test_sort_pages_totals_and_lookup(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    for i in range(5):
        password_login(http, f"user{i}@example.com")
    newest = logs(http, q="type:fu")
    assert [e["user_name"] for e in newest] == [f"user{i}@example.com" for i in reversed(range(5))]
    oldest = logs(http, q="type:fu", sort="date:1", per_page=2, page=1)
    assert [e["user_name"] for e in oldest] == ["user2@example.com", "user3@example.com"]
    totals = logs(http, q="type:fu", per_page=2, page=2, include_totals="true")
    assert {k: totals[k] for k in ("start", "limit", "length", "total")} == {
        "start": 4,
        "limit": 2,
        "length": 1,
        "total": 5,
    }
    one = newest[0]
    fetched = http.get(f"/api/v2/logs/{one['log_id']}", headers=AUTH)
    assert (fetched.status_code, fetched.json()) == (200, one)
    missing = http.get("/api/v2/logs/90020000000000000999999", headers=AUTH)
    assert (missing.status_code, missing.json()["errorCode"]) == (404, "inexistent_resource")


@pytest.mark.parametrize(
    "q",
    [
        'type:"fp" AND user_name:"x" AND ip:"203.0.113.1" AND client_id:"c"',
        "type:fp user_name:x",
        'client_ip:"127.0.0.1" AND connection:"Username-Password-Authentication"',
        "",
    ],
)
def test_supported_queries(auth0_emulator: EmulatorHandle, q: str) -> None:
    assert isinstance(logs(auth0_emulator.http, q=q), list)


def test_query_terms_filter_exactly(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    password_login(http, "alice", "wrong-password-123")
    password_login(
        http, "alice", "wrong-password-123", client_id=UNTRUSTED_CLIENT_ID, secret=UNTRUSTED_CLIENT_SECRET
    )
    assert len(logs(http, q=f'type:fp AND ip:"{USER_IP}"')) == 1
    assert len(logs(http, q=f'type:"fp" AND client_id:"{UNTRUSTED_CLIENT_ID}"')) == 1
    assert len(logs(http, q='user_name:"ALICE@example.com"')) == 4  # fp + fepft, twice
    assert logs(http, q='type:"fp" AND user_name:"bob@example.com"') == []


def test_unquoted_values_match_as_a_prefix_and_bare_values_search_names(
    auth0_emulator: EmulatorHandle,
) -> None:
    http = auth0_emulator.http
    password_login(http, "alice", "wrong-password-123")
    password_login(http, "bob")
    assert {e["type"] for e in logs(http, q="type:f")} == {"fp", "fepft"}  # unquoted: starts with
    assert logs(http, q='type:"f"') == []  # quoted: exact
    assert {e["user_name"] for e in logs(http, q="user_name:ALI")} == {"alice@example.com"}
    assert {e["user_name"] for e in logs(http, q="bob")} == {
        "bob@example.com"
    }  # client_name, connection, user_name
    assert len(logs(http, q="ropguard-demo")) == 4  # the client name
    assert logs(http, search='type:"pwd_leak"') == logs(
        http, q='type:"pwd_leak"'
    )  # auth0-python's name for q


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"q": "type:fp OR type:fu"}, "only AND"),
        ({"q": "date:[2024-01-01 TO *]"}, "field:value"),
        ({"q": "date:2024"}, "unsupported field"),
        ({"q": "type:fp", "search": "type:fu"}, "give one of them"),
        ({"q": "(type:fp)"}, "field:value"),
        ({"q": "password:x"}, "unsupported field"),
        ({"q": "type:f*"}, "wildcards"),
        ({"sort": "date"}, "sort"),
        ({"per_page": "101"}, "per_page"),
        ({"page": "-1"}, "page"),
        ({"include_totals": "yes"}, "include_totals"),
    ],
)
def test_unsupported_queries_are_400(
    auth0_emulator: EmulatorHandle, params: dict[str, str], fragment: str
) -> None:
    response = auth0_emulator.http.get("/api/v2/logs", params=params, headers=AUTH)
    assert response.status_code == 400
    assert response.json()["errorCode"] == "invalid_query_string"
    assert fragment in response.json()["message"]


def test_no_secret_reaches_a_log_event(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    tokens = password_login(http, "alice", scope="openid offline_access").json()
    password_login(http, "alice", "a-wrong-password-value")
    mfa = password_login(http, "erin").json()
    grant = {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, "mfa_token": mfa["mfa_token"]}
    oob_code = http.post("/mfa/challenge", json=grant).json()["oob_code"]
    code = auth0_emulator.outbox()[-1]["code"]
    exchanged = http.post(
        "/oauth/token",
        data={
            **grant,
            "grant_type": "http://auth0.com/oauth/grant-type/mfa-oob",
            "oob_code": oob_code,
            "binding_code": code,
        },
    ).json()
    secret_registry.add_tokens_from(tokens)
    secret_registry.add_tokens_from(exchanged)
    secret_registry.add("mfa_token", mfa["mfa_token"])
    secret_registry.add("oob_code", oob_code)
    written = json.dumps(logs(http, per_page=100)) + json.dumps(auth0_emulator.token_requests())
    secrets = [
        tokens["access_token"],
        tokens["refresh_token"],
        mfa["mfa_token"],
        oob_code,
        DEMO_CLIENT_SECRET,
        DEMO_USERS["alice"][1],
        DEMO_USERS["erin"][1],
        "a-wrong-password-value",
        f'"{code}"',
    ]
    assert [secret for secret in secrets if secret in written] == []
