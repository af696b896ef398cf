"""``GET /api/v2/users`` over real HTTP: the user search the password-reset function sends, with a
token of the demo tenant's reset-lookup client (``read:users``), Auth0's user shape, ``fields``,
scopes and the 400 for a query outside the subset."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures.emulator import (
    BOB_USERNAME,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CONNECTION,
    DEMO_USERS,
    DOCTOR_CLIENT_ID,
    DOCTOR_CLIENT_SECRET,
    MANAGEMENT_TOKEN,
    RESET_LOOKUP_CLIENT_ID,
    RESET_LOOKUP_CLIENT_SECRET,
    EmulatorHandle,
)
from tests.fixtures.secret_hygiene import SecretRegistry

pytestmark = pytest.mark.integration

BOB_QUERY = f'username:"{BOB_USERNAME}" AND identities.connection:"{DEMO_CONNECTION}"'


def token_of(
    emulator: EmulatorHandle, registry: SecretRegistry, client_id: str, secret: str
) -> dict[str, str]:
    answer = emulator.management_token(client_id, secret)
    registry.add_tokens_from(answer)
    return {"Authorization": f"Bearer {answer['access_token']}"}


@pytest.fixture
def lookup(auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry) -> dict[str, str]:
    """The reset-lookup client's token: the one the reset function gets."""
    return token_of(auth0_emulator, secret_registry, RESET_LOOKUP_CLIENT_ID, RESET_LOOKUP_CLIENT_SECRET)


def search(http: httpx.Client, headers: dict[str, str], **params: str) -> httpx.Response:
    return http.get("/api/v2/users", params={"search_engine": "v3", **params}, headers=headers)


def test_the_reset_functions_search_finds_bobs_email(
    auth0_emulator: EmulatorHandle, lookup: dict[str, str]
) -> None:
    """The exact parameters ``ropguard.user_lookup`` sends."""
    response = search(auth0_emulator.http, lookup, q=BOB_QUERY, fields="email", include_fields="true")
    assert response.status_code == 200
    assert response.json() == [{"email": DEMO_USERS["bob"][0]}]


def test_a_user_comes_in_auth0s_shape(auth0_emulator: EmulatorHandle, lookup: dict[str, str]) -> None:
    (bob,) = search(auth0_emulator.http, lookup, q=BOB_QUERY).json()
    assert bob["user_id"] == "auth0|bob"
    assert (bob["email"], bob["username"]) == (DEMO_USERS["bob"][0], BOB_USERNAME)
    assert bob["identities"] == [
        {"connection": DEMO_CONNECTION, "provider": "auth0", "user_id": "bob", "isSocial": False}
    ]
    without = search(auth0_emulator.http, lookup, q=BOB_QUERY, fields="identities", include_fields="false")
    (trimmed,) = without.json()
    assert "identities" not in trimmed
    assert trimmed["user_id"] == "auth0|bob"


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ('username:"nobody"', []),
        ('email:"Alice@Example.com"', ["auth0|alice"]),
        (f'username:"{BOB_USERNAME}" AND identities.connection:"Another-Connection"', []),
    ],
)
def test_no_match_is_an_empty_list(
    auth0_emulator: EmulatorHandle, lookup: dict[str, str], q: str, found: list[str]
) -> None:
    response = search(auth0_emulator.http, lookup, q=q)
    assert response.status_code == 200
    assert [user["user_id"] for user in response.json()] == found


@pytest.mark.parametrize(
    "params",
    [
        {"q": "username:bob"},
        {"q": 'username:"bob" OR email:"x"'},
        {"q": 'app_metadata.plan:"gold"'},
        {"q": BOB_QUERY, "search_engine": "v2"},
        {"q": BOB_QUERY, "include_fields": "yes"},
    ],
)
def test_a_query_it_cannot_answer_is_400(
    auth0_emulator: EmulatorHandle, lookup: dict[str, str], params: dict[str, Any]
) -> None:
    response = search(auth0_emulator.http, lookup, **params)
    assert response.status_code == 400
    assert response.json()["statusCode"] == 400
    assert response.json()["errorCode"] in {"invalid_query_string", "invalid_body"}


def test_read_users_is_required(auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry) -> None:
    doctor = token_of(auth0_emulator, secret_registry, DOCTOR_CLIENT_ID, DOCTOR_CLIENT_SECRET)
    response = search(auth0_emulator.http, doctor, q=BOB_QUERY)
    assert response.status_code == 403
    assert response.json() == {
        "statusCode": 403,
        "error": "Forbidden",
        "message": "Insufficient scope, expected any of: read:users",
        "errorCode": "insufficient_scope",
    }
    assert auth0_emulator.http.get("/api/v2/users", params={"q": BOB_QUERY}).status_code == 401
    static = {"Authorization": f"Bearer {MANAGEMENT_TOKEN}"}
    assert search(auth0_emulator.http, static, q=BOB_QUERY).status_code == 200


def test_the_reset_lookup_client_has_read_users_only(
    auth0_emulator: EmulatorHandle, lookup: dict[str, str]
) -> None:
    response = auth0_emulator.http.get("/api/v2/logs", headers=lookup)
    assert response.status_code == 403


def test_bob_logs_in_with_his_username(auth0_emulator: EmulatorHandle) -> None:
    """Auth0 lets a user of a username connection log in with either; bob's password is breached."""
    response = auth0_emulator.http.post(
        "/oauth/token",
        json={
            "grant_type": "password",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "username": BOB_USERNAME,
            "password": DEMO_USERS["bob"][1],
        },
    )
    assert (response.status_code, response.json()["error"]) == (401, "password_leaked")
