"""The tenant-dependent answers over real HTTP: Bot Detection, the MFA 401/400 forms and their
switch, push polling's ``interval``/``Retry-After``, Basic-only clients on every client-authenticated
endpoint, and change_password's 404."""

from __future__ import annotations

import httpx
import pytest

from auth0_emulator import EmulatorServer, ManualClock
from tests.emulator.test_answer_forms import (
    BASIC_CLIENT_ID,
    BASIC_CLIENT_SECRET,
    BOT_ADDRESS,
    MALLORY,
    MALLORY_PASSWORD,
    SWITCH_TO_BASIC,
)
from tests.emulator.test_http import password_body, post_token
from tests.emulator.test_mfa import (
    MFA_OOB,
    MFA_OTP,
    MFA_RECOVERY,
    carol_otp,
    challenge,
    error,
    grant,
    mfa_token_for,
    wrong_otp,
)
from tests.fixtures.emulator import (
    CAROL_RECOVERY_CODES,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CONNECTION,
    DEMO_USERS,
    MANAGEMENT_TOKEN,
    EmulatorHandle,
)
from tests.fixtures.secret_hygiene import SecretRegistry

pytestmark = pytest.mark.integration

ALICE, ALICE_PASSWORD = DEMO_USERS["alice"]


# ---- Bot Detection ---------------------------------------------------------------------------------


def test_bot_detection_answers_requires_verification(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    assert error(post_token(auth0_emulator, password_body(MALLORY, MALLORY_PASSWORD))) == (
        401,
        "requires_verification",
        "Suspicious request requires verification",
    )
    assert error(post_token(auth0_emulator, password_body(), forwarded_for=BOT_ADDRESS))[:2] == (
        401,
        "requires_verification",
    )
    ok = post_token(auth0_emulator, password_body())
    secret_registry.add_tokens_from(ok.json())
    assert ok.status_code == 200


# ---- MFA failure forms -----------------------------------------------------------------------------


def switch(http: httpx.Client, **switches: str) -> None:
    answer = http.post("/__emulator/tenant", json=switches)
    assert (answer.status_code, answer.json()) == (200, switches)


def test_reference_statuses_with_legacy_codes(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    switch(http, mfa_error_status="reference")
    token = mfa_token_for(http, "carol", secret_registry)
    wrong = wrong_otp(carol_otp(auth0_emulator))
    assert error(grant(http, MFA_OTP, token, otp=wrong)) == (400, "invalid_grant", "Invalid otp_code.")
    assert error(grant(http, MFA_OTP, "not-a-token", otp=wrong)) == (
        401,
        "access_denied",
        "Invalid MFA token",
    )
    assert error(grant(http, MFA_RECOVERY, token, recovery_code="NOPE"))[:2] == (401, "access_denied")
    assert error(grant(http, MFA_OOB, token, oob_code="no-such-code"))[:2] == (401, "access_denied")
    authenticators = http.get("/mfa/authenticators", headers={"Authorization": "Bearer not-a-token"})
    assert error(authenticators)[:2] == (401, "access_denied")


def test_reference_statuses_with_current_codes(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    switch(http, mfa_error_format="current", mfa_error_status="reference")
    token = mfa_token_for(http, "carol", secret_registry)
    wrong = wrong_otp(carol_otp(auth0_emulator))
    assert error(grant(http, MFA_OTP, token, otp=wrong))[:2] == (400, "invalid_otp")
    assert error(grant(http, MFA_OTP, "not-a-token", otp=wrong))[:2] == (401, "mfa_token_invalid")
    assert error(grant(http, MFA_RECOVERY, token, recovery_code="NOPE"))[:2] == (401, "invalid_recovery_code")
    assert error(grant(http, MFA_OOB, token, oob_code="no-such-code"))[:2] == (401, "invalid_oob_code")
    # A right code still works after wrong ones: the form changed, not the rules.
    ok = grant(http, MFA_RECOVERY, token, recovery_code=CAROL_RECOVERY_CODES[0])
    secret_registry.add_tokens_from(ok.json())
    assert ok.status_code == 200


def test_the_status_switch_lasts_until_reset(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    switch(http, mfa_error_status="reference")
    auth0_emulator.reset()
    token = mfa_token_for(http, "carol", secret_registry)
    wrong = wrong_otp(carol_otp(auth0_emulator))
    assert error(grant(http, MFA_OTP, token, otp=wrong))[:2] == (403, "invalid_grant")
    assert http.post("/__emulator/tenant", json={"mfa_error_status": "teapot"}).status_code == 400


# ---- push polling ----------------------------------------------------------------------------------


def test_push_polling_answers_carry_the_interval(
    manual_server: EmulatorServer, clock: ManualClock, secret_registry: SecretRegistry
) -> None:
    """On a manual clock, so the seconds left in Retry-After are exact."""
    with httpx.Client(base_url=manual_server.base_url, timeout=10) as http:
        token = mfa_token_for(http, "frank", secret_registry)
        oob_code = challenge(http, token).json()["oob_code"]
        secret_registry.add("oob_code", oob_code)
        pending = grant(http, MFA_OOB, token, oob_code=oob_code)
        assert (pending.status_code, pending.json()["error"], pending.json()["interval"]) == (
            400,
            "authorization_pending",
            5,
        )
        clock.advance(2)
        slow = grant(http, MFA_OOB, token, oob_code=oob_code)
    assert (slow.status_code, slow.json()["error"], slow.json()["interval"]) == (429, "slow_down", 5)
    assert slow.headers["Retry-After"] == "3"


# ---- client_secret_basic ---------------------------------------------------------------------------


MANAGEMENT = {"Authorization": f"Bearer {MANAGEMENT_TOKEN}"}


@pytest.fixture
def basic_client(auth0_emulator: EmulatorHandle) -> EmulatorHandle:
    """The demo login client switched to client_secret_basic (the reset before each test undoes it)."""
    patched = auth0_emulator.http.patch(
        f"/api/v2/clients/{BASIC_CLIENT_ID}", json=SWITCH_TO_BASIC, headers=MANAGEMENT
    )
    assert patched.status_code == 200
    return auth0_emulator


def basic_body(**params: str) -> dict[str, str]:
    return {"client_id": BASIC_CLIENT_ID, **params}


def test_a_basic_client_logs_in_with_the_header_only(
    basic_client: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = basic_client.http
    login = basic_body(grant_type="password", username=ALICE, password=ALICE_PASSWORD, scope="offline_access")
    in_body = http.post("/oauth/token", data={**login, "client_secret": BASIC_CLIENT_SECRET})
    assert error(in_body)[:2] == (401, "invalid_client")
    ok = http.post("/oauth/token", data=login, auth=(BASIC_CLIENT_ID, BASIC_CLIENT_SECRET))
    secret_registry.add_tokens_from(ok.json())
    assert ok.status_code == 200
    refresh_token = ok.json()["refresh_token"]
    revoke = {"token": refresh_token}
    assert error(
        http.post("/oauth/revoke", data={**basic_body(**revoke), "client_secret": BASIC_CLIENT_SECRET})
    )[:2] == (401, "invalid_client")
    assert (
        http.post("/oauth/revoke", data=revoke, auth=(BASIC_CLIENT_ID, BASIC_CLIENT_SECRET)).status_code
        == 200
    )


def test_a_basic_client_on_the_mfa_endpoints(
    basic_client: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = basic_client.http
    username, password = DEMO_USERS["carol"]
    login = basic_body(grant_type="password", username=username, password=password, realm=DEMO_CONNECTION)
    required = http.post("/oauth/token", data=login, auth=(BASIC_CLIENT_ID, BASIC_CLIENT_SECRET)).json()
    token = required["mfa_token"]
    secret_registry.add("mfa_token", token)
    in_body = http.post("/mfa/challenge", json=basic_body(mfa_token=token, client_secret=BASIC_CLIENT_SECRET))
    assert error(in_body)[:2] == (401, "invalid_client")
    answer = http.post(
        "/mfa/challenge", json=basic_body(mfa_token=token), auth=(BASIC_CLIENT_ID, BASIC_CLIENT_SECRET)
    )
    assert answer.json() == {"challenge_type": "otp"}
    otp = carol_otp(basic_client)
    secret_registry.add_otp(otp)
    otp_grant = basic_body(grant_type=MFA_OTP, mfa_token=token, otp=otp)
    assert error(http.post("/oauth/token", data={**otp_grant, "client_secret": BASIC_CLIENT_SECRET}))[:2] == (
        401,
        "invalid_client",
    )
    ok = http.post("/oauth/token", data=otp_grant, auth=(BASIC_CLIENT_ID, BASIC_CLIENT_SECRET))
    secret_registry.add_tokens_from(ok.json())
    assert ok.status_code == 200


def test_a_post_client_may_still_use_either_method(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    body = {"grant_type": "password", "username": ALICE, "password": ALICE_PASSWORD}
    with_header = http.post("/oauth/token", data=body, auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET))
    in_body = post_token(auth0_emulator, password_body())
    secret_registry.add_tokens_from(with_header.json())
    secret_registry.add_tokens_from(in_body.json())
    assert (with_header.status_code, in_body.status_code) == (200, 200)


def test_the_management_api_shows_the_method(basic_client: EmulatorHandle) -> None:
    answer = basic_client.http.get(f"/api/v2/clients/{BASIC_CLIENT_ID}", headers=MANAGEMENT)
    assert answer.json()["token_endpoint_auth_method"] == "client_secret_basic"


# ---- change_password's 404 -------------------------------------------------------------------------


def test_change_password_404_when_switched(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    body = {"email": "nobody@example.com", "connection": DEMO_CONNECTION}
    assert http.post("/dbconnections/change_password", json=body).status_code == 200
    switch(http, change_password_unknown_user="not_found")
    gone = http.post("/dbconnections/change_password", json=body)
    assert (gone.status_code, gone.json()) == (
        404,
        {"error": "not_found", "error_description": "User not found"},
    )
    known = http.post("/dbconnections/change_password", json={**body, "email": ALICE})
    assert known.status_code == 200
