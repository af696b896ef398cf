"""Refresh tokens over real HTTP (``auth0_emulator/refresh.py``): issuance conditions, rotation with
reuse detection and leeway, expiry, and ``/oauth/revoke`` with and without "revocation deletes grant".
auth0-python's ``GetToken.refresh_token`` and ``RevokeToken.revoke_refresh_token`` are the clients.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from auth0.authentication import GetToken, RevokeToken
from auth0.authentication.exceptions import Auth0Error

from auth0_emulator import EmulatorServer, EmulatorState
from tests.fixtures.emulator import (
    DEMO_AUDIENCE,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CONNECTION,
    DEMO_USERS,
    UNTRUSTED_CLIENT_ID,
    UNTRUSTED_CLIENT_SECRET,
    EmulatorHandle,
)
from tests.fixtures.secret_hygiene import SecretRegistry

pytestmark = pytest.mark.integration

USER_IP = "203.0.113.62"
UNKNOWN = (403, "invalid_grant", "Unknown or invalid refresh token.")


def get_token(domain: str, client_id: str = DEMO_CLIENT_ID, secret: str = DEMO_CLIENT_SECRET) -> GetToken:
    return GetToken(domain, client_id, client_secret=secret, protocol="http", telemetry=False)


def login(
    domain: str, registry: SecretRegistry, scope: str = "openid offline_access", **client: str
) -> dict[str, Any]:
    username, password = DEMO_USERS["alice"]
    tokens: dict[str, Any] = get_token(domain, **client).login(
        username, password, realm=DEMO_CONNECTION, audience=DEMO_AUDIENCE, scope=scope, forwarded_for=USER_IP
    )
    registry.add_tokens_from(tokens)
    return tokens


def refresh(domain: str, token: str, registry: SecretRegistry, **client: str) -> dict[str, Any]:
    tokens: dict[str, Any] = get_token(domain, **client).refresh_token(token)
    registry.add_tokens_from(tokens)
    return tokens


def refused(domain: str, token: str, **client: str) -> tuple[int, str, str]:
    with pytest.raises(Auth0Error) as raised:
        get_token(domain, **client).refresh_token(token)
    return raised.value.status_code, raised.value.error_code, raised.value.message


def revoke(domain: str, token: str, client_id: str = DEMO_CLIENT_ID, secret: str = DEMO_CLIENT_SECRET) -> Any:
    return RevokeToken(
        domain, client_id, client_secret=secret, protocol="http", telemetry=False
    ).revoke_refresh_token(token)


# ---- issuance ---------------------------------------------------------------------------------


def test_refresh_token_only_with_offline_access(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    assert "refresh_token" not in login(auth0_emulator.domain, secret_registry, scope="openid")
    assert "refresh_token" in login(auth0_emulator.domain, secret_registry)


@pytest.fixture
def server(state: EmulatorState) -> Iterator[EmulatorServer]:
    with EmulatorServer(state) as running:
        yield running


def domain_of(server: EmulatorServer) -> str:
    return server.base_url.removeprefix("http://")


def test_no_refresh_token_when_the_api_disallows_offline_access(
    state: EmulatorState, server: EmulatorServer, secret_registry: SecretRegistry
) -> None:
    state.config = dataclasses.replace(
        state.config,
        apis=tuple(dataclasses.replace(a, allow_offline_access=False) for a in state.config.apis),
    )
    tokens = login(domain_of(server), secret_registry)
    assert "refresh_token" not in tokens
    assert "offline_access" not in tokens["scope"].split()


def test_no_refresh_token_without_the_refresh_grant(
    state: EmulatorState, server: EmulatorServer, secret_registry: SecretRegistry
) -> None:
    client = state.directory.client(DEMO_CLIENT_ID)
    assert client is not None
    grants = tuple(g for g in client.grant_types if g != "refresh_token")
    state.directory.replace_client(dataclasses.replace(client, grant_types=grants))
    assert "refresh_token" not in login(domain_of(server), secret_registry)


# ---- rotation, reuse detection, leeway ----------------------------------------------------------


def test_rotation_returns_a_new_token_and_reuse_revokes_the_family(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    domain = auth0_emulator.domain
    first = login(domain, secret_registry)["refresh_token"]
    second = refresh(domain, first, secret_registry)["refresh_token"]
    third = refresh(domain, second, secret_registry)["refresh_token"]
    assert len({first, second, third}) == 3
    auth0_emulator.advance_clock(6)  # past the demo client's 5 s leeway
    assert refused(domain, second) == UNKNOWN  # reuse detected ...
    assert refused(domain, third) == UNKNOWN  # ... and the whole family is gone
    other = login(domain, secret_registry)["refresh_token"]  # another login's family is untouched
    assert "access_token" in refresh(domain, other, secret_registry)


def test_leeway_lets_the_immediately_previous_token_through(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    domain = auth0_emulator.domain
    first = login(domain, secret_registry)["refresh_token"]
    second = refresh(domain, first, secret_registry)["refresh_token"]
    auth0_emulator.advance_clock(3)
    sibling = refresh(domain, first, secret_registry)["refresh_token"]  # a second tab, within 5 s
    assert sibling not in {first, second}
    assert "access_token" in refresh(domain, second, secret_registry)
    assert "access_token" in refresh(domain, sibling, secret_registry)
    assert refused(domain, first) == UNKNOWN  # no longer the immediately previous token: reuse


def test_non_rotating_client_keeps_its_token(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    domain = auth0_emulator.domain
    untrusted = {"client_id": UNTRUSTED_CLIENT_ID, "secret": UNTRUSTED_CLIENT_SECRET}
    token = login(domain, secret_registry, **untrusted)["refresh_token"]
    for _ in range(2):
        assert "refresh_token" not in refresh(domain, token, secret_registry, **untrusted)
    assert refused(domain, token) == UNKNOWN  # bound to its client


def test_idle_and_absolute_lifetimes(auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry) -> None:
    domain = auth0_emulator.domain
    idle = login(domain, secret_registry)["refresh_token"]
    auth0_emulator.advance_clock(1_296_001)  # the demo client's 15-day idle lifetime
    assert refused(domain, idle) == UNKNOWN
    token = login(domain, secret_registry)["refresh_token"]
    for _ in range(2):  # used every 10 days: never idle ...
        auth0_emulator.advance_clock(864_000)
        token = refresh(domain, token, secret_registry)["refresh_token"]
    auth0_emulator.advance_clock(864_001)  # ... but past the 30-day absolute lifetime
    assert refused(domain, token) == UNKNOWN


def test_scope_may_only_narrow_and_does_not_use_up_the_token(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    token = login(auth0_emulator.domain, secret_registry)["refresh_token"]
    body = {
        "grant_type": "refresh_token",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "refresh_token": token,
    }
    wider = http.post("/oauth/token", json={**body, "scope": "openid read:everything"})
    assert (wider.status_code, wider.json()["error"]) == (403, "invalid_scope")
    narrower = http.post(
        "/oauth/token", json={**body, "scope": "openid"}, headers={"auth0-forwarded-for": USER_IP}
    )
    secret_registry.add_tokens_from(narrower.json())
    assert narrower.status_code == 200
    (*_, record) = auth0_emulator.token_requests()
    assert (record["grant_type"], record["forwarded_for"], record["attributed_ip"]) == (
        "refresh_token",
        USER_IP,
        USER_IP,
    )


# ---- /oauth/revoke ---------------------------------------------------------------------------------


def test_revoke_with_the_sdk_then_the_token_is_refused(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    domain = auth0_emulator.domain
    token = login(domain, secret_registry)["refresh_token"]
    other = login(domain, secret_registry)["refresh_token"]
    revoke(domain, token)
    assert refused(domain, token) == UNKNOWN
    assert "access_token" in refresh(domain, other, secret_registry)  # flag off: only that token's family
    record = auth0_emulator.token_requests()[2]
    assert (record["endpoint"], record["status"], record["grant_type"]) == ("/oauth/revoke", 200, None)


def test_revoke_answers_200_empty_also_for_unknown_tokens(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    body = {"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, "token": "never-issued-token"}
    for response in (http.post("/oauth/revoke", json=body), http.post("/oauth/revoke", data=body)):
        assert (response.status_code, response.content) == (200, b"")
    wrong = http.post("/oauth/revoke", json={**body, "client_secret": "wrong-secret-value"})
    assert (wrong.status_code, wrong.json()["error"]) == (401, "invalid_client")
    missing = http.post("/oauth/revoke", json={k: v for k, v in body.items() if k != "token"})
    assert (missing.status_code, missing.json()["error"]) == (400, "invalid_request")


def test_revocation_deletes_grant_flag(
    state: EmulatorState, server: EmulatorServer, secret_registry: SecretRegistry
) -> None:
    state.revoke_refresh_token_grant = True
    domain = domain_of(server)
    token = login(domain, secret_registry)["refresh_token"]
    other = login(domain, secret_registry)["refresh_token"]
    revoke(domain, token)
    assert refused(domain, other) == UNKNOWN  # every token of alice + client + audience


def test_revoking_another_clients_token_changes_nothing(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    domain = auth0_emulator.domain
    token = login(domain, secret_registry)["refresh_token"]
    revoke(domain, token, UNTRUSTED_CLIENT_ID, UNTRUSTED_CLIENT_SECRET)
    assert "access_token" in refresh(domain, token, secret_registry)


def test_revoke_form_body_over_http(auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry) -> None:
    token = login(auth0_emulator.domain, secret_registry)["refresh_token"]
    response = httpx.post(
        f"{auth0_emulator.base_url}/oauth/revoke",
        data={"client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET, "token": token},
    )
    assert response.status_code == 200
    assert refused(auth0_emulator.domain, token) == UNKNOWN


def test_the_revocation_flag_through_the_management_api(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    auth = {"Authorization": "Bearer local-management-token"}
    path = "/api/v2/tenants/settings"
    assert http.get(path, headers=auth).json() == {"flags": {"revoke_refresh_token_grant": False}}
    patched = http.patch(path, json={"flags": {"revoke_refresh_token_grant": True}}, headers=auth)
    assert patched.json() == {"flags": {"revoke_refresh_token_grant": True}}
    domain = auth0_emulator.domain
    token = login(domain, secret_registry)["refresh_token"]
    other = login(domain, secret_registry)["refresh_token"]
    revoke(domain, token)
    assert refused(domain, other) == UNKNOWN
    assert http.patch(path, json={"flags": {"other_flag": True}}, headers=auth).status_code == 400
    assert http.patch(path, json={"friendly_name": "x"}, headers=auth).status_code == 400


def test_without_leeway_two_refreshes_of_one_token_trip_reuse_detection(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    domain = auth0_emulator.domain
    auth0_emulator.http.patch(
        f"/api/v2/clients/{DEMO_CLIENT_ID}",
        json={"refresh_token": {"leeway": 0}},
        headers={"Authorization": "Bearer local-management-token"},
    ).raise_for_status()
    token = login(domain, secret_registry)["refresh_token"]
    first_tab = refresh(domain, token, secret_registry)["refresh_token"]
    assert refused(domain, token) == UNKNOWN  # the second tab, at once: reuse
    assert refused(domain, first_tab) == UNKNOWN  # the whole family went with it
