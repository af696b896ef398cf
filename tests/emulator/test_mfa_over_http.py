"""MFA through the emulator's HTTP API and auth0-python: mfa_required carries an mfa_token that the
mfa-otp grant exchanges, together with a real TOTP code, for tokens (once)."""

from __future__ import annotations

from typing import Any

import pyotp
import pytest
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error

from tests.fixtures.emulator import (
    CAROL_TOTP_SECRET,
    DEMO_AUDIENCE,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CONNECTION,
    DEMO_USERS,
    EmulatorHandle,
)
from tests.fixtures.secret_hygiene import SecretRegistry

pytestmark = pytest.mark.integration

MFA_OTP = "http://auth0.com/oauth/grant-type/mfa-otp"
USER_IP = "203.0.113.99"


def current_otp(emulator: EmulatorHandle) -> str:
    """Carol's TOTP code at the emulator's time (the session server's clock may have been moved)."""
    return pyotp.TOTP(CAROL_TOTP_SECRET).at(int(emulator.server.state.clock.now()))


def mfa_otp(sdk: GetToken, mfa_token: str, otp: str) -> Any:
    """auth0-python has no mfa-otp helper; its authenticated_post adds the client secret."""
    return sdk.authenticated_post(
        f"{sdk.protocol}://{sdk.domain}/oauth/token",
        data={"grant_type": MFA_OTP, "client_id": sdk.client_id, "mfa_token": mfa_token, "otp": otp},
    )


def test_mfa_required_then_mfa_otp_through_the_sdk(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    sdk = GetToken(
        auth0_emulator.domain,
        DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        protocol="http",
        telemetry=False,
    )
    username, password = DEMO_USERS["carol"]
    with pytest.raises(Auth0Error) as raised:
        sdk.login(
            username, password, realm=DEMO_CONNECTION, audience=DEMO_AUDIENCE, scope="openid",
            forwarded_for=USER_IP,
        )  # fmt: skip
    assert (raised.value.status_code, raised.value.error_code) == (403, "mfa_required")
    challenge = raised.value.content
    assert isinstance(challenge, dict)
    assert challenge["mfa_requirements"] == {"challenge": [{"type": "otp"}]}
    mfa_token = challenge["mfa_token"]
    secret_registry.add("mfa_token", mfa_token)

    with pytest.raises(Auth0Error) as wrong:
        mfa_otp(sdk, mfa_token, "000000" if current_otp(auth0_emulator) != "000000" else "111111")
    assert (wrong.value.status_code, wrong.value.error_code) == (403, "invalid_grant")

    otp = current_otp(auth0_emulator)
    secret_registry.add_otp(otp)
    tokens = mfa_otp(sdk, mfa_token, otp)
    secret_registry.add_tokens_from(tokens)
    assert tokens["token_type"] == "Bearer"
    assert {"access_token", "id_token"} <= set(tokens)

    with pytest.raises(Auth0Error) as replay:
        mfa_otp(sdk, mfa_token, otp)
    assert (replay.value.status_code, replay.value.error_code) == (403, "invalid_grant")

    grants = [
        (record["grant_type"], record["status"], record["error"])
        for record in auth0_emulator.token_requests()
    ]
    assert grants == [
        ("http://auth0.com/oauth/grant-type/password-realm", 403, "mfa_required"),
        (MFA_OTP, 403, "invalid_grant"),
        (MFA_OTP, 200, None),
        (MFA_OTP, 403, "invalid_grant"),
    ]
