"""The token endpoint's grants, errors, attribution and tokens, on the model."""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

import jwt
import pyotp
import pytest

from auth0_emulator import EmulatorState, ManualClock
from auth0_emulator.admin import Administration
from auth0_emulator.attribution import attribute_ip
from auth0_emulator.calls import TokenCall
from auth0_emulator.clients import ClientConfig
from auth0_emulator.tenant import RateLimitConfig, load_tenant_file
from tests.emulator.conftest import SERVER_IP, error_of, login
from tests.fixtures.emulator import (
    CAROL_TOTP_SECRET,
    DEMO_AUDIENCE,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_TENANT,
    DEMO_USERS,
    UNTRUSTED_CLIENT_ID,
    UNTRUSTED_CLIENT_SECRET,
)

ALICE, ALICE_PASSWORD = DEMO_USERS["alice"]
CAROL, CAROL_PASSWORD = DEMO_USERS["carol"]
MFA_OTP = "http://auth0.com/oauth/grant-type/mfa-otp"

TRUSTED = ClientConfig("c", "c", "s", "client_secret_post", True, ("password",))


# ---- attribution ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "client", "verified", "expected"),
    [
        ("203.0.113.9", TRUSTED, True, ("203.0.113.9", "header")),
        ("2001:db8::9", TRUSTED, True, ("2001:db8::9", "header")),
        ("::ffff:203.0.113.9", TRUSTED, True, ("203.0.113.9", "header")),
        (None, TRUSTED, True, (SERVER_IP, "peer")),
        ("203.0.113.9", dataclasses.replace(TRUSTED, is_token_endpoint_ip_header_trusted=False), True,
         (SERVER_IP, "peer")),
        ("203.0.113.9", dataclasses.replace(TRUSTED, token_endpoint_auth_method="none"), False,
         (SERVER_IP, "peer")),
        ("203.0.113.9", TRUSTED, False, (SERVER_IP, "peer")),
        ("203.0.113.9", None, False, (SERVER_IP, "peer")),
        ("", TRUSTED, True, (SERVER_IP, "peer")),
        ("203.0.113.9, 198.51.100.1", TRUSTED, True, (SERVER_IP, "peer")),
        (" 203.0.113.9", TRUSTED, True, (SERVER_IP, "peer")),
        ("not-an-ip", TRUSTED, True, (SERVER_IP, "peer")),
        ("203.0.113.0/24", TRUSTED, True, (SERVER_IP, "peer")),
        ("fe80::1%eth0", TRUSTED, True, (SERVER_IP, "peer")),
    ],
)  # fmt: skip
def test_attribution(header, client, verified, expected) -> None:
    attribution = attribute_ip(SERVER_IP, header, client, verified)
    assert (attribution.ip, attribution.source) == expected


def test_peer_ipv4_mapped_is_normalised() -> None:
    assert attribute_ip("::ffff:10.0.0.1", None, None, False).ip == "10.0.0.1"


def test_untrusted_client_is_counted_on_the_server_ip(state: EmulatorState) -> None:
    for _ in range(10):
        login(state, ALICE, "x", client_id=UNTRUSTED_CLIENT_ID, client_secret=UNTRUSTED_CLIENT_SECRET)
    # Every user behind our server is now blocked for alice: the failure mode the header prevents.
    reply = login(
        state, ALICE, ALICE_PASSWORD, forwarded_for="192.0.2.44",
        client_id=UNTRUSTED_CLIENT_ID, client_secret=UNTRUSTED_CLIENT_SECRET,
    )  # fmt: skip
    assert error_of(reply) == (429, "too_many_attempts")
    assert {r["attributed_ip"] for r in state.token_requests()} == {SERVER_IP}
    assert login(state, ALICE, ALICE_PASSWORD).status == 200  # trusted client: the user's own IP


def test_trust_flag_can_be_switched_through_the_management_api(state: EmulatorState) -> None:
    Administration(state).patch_client(DEMO_CLIENT_ID, {"is_token_endpoint_ip_header_trusted": False})
    login(state, ALICE, ALICE_PASSWORD)
    assert state.token_requests()[-1]["attributed_ip"] == SERVER_IP


# ---- errors -----------------------------------------------------------------------------------


def test_unknown_user_and_wrong_password_answer_the_same(state: EmulatorState) -> None:
    wrong = login(state, ALICE, "nope")
    unknown = login(state, "ghost@example.com", "nope")
    assert (wrong.status, wrong.body) == (unknown.status, unknown.body)
    assert wrong.body == {"error": "invalid_grant", "error_description": "Wrong email or password."}


def test_blocked_user(state: EmulatorState) -> None:
    dave, password = DEMO_USERS["dave"]
    assert login(state, dave, password).body == {
        "error": "unauthorized",
        "error_description": "user is blocked",
    }
    assert error_of(login(state, dave, "wrong")) == (403, "invalid_grant")


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"client_secret": "wrong"}, (401, "invalid_client")),
        ({"client_secret": None}, (401, "invalid_client")),
        ({"client_id": "no-such-client"}, (401, "invalid_client")),
        ({"audience": "https://unknown.example"}, (403, "access_denied")),
        ({"grant_type": ""}, (400, "invalid_request")),
        ({"username": ""}, (400, "invalid_request")),
        ({"password": ""}, (400, "invalid_request")),
        ({"grant_type": "http://auth0.com/oauth/grant-type/password-realm"}, (400, "invalid_request")),
        ({"grant_type": "client_credentials"}, (403, "unauthorized_client")),
        ({"grant_type": "urn:made:up"}, (403, "unauthorized_client")),
    ],
)
def test_request_errors(state: EmulatorState, overrides: dict[str, str | None], expected) -> None:
    params = {
        "grant_type": "password",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "username": ALICE,
        "password": ALICE_PASSWORD,
        "audience": DEMO_AUDIENCE,
    }
    params.update(overrides)  # type: ignore[arg-type]
    clean = {k: v for k, v in params.items() if v is not None}
    reply = state.token(TokenCall(peer_ip=SERVER_IP, forwarded_for=None, params=clean))
    assert error_of(reply) == expected


def test_grant_type_not_allowed_for_the_client(state: EmulatorState) -> None:
    Administration(state).patch_client(DEMO_CLIENT_ID, {"grant_types": ["refresh_token"]})
    reply = login(state, ALICE, ALICE_PASSWORD)
    assert reply.body == {
        "error": "unauthorized_client",
        "error_description": "Grant type 'password' not allowed for the client.",
    }


def test_http_basic_client_authentication(state: EmulatorState) -> None:
    params = {"grant_type": "password", "username": ALICE, "password": ALICE_PASSWORD}
    call = TokenCall(SERVER_IP, None, params, basic_auth=(DEMO_CLIENT_ID, DEMO_CLIENT_SECRET))
    assert state.token(call).status == 200
    bad = TokenCall(SERVER_IP, None, params, basic_auth=(DEMO_CLIENT_ID, "wrong"))
    assert error_of(state.token(bad)) == (401, "invalid_client")


def test_password_realm_grant(state: EmulatorState) -> None:
    realm = "http://auth0.com/oauth/grant-type/password-realm"
    ok = login(state, ALICE, ALICE_PASSWORD, grant_type=realm, realm="Username-Password-Authentication")
    assert ok.status == 200
    assert error_of(login(state, ALICE, ALICE_PASSWORD, grant_type=realm, realm="nope")) == (
        400,
        "invalid_request",
    )


def test_tenant_rate_limit(clock: ManualClock, signer) -> None:
    config = dataclasses.replace(load_tenant_file(DEMO_TENANT), rate_limit=RateLimitConfig(True, 3, 60))
    state = EmulatorState(config, clock=clock, signer=signer)
    assert [login(state, ALICE, ALICE_PASSWORD).status for _ in range(3)] == [200] * 3
    limited = login(state, ALICE, ALICE_PASSWORD)
    assert error_of(limited) == (429, "too_many_requests")
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert int(limited.headers["X-RateLimit-Reset"]) == int(clock.now()) + 20
    clock.advance(20)
    assert login(state, ALICE, ALICE_PASSWORD).status == 200


# ---- grants and tokens ------------------------------------------------------------------------


def _claims(state: EmulatorState, token: str, audience: str) -> dict[str, Any]:
    key = jwt.PyJWK(state.signer.jwks()["keys"][0]).key
    # The manual clock lives in 2023, so expiry is checked by arithmetic below, not against today.
    return jwt.decode(
        token, key, algorithms=["RS256"], audience=audience, issuer=state.issuer,
        options={"verify_exp": False, "verify_iat": False},
    )  # fmt: skip


def test_tokens_are_signed_and_carry_the_claims(state: EmulatorState, clock: ManualClock) -> None:
    reply = login(state, ALICE, ALICE_PASSWORD, scope="openid read:profile offline_access bogus")
    assert reply.status == 200
    assert isinstance(reply.body, dict)
    body = reply.body
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 86400
    assert body["scope"] == "openid read:profile offline_access"  # "bogus" is not an API scope
    assert reply.headers["Cache-Control"] == "no-store"
    access = _claims(state, body["access_token"], DEMO_AUDIENCE)
    assert access["sub"] == "auth0|alice"
    assert access["azp"] == DEMO_CLIENT_ID
    assert access["aud"] == [DEMO_AUDIENCE, f"{state.issuer}userinfo"]
    assert access["exp"] - access["iat"] == 86400
    assert access["iat"] == int(clock.now())
    identity = _claims(state, body["id_token"], DEMO_CLIENT_ID)
    assert identity["email"] == ALICE
    assert body["refresh_token"]


def test_no_id_token_or_refresh_token_unless_asked(state: EmulatorState) -> None:
    reply = login(state, ALICE, ALICE_PASSWORD, scope="read:profile")
    assert isinstance(reply.body, dict)
    assert {"id_token", "refresh_token", "scope"}.isdisjoint(reply.body)


def test_refresh_token_grant(state: EmulatorState) -> None:
    first = login(state, ALICE, ALICE_PASSWORD, scope="openid offline_access")
    assert isinstance(first.body, dict)
    refresh = {"grant_type": "refresh_token", "refresh_token": first.body["refresh_token"]}
    ok = state.token(TokenCall(SERVER_IP, None, {**refresh, "client_id": DEMO_CLIENT_ID,
                                                 "client_secret": DEMO_CLIENT_SECRET}))  # fmt: skip
    assert ok.status == 200
    assert isinstance(ok.body, dict)
    assert "refresh_token" in ok.body  # the demo client rotates (test_refresh.py covers rotation)
    other = state.token(TokenCall(SERVER_IP, None, {**refresh, "client_id": UNTRUSTED_CLIENT_ID,
                                                    "client_secret": UNTRUSTED_CLIENT_SECRET}))  # fmt: skip
    assert error_of(other) == (403, "invalid_grant")
    user = state.directory.user_by_id("auth0|alice")
    assert user is not None
    user.blocked = True
    blocked = state.token(TokenCall(SERVER_IP, None, {**refresh, "client_id": DEMO_CLIENT_ID,
                                                      "client_secret": DEMO_CLIENT_SECRET}))  # fmt: skip
    assert blocked.body == {"error": "invalid_grant", "error_description": "user is blocked"}


def _mfa(state: EmulatorState, mfa_token: str, otp: str, client_id: str = DEMO_CLIENT_ID,
         secret: str = DEMO_CLIENT_SECRET):  # fmt: skip
    params = {"grant_type": MFA_OTP, "client_id": client_id, "client_secret": secret,
              "mfa_token": mfa_token, "otp": otp}  # fmt: skip
    return state.token(TokenCall(SERVER_IP, None, params))


def test_mfa_required_then_mfa_otp(state: EmulatorState, clock: ManualClock) -> None:
    challenge = login(state, CAROL, CAROL_PASSWORD, scope="openid")
    assert error_of(challenge) == (403, "mfa_required")
    assert isinstance(challenge.body, dict)
    assert challenge.body["mfa_requirements"] == {"challenge": [{"type": "otp"}]}
    mfa_token = challenge.body["mfa_token"]
    assert error_of(_mfa(state, mfa_token, "000000")) == (403, "invalid_grant")
    assert error_of(_mfa(state, mfa_token, "1", UNTRUSTED_CLIENT_ID, UNTRUSTED_CLIENT_SECRET)) == (
        403,
        "invalid_grant",
    )
    code = pyotp.TOTP(CAROL_TOTP_SECRET).at(int(clock.now()))
    done = _mfa(state, mfa_token, code)
    assert done.status == 200
    assert isinstance(done.body, dict)
    assert _claims(state, done.body["id_token"], DEMO_CLIENT_ID)["amr"] == ["mfa"]
    assert error_of(_mfa(state, mfa_token, code)) == (403, "invalid_grant")  # single use


def test_mfa_token_expires(state: EmulatorState, clock: ManualClock) -> None:
    challenge = login(state, CAROL, CAROL_PASSWORD)
    assert isinstance(challenge.body, dict)
    clock.advance(600)
    code = pyotp.TOTP(CAROL_TOTP_SECRET).at(int(clock.now()))
    assert error_of(_mfa(state, challenge.body["mfa_token"], code)) == (403, "expired_token")


# ---- secrets never recorded or logged ---------------------------------------------------------


def test_no_secret_reaches_records_or_logs(state: EmulatorState, clock: ManualClock, caplog) -> None:
    caplog.set_level(logging.DEBUG, logger="ropguard.emulator")
    issued = login(state, ALICE, ALICE_PASSWORD, scope="openid offline_access")
    challenge = login(state, CAROL, CAROL_PASSWORD)
    bob, bob_password = DEMO_USERS["bob"]
    login(state, bob, bob_password)
    login(state, ALICE, "a-wrong-password-value")
    assert isinstance(issued.body, dict)
    assert isinstance(challenge.body, dict)
    code = pyotp.TOTP(CAROL_TOTP_SECRET).at(int(clock.now()))
    _mfa(state, challenge.body["mfa_token"], code)
    secrets = [
        ALICE_PASSWORD, CAROL_PASSWORD, bob_password, "a-wrong-password-value", DEMO_CLIENT_SECRET,
        issued.body["access_token"], issued.body["refresh_token"], issued.body["id_token"],
        challenge.body["mfa_token"], code, CAROL_TOTP_SECRET,
    ]  # fmt: skip
    recorded = json.dumps(state.token_requests()) + caplog.text
    assert caplog.records, "the decision log should not be empty"
    for secret in secrets:
        assert secret not in recorded
