"""MFA over real HTTP (``auth0_emulator/mfa.py``): authenticators, challenges, the three MFA grants,
the push decision hooks, failure limits, expiry and both error dialects.

auth0-python has no MFA helpers; its ``authenticated_post`` adds the client secret as Auth0 needs.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest
from auth0.authentication import GetToken
from auth0.authentication.exceptions import Auth0Error

from auth0_emulator import EmulatorServer, EmulatorState
from tests.fixtures.emulator import (
    CAROL_RECOVERY_CODES,
    CAROL_TOTP_SECRET,
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

MFA_OTP = "http://auth0.com/oauth/grant-type/mfa-otp"
MFA_OOB = "http://auth0.com/oauth/grant-type/mfa-oob"
MFA_RECOVERY = "http://auth0.com/oauth/grant-type/mfa-recovery-code"
USER_IP = "203.0.113.61"


def sdk(emulator: EmulatorHandle | str) -> GetToken:
    domain = emulator if isinstance(emulator, str) else emulator.domain
    return GetToken(
        domain, DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET, protocol="http", telemetry=False
    )


def mfa_token_for(http: httpx.Client, user: str, registry: SecretRegistry, scope: str = "openid") -> str:
    username, password = DEMO_USERS[user]
    response = http.post(
        "/oauth/token",
        json={
            "grant_type": "http://auth0.com/oauth/grant-type/password-realm",
            "client_id": DEMO_CLIENT_ID,
            "client_secret": DEMO_CLIENT_SECRET,
            "username": username,
            "password": password,
            "realm": DEMO_CONNECTION,
            "audience": DEMO_AUDIENCE,
            "scope": scope,
        },
        headers={"auth0-forwarded-for": USER_IP},
    )
    body = response.json()
    assert (response.status_code, body["error"]) == (403, "mfa_required")
    registry.add("mfa_token", body["mfa_token"])
    return str(body["mfa_token"])


def grant(http: httpx.Client, grant_type: str, mfa_token: str, **params: str) -> httpx.Response:
    body = {
        "grant_type": grant_type,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "mfa_token": mfa_token,
        **params,
    }
    return http.post("/oauth/token", data=body, headers={"auth0-forwarded-for": USER_IP})


def challenge(http: httpx.Client, mfa_token: str, **params: str) -> httpx.Response:
    body = {
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "mfa_token": mfa_token,
        **params,
    }
    return http.post("/mfa/challenge", json=body, headers={"auth0-forwarded-for": USER_IP})


def error(response: httpx.Response) -> tuple[int, str, str]:
    body = response.json()
    return response.status_code, body["error"], body["error_description"]


def carol_otp(emulator: EmulatorHandle, step_offset: int = 0) -> str:
    return pyotp.TOTP(CAROL_TOTP_SECRET).at(int(emulator.server.state.clock.now()) + 30 * step_offset)


def wrong_otp(right: str) -> str:
    return "000000" if right != "000000" else "111111"


# ---- /mfa/authenticators and mfa_required ---------------------------------------------------


def test_mfa_required_lists_the_enrolled_factor_types(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    for user, expected in [
        ("carol", [{"type": "otp"}]),
        ("erin", [{"type": "oob"}]),
        ("frank", [{"type": "oob"}]),
    ]:
        username, password = DEMO_USERS[user]
        with pytest.raises(Auth0Error) as raised:
            sdk(auth0_emulator).login(username, password, realm=DEMO_CONNECTION, forwarded_for=USER_IP)
        assert raised.value.error_code == "mfa_required"
        assert isinstance(raised.value.content, dict)
        secret_registry.add("mfa_token", raised.value.content["mfa_token"])
        assert raised.value.content["mfa_requirements"] == {"challenge": expected}


def test_authenticators_of_each_demo_user(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    expected = {
        "carol": [
            {"id": "totp|dev_carol", "authenticator_type": "otp", "active": True},
            {"id": "recovery-code|dev_carol", "authenticator_type": "recovery-code", "active": True},
        ],
        "erin": [
            {
                "id": "sms|dev_erin",
                "authenticator_type": "oob",
                "active": True,
                "oob_channel": "sms",
                "name": "XXXXXXXX0142",
            }
        ],
        "frank": [
            {
                "id": "push|dev_frank",
                "authenticator_type": "oob",
                "active": True,
                "oob_channel": "auth0",
                "name": "Frank's phone",
            }
        ],
    }
    for user, authenticators in expected.items():
        token = mfa_token_for(http, user, secret_registry)
        response = http.get("/mfa/authenticators", headers={"Authorization": f"Bearer {token}"})
        assert (response.status_code, response.json()) == (200, authenticators)


def test_authenticators_need_a_live_mfa_token(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    assert error(http.get("/mfa/authenticators")) == (403, "invalid_grant", "Malformed mfa_token")
    bogus = http.get("/mfa/authenticators", headers={"Authorization": "Bearer not-a-token"})
    assert error(bogus)[:2] == (403, "invalid_grant")
    token = mfa_token_for(http, "carol", secret_registry)
    auth0_emulator.advance_clock(601)  # mfa_token lives 10 minutes
    expired = http.get("/mfa/authenticators", headers={"Authorization": f"Bearer {token}"})
    assert error(expired) == (403, "expired_token", "mfa_token is expired")


# ---- /mfa/challenge ---------------------------------------------------------------------------


def test_challenge_answers_per_factor(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    carol = mfa_token_for(http, "carol", secret_registry)
    assert challenge(http, carol, challenge_type="otp").json() == {"challenge_type": "otp"}
    assert error(challenge(http, carol, challenge_type="oob"))[:2] == (400, "association_required")
    assert error(challenge(http, carol, challenge_type="sms"))[:2] == (400, "unsupported_challenge_type")
    assert error(challenge(http, carol, authenticator_id="sms|dev_erin"))[:2] == (400, "invalid_request")
    erin = mfa_token_for(http, "erin", secret_registry)
    sms = challenge(http, erin, challenge_type="oob otp").json()
    secret_registry.add("oob_code", sms["oob_code"])
    assert (sms["challenge_type"], sms["binding_method"]) == ("oob", "prompt")
    frank = mfa_token_for(http, "frank", secret_registry)
    push = challenge(http, frank, authenticator_id="push|dev_frank").json()
    secret_registry.add("oob_code", push["oob_code"])
    assert push["challenge_type"] == "oob"
    assert "binding_method" not in push


def test_challenge_authenticates_the_client_and_binds_the_token(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    carol = mfa_token_for(http, "carol", secret_registry)
    wrong_secret = challenge(http, carol, client_secret="nope-nope-nope")
    assert error(wrong_secret)[:2] == (401, "invalid_client")
    untrusted = {"client_id": UNTRUSTED_CLIENT_ID, "client_secret": UNTRUSTED_CLIENT_SECRET}
    untrusted["mfa_token"] = carol
    other_client = http.post("/mfa/challenge", json=untrusted)
    assert error(other_client) == (403, "invalid_grant", "Malformed mfa_token")
    assert error(http.post("/mfa/challenge", json={"client_id": DEMO_CLIENT_ID}))[:2] == (
        400,
        "invalid_request",
    )
    (*_, record) = auth0_emulator.token_requests()
    assert record["endpoint"] == "/mfa/challenge"


# ---- mfa-otp ----------------------------------------------------------------------------------


def test_otp_is_single_use_and_the_token_too(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    token = mfa_token_for(http, "carol", secret_registry)
    otp = carol_otp(auth0_emulator)
    secret_registry.add_otp(otp)
    tokens = sdk(auth0_emulator).authenticated_post(
        f"{auth0_emulator.base_url}/oauth/token",
        data={"grant_type": MFA_OTP, "client_id": DEMO_CLIENT_ID, "mfa_token": token, "otp": otp},
    )
    secret_registry.add_tokens_from(tokens)
    assert {"access_token", "id_token"} <= set(tokens)
    assert error(grant(http, MFA_OTP, token, otp=otp)) == (403, "invalid_grant", "Malformed mfa_token")
    again = mfa_token_for(http, "carol", secret_registry)
    assert error(grant(http, MFA_OTP, again, otp=otp)) == (403, "invalid_grant", "Invalid otp_code.")
    records = [r for r in auth0_emulator.token_requests() if r["grant_type"] == MFA_OTP]
    # The SDK call sent no auth0-forwarded-for: the TCP peer is attributed; the others forwarded.
    assert [(r["forwarded_for"], r["attributed_ip"]) for r in records] == [
        (None, "127.0.0.1"),
        (USER_IP, USER_IP),
        (USER_IP, USER_IP),
    ]


def test_otp_failures_use_a_bucket_of_ten_per_user(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    token = mfa_token_for(http, "carol", secret_registry)
    wrong = wrong_otp(carol_otp(auth0_emulator))
    for _ in range(10):
        assert error(grant(http, MFA_OTP, token, otp=wrong))[:2] == (403, "invalid_grant")
    right = carol_otp(auth0_emulator)
    secret_registry.add_otp(right)
    assert error(grant(http, MFA_OTP, token, otp=right))[:2] == (429, "too_many_attempts")
    other = mfa_token_for(http, "carol", secret_registry)  # per user, not per mfa_token
    assert error(grant(http, MFA_OTP, other, otp=right))[:2] == (429, "too_many_attempts")
    auth0_emulator.advance_clock(360)  # one attempt back every 6 minutes
    fresh = mfa_token_for(http, "carol", secret_registry)
    right = carol_otp(auth0_emulator)
    secret_registry.add_otp(right)
    response = grant(http, MFA_OTP, fresh, otp=right)
    secret_registry.add_tokens_from(response.json())
    assert response.status_code == 200


def test_mfa_token_expires_after_ten_minutes(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    token = mfa_token_for(http, "carol", secret_registry)
    auth0_emulator.advance_clock(600)
    otp = carol_otp(auth0_emulator)
    secret_registry.add_otp(otp)
    assert error(grant(http, MFA_OTP, token, otp=otp)) == (403, "expired_token", "mfa_token is expired")


# ---- mfa-oob: SMS-style ------------------------------------------------------------------------


def test_sms_code_goes_to_the_outbox_and_binds_the_oob_code(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    token = mfa_token_for(http, "erin", secret_registry, scope="openid offline_access")
    oob_code = challenge(http, token).json()["oob_code"]
    secret_registry.add("oob_code", oob_code)
    (message,) = auth0_emulator.outbox()
    assert (message["kind"], message["to"], message["phone_number"]) == (
        "mfa_code",
        "erin@example.com",
        "+15555550142",
    )
    code = message["code"]
    secret_registry.add("binding_code", f'"binding_code": "{code}"', f"binding_code={code}")
    assert error(grant(http, MFA_OOB, token, oob_code=oob_code)) == (
        400,
        "invalid_request",
        "Missing required parameter: binding_code",
    )
    wrong = "000000" if code != "000000" else "111111"
    assert error(grant(http, MFA_OOB, token, oob_code=oob_code, binding_code=wrong)) == (
        403,
        "invalid_grant",
        "Invalid binding_code.",
    )
    assert error(grant(http, MFA_OOB, token, oob_code="no-such-code", binding_code=code))[:2] == (
        403,
        "invalid_grant",
    )
    ok = grant(http, MFA_OOB, token, oob_code=oob_code, binding_code=code)
    secret_registry.add_tokens_from(ok.json())
    assert ok.status_code == 200
    assert {"access_token", "id_token", "refresh_token"} <= set(ok.json())
    (*_, record) = auth0_emulator.token_requests()
    assert (record["grant_type"], record["forwarded_for"], record["attributed_ip"]) == (
        MFA_OOB,
        USER_IP,
        USER_IP,
    )


# ---- mfa-oob: push-style ------------------------------------------------------------------------


def push_challenge(emulator: EmulatorHandle, registry: SecretRegistry) -> tuple[str, str]:
    token = mfa_token_for(emulator.http, "frank", registry)
    oob_code = challenge(emulator.http, token).json()["oob_code"]
    registry.add("oob_code", oob_code)
    return token, oob_code


def test_push_pending_slow_down_then_approved(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    token, oob_code = push_challenge(auth0_emulator, secret_registry)
    assert error(grant(http, MFA_OOB, token, oob_code=oob_code))[:2] == (400, "authorization_pending")
    assert error(grant(http, MFA_OOB, token, oob_code=oob_code))[:2] == (429, "slow_down")
    auth0_emulator.advance_clock(5)
    assert error(grant(http, MFA_OOB, token, oob_code=oob_code))[:2] == (400, "authorization_pending")
    decided = http.post("/__emulator/mfa/approve", json={"user": "frank@example.com"})
    assert decided.json() == {"user_id": "auth0|frank", "decision": "approved"}
    auth0_emulator.advance_clock(5)
    ok = grant(http, MFA_OOB, token, oob_code=oob_code)
    secret_registry.add_tokens_from(ok.json())
    assert ok.status_code == 200
    assert http.post("/__emulator/mfa/approve", json={"user": "frank@example.com"}).status_code == 404


def test_push_denied_by_oob_code(auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry) -> None:
    http = auth0_emulator.http
    token, oob_code = push_challenge(auth0_emulator, secret_registry)
    assert http.post("/__emulator/mfa/deny", json={"oob_code": oob_code}).status_code == 200
    assert error(grant(http, MFA_OOB, token, oob_code=oob_code)) == (
        403,
        "invalid_grant",
        "MFA Authorization rejected.",
    )


def test_push_hooks_validate_their_body(auth0_emulator: EmulatorHandle) -> None:
    http = auth0_emulator.http
    for body in [{}, {"user": "a", "oob_code": "b"}, {"who": "frank"}, {"user": 5}]:
        assert http.post("/__emulator/mfa/approve", json=body).status_code == 400
    assert http.post("/__emulator/mfa/deny", json={"user": "nobody@example.com"}).status_code == 404


# ---- mfa-recovery-code ----------------------------------------------------------------------------


def test_recovery_code_is_one_time_and_replaced(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    secret_registry.add("recovery_code", *CAROL_RECOVERY_CODES)
    token = mfa_token_for(http, "carol", secret_registry)
    used = grant(http, MFA_RECOVERY, token, recovery_code=CAROL_RECOVERY_CODES[0])
    body = used.json()
    secret_registry.add_tokens_from(body)
    secret_registry.add("recovery_code", body.get("recovery_code"))
    assert used.status_code == 200
    assert len(body["recovery_code"]) == 24
    assert body["recovery_code"] not in CAROL_RECOVERY_CODES
    again = mfa_token_for(http, "carol", secret_registry)
    assert error(grant(http, MFA_RECOVERY, again, recovery_code=CAROL_RECOVERY_CODES[0])) == (
        403,
        "invalid_grant",
        "Invalid recovery_code.",
    )
    replaced = grant(http, MFA_RECOVERY, again, recovery_code=body["recovery_code"])
    secret_registry.add_tokens_from(replaced.json())
    secret_registry.add("recovery_code", replaced.json().get("recovery_code"))
    assert replaced.status_code == 200


# ---- the newer error dialect -----------------------------------------------------------------------


@pytest.fixture
def current_dialect(state: EmulatorState) -> Iterator[httpx.Client]:
    state.mfa_error_format = "current"
    with EmulatorServer(state) as server, httpx.Client(base_url=server.base_url, timeout=10) as http:
        yield http


def test_current_error_codes(
    current_dialect: httpx.Client, state: EmulatorState, secret_registry: SecretRegistry
) -> None:
    http = current_dialect
    token = mfa_token_for(http, "carol", secret_registry)
    right = pyotp.TOTP(CAROL_TOTP_SECRET).at(int(state.clock.now()))
    expected: list[tuple[dict[str, Any], str, str]] = [
        ({"grant_type": MFA_OTP, "otp": wrong_otp(right)}, "invalid_otp", token),
        ({"grant_type": MFA_RECOVERY, "recovery_code": "NOTACODE"}, "invalid_recovery_code", token),
        ({"grant_type": MFA_OOB, "oob_code": "unknown"}, "invalid_oob_code", token),
        ({"grant_type": MFA_OTP, "otp": right}, "mfa_token_invalid", "not-an-mfa-token"),
    ]
    secret_registry.add_otp(right)
    for params, code, mfa_token in expected:
        grant_type = params.pop("grant_type")
        assert error(grant(http, grant_type, mfa_token, **params))[:2] == (403, code)


def test_the_dialect_hook_switches_until_reset(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    http = auth0_emulator.http
    assert http.post("/__emulator/tenant", json={"mfa_error_format": "current"}).json() == {
        "mfa_error_format": "current"
    }
    token = mfa_token_for(http, "carol", secret_registry)
    wrong = wrong_otp(carol_otp(auth0_emulator))
    assert error(grant(http, MFA_OTP, token, otp=wrong))[:2] == (403, "invalid_otp")
    auth0_emulator.reset()
    token = mfa_token_for(http, "carol", secret_registry)
    assert error(grant(http, MFA_OTP, token, otp=wrong))[:2] == (403, "invalid_grant")
    for body in [{"mfa_error_format": "newest"}, {"other": 1}]:
        assert http.post("/__emulator/tenant", json=body).status_code == 400
