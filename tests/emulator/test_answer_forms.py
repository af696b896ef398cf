"""The answers whose form depends on tenant settings, on the model (no HTTP): Bot Detection's
``requires_verification``, the MFA failure forms, Basic-only clients, change_password's 404.
Over HTTP: test_answer_forms_over_http.py."""

from __future__ import annotations

import pytest

from auth0_emulator import EmulatorState
from auth0_emulator.admin import Administration
from auth0_emulator.calls import TokenCall
from auth0_emulator.mfa import MfaDialect, mfa_error
from auth0_emulator.settings import BotDetectionSettings
from auth0_emulator.shields import REQUIRES_VERIFICATION
from auth0_emulator.tenant import parse_tenant
from auth0_emulator.tenant_logs import LogQuery
from auth0_emulator.validation import ValidationError
from tests.emulator.conftest import SERVER_IP, USER_IP, error_of, login
from tests.fixtures.emulator import (
    DEMO_AUDIENCE,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CONNECTION,
    DEMO_USERS,
)

MALLORY = "mallory@example.com"
MALLORY_PASSWORD = "mallory-needs-a-captcha-4"
BOT_ADDRESS = "192.0.2.66"
BASIC_CLIENT_ID = DEMO_CLIENT_ID  # switched to client_secret_basic through the Management API
BASIC_CLIENT_SECRET = DEMO_CLIENT_SECRET
SWITCH_TO_BASIC = {"token_endpoint_auth_method": "client_secret_basic"}
ALICE, ALICE_PASSWORD = DEMO_USERS["alice"]


# ---- Bot Detection ---------------------------------------------------------------------------------


@pytest.mark.parametrize("password", [MALLORY_PASSWORD, "a-wrong-password"])
def test_a_listed_user_must_verify_whatever_the_password(state: EmulatorState, password: str) -> None:
    reply = login(state, MALLORY, password)
    assert error_of(reply) == (401, "requires_verification")
    assert isinstance(reply.body, dict)
    assert reply.body["error_description"] == REQUIRES_VERIFICATION
    # Not a failed password: nothing counted towards a block.
    assert state.brute_force.count(MALLORY, USER_IP, state.brute_force_settings, state.clock.now()) == 0


def test_a_listed_address_must_verify_and_others_log_in(state: EmulatorState) -> None:
    assert error_of(login(state, ALICE, ALICE_PASSWORD, forwarded_for=BOT_ADDRESS)) == (
        401,
        "requires_verification",
    )
    assert login(state, ALICE, ALICE_PASSWORD).status == 200


def test_the_refusal_is_a_failed_exchange_in_the_tenant_logs(state: EmulatorState) -> None:
    login(state, MALLORY, MALLORY_PASSWORD)
    (event,) = [e for e in state.journal.logs.search(LogQuery(per_page=100))[0] if e.type == "fepft"]
    assert event.details["error"] == "requires_verification"
    assert event.user_name == MALLORY


def test_bot_detection_lists_are_validated() -> None:
    assert BotDetectionSettings.parse({"users": ["A@Example.com"]}, "b").is_risky("a@example.COM", "10.0.0.1")
    ranges = BotDetectionSettings.parse({"addresses": ["198.51.100.0/24"]}, "b")
    assert ranges.is_risky("x", "198.51.100.7")
    assert not ranges.is_risky("x", "198.51.101.7")
    for bad in [{"addresses": ["not-an-ip"]}, {"users": "one"}, {"level": "high"}]:
        with pytest.raises(ValidationError, match="bot_detection"):
            parse_tenant(
                {"tenant": {"management_api_token": "t"}, "attack_protection": {"bot_detection": bad}}
            )


# ---- MFA failure forms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dialect", "expected"),
    [
        (
            MfaDialect("legacy", "forbidden"),
            {
                "malformed_token": (403, "invalid_grant"),
                "expired_token": (403, "expired_token"),
                "invalid_otp": (403, "invalid_grant"),
                "invalid_oob_code": (403, "invalid_grant"),
                "invalid_recovery_code": (403, "invalid_grant"),
            },
        ),
        (
            MfaDialect("legacy", "reference"),
            {
                "malformed_token": (401, "access_denied"),
                "expired_token": (401, "access_denied"),
                "invalid_otp": (400, "invalid_grant"),
                "invalid_binding_code": (400, "invalid_grant"),
                "invalid_oob_code": (401, "access_denied"),
                "invalid_recovery_code": (401, "access_denied"),
            },
        ),
        (
            MfaDialect("current", "reference"),
            {
                "malformed_token": (401, "mfa_token_invalid"),
                "expired_token": (401, "mfa_token_invalid"),
                "invalid_otp": (400, "invalid_otp"),
                "invalid_binding_code": (400, "invalid_binding_code"),
                "invalid_oob_code": (401, "invalid_oob_code"),
                "invalid_recovery_code": (401, "invalid_recovery_code"),
            },
        ),
    ],
)
def test_mfa_failure_forms(dialect: MfaDialect, expected: dict[str, tuple[int, str]]) -> None:
    for failure, (status, code) in expected.items():
        error = mfa_error(failure, dialect)  # type: ignore[arg-type]
        assert (error.status, error.error) == (status, code), failure


def test_legacy_reference_token_failure_reads_like_auth0_android() -> None:
    assert mfa_error("malformed_token", MfaDialect("legacy", "reference")).description == "Invalid MFA token"


def test_the_tenant_file_sets_the_mfa_status_form() -> None:
    tenant = parse_tenant({"tenant": {"management_api_token": "t", "mfa_error_status": "reference"}})
    assert tenant.mfa_error_status == "reference"
    with pytest.raises(ValidationError, match=r"tenant\.mfa_error_status"):
        parse_tenant({"tenant": {"management_api_token": "t", "mfa_error_status": "401"}})


# ---- client_secret_basic ---------------------------------------------------------------------------


def basic_login(state: EmulatorState, *, basic: bool, secret_in_body: bool) -> tuple[int, str | None]:
    params = {
        "grant_type": "password",
        "username": ALICE,
        "password": ALICE_PASSWORD,
        "audience": DEMO_AUDIENCE,
        "client_id": BASIC_CLIENT_ID,
    }
    if secret_in_body:
        params["client_secret"] = BASIC_CLIENT_SECRET
    call = TokenCall(
        peer_ip=SERVER_IP,
        forwarded_for=USER_IP,
        params=params,
        basic_auth=(BASIC_CLIENT_ID, BASIC_CLIENT_SECRET) if basic else None,
    )
    return error_of(state.token(call))


def test_a_basic_client_authenticates_only_with_the_header(state: EmulatorState) -> None:
    assert basic_login(state, basic=False, secret_in_body=True) == (200, None)  # post: either way
    Administration(state).patch_client(BASIC_CLIENT_ID, SWITCH_TO_BASIC)
    assert basic_login(state, basic=True, secret_in_body=False) == (200, None)
    assert basic_login(state, basic=False, secret_in_body=True) == (401, "invalid_client")
    assert basic_login(state, basic=False, secret_in_body=False) == (401, "invalid_client")
    assert basic_login(state, basic=True, secret_in_body=True) == (401, "invalid_client")


def test_a_basic_client_proves_its_secret_so_the_header_counts(state: EmulatorState) -> None:
    Administration(state).patch_client(BASIC_CLIENT_ID, SWITCH_TO_BASIC)
    basic_login(state, basic=True, secret_in_body=False)
    assert state.token_requests()[-1]["attributed_ip"] == USER_IP


# ---- change_password's 404 -------------------------------------------------------------------------


def test_change_password_404_for_an_unknown_user_when_switched(state: EmulatorState) -> None:
    params = {"email": "nobody@example.com", "connection": DEMO_CONNECTION}
    assert state.passwords.change_password(SERVER_IP, params).status == 200
    state.settings.change_password_unknown_user = "not_found"
    reply = state.passwords.change_password(SERVER_IP, params)
    assert reply.status == 404
    assert reply.body == {"error": "not_found", "error_description": "User not found"}
    assert state.passwords.change_password(SERVER_IP, {**params, "email": ALICE}).status == 200
    state.reset()
    assert state.passwords.change_password(SERVER_IP, params).status == 200
