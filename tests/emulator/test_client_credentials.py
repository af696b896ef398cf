"""The ``client_credentials`` grant and Management API tokens over real HTTP
(``auth0_emulator/client_credentials.py``): the doctor's M2M client, through auth0-python."""

from __future__ import annotations

import jwt
import pytest
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error

from tests.fixtures.emulator import (
    DEMO_AUDIENCE,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DOCTOR_CLIENT_ID,
    DOCTOR_CLIENT_SECRET,
    EmulatorHandle,
)
from tests.fixtures.secret_hygiene import SecretRegistry

pytestmark = pytest.mark.integration

DOCTOR_SCOPES = {
    "read:clients",
    "update:clients",
    "read:attack_protection",
    "update:attack_protection",
    "read:logs",
}


def doctor(emulator: EmulatorHandle, secret: str = DOCTOR_CLIENT_SECRET) -> GetToken:
    return GetToken(emulator.domain, DOCTOR_CLIENT_ID, client_secret=secret, protocol="http", telemetry=False)


def management_audience(emulator: EmulatorHandle) -> str:
    return f"{emulator.base_url}/api/v2/"


def test_doctor_gets_a_management_token_the_api_accepts(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    answer = doctor(auth0_emulator).client_credentials(management_audience(auth0_emulator))
    secret_registry.add_tokens_from(answer)
    assert (answer["token_type"], answer["expires_in"]) == ("Bearer", 86_400)
    assert set(answer["scope"].split()) == DOCTOR_SCOPES
    claims = jwt.decode(answer["access_token"], options={"verify_signature": False})
    assert (claims["sub"], claims["aud"], claims["gty"]) == (
        f"{DOCTOR_CLIENT_ID}@clients",
        management_audience(auth0_emulator),
        "client-credentials",
    )
    headers = {"Authorization": f"Bearer {answer['access_token']}"}
    assert auth0_emulator.http.get(f"/api/v2/clients/{DEMO_CLIENT_ID}", headers=headers).status_code == 200
    assert auth0_emulator.http.get("/api/v2/logs", headers=headers).status_code == 200
    (record,) = auth0_emulator.token_requests()
    assert (record["grant_type"], record["client_id"], record["status"]) == (
        "client_credentials",
        DOCTOR_CLIENT_ID,
        200,
    )


def test_requested_scopes_narrow_and_must_be_granted(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    audience = management_audience(auth0_emulator)
    narrow = auth0_emulator.http.post(
        "/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": DOCTOR_CLIENT_ID,
            "client_secret": DOCTOR_CLIENT_SECRET,
            "audience": audience,
            "scope": "read:logs",
        },
    )
    secret_registry.add_tokens_from(narrow.json())
    assert narrow.json()["scope"] == "read:logs"
    wider = auth0_emulator.http.post(
        "/oauth/token",
        json={
            "grant_type": "client_credentials",
            "client_id": DOCTOR_CLIENT_ID,
            "client_secret": DOCTOR_CLIENT_SECRET,
            "audience": audience,
            "scope": "read:logs delete:users",
        },
    )
    assert (wider.status_code, wider.json()["error"]) == (403, "access_denied")
    assert "delete:users" in wider.json()["error_description"]


@pytest.mark.parametrize(
    ("audience", "secret", "expected"),
    [
        (DEMO_AUDIENCE, DOCTOR_CLIENT_SECRET, (403, "access_denied")),  # no client grant for that API
        ("", DOCTOR_CLIENT_SECRET, (403, "access_denied")),
        (None, "wrong-secret-for-doctor", (401, "invalid_client")),
    ],
)
def test_refusals(
    auth0_emulator: EmulatorHandle, audience: str | None, secret: str, expected: tuple[int, str]
) -> None:
    with pytest.raises(Auth0Error) as raised:
        doctor(auth0_emulator, secret).client_credentials(
            management_audience(auth0_emulator) if audience is None else audience
        )
    assert (raised.value.status_code, raised.value.error_code) == expected


def test_a_client_without_the_grant_type_is_refused(auth0_emulator: EmulatorHandle) -> None:
    sdk = GetToken(
        auth0_emulator.domain,
        DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        protocol="http",
        telemetry=False,
    )
    with pytest.raises(Auth0Error) as raised:
        sdk.client_credentials(management_audience(auth0_emulator))
    assert (raised.value.status_code, raised.value.error_code) == (403, "unauthorized_client")


def test_management_tokens_expire_on_the_emulator_clock(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    answer = doctor(auth0_emulator).client_credentials(management_audience(auth0_emulator))
    secret_registry.add_tokens_from(answer)
    auth0_emulator.advance_clock(86_401)
    response = auth0_emulator.http.get(
        "/api/v2/logs", headers={"Authorization": f"Bearer {answer['access_token']}"}
    )
    assert (response.status_code, response.json()["errorCode"]) == (401, "invalid_token")
