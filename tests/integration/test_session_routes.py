"""Every row of issue 9's route table over HTTP through the offline stack (real template, real
handlers in the stack's runtime, the Auth0 emulator with the demo tenant): MFA with TOTP, SMS,
push and recovery codes; refresh with rotation and reuse detection; logout; bad input.

Each request comes from its own loopback address; the emulator's records prove that every Auth0
call carried that address in auth0-forwarded-for. Every token, code and mfa_token is registered
with the secret-hygiene scanner by ``StackClient.call``.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pyotp
import pytest

from ropguard_offline.stack import OfflineStack
from tests.fixtures.emulator import CAROL_RECOVERY_CODES, CAROL_TOTP_SECRET, DEMO_USERS
from tests.fixtures.secret_hygiene import SecretRegistry
from tests.integration.stack_client import StackClient

pytestmark = pytest.mark.integration

CAROL = DEMO_USERS["carol"]
ERIN = DEMO_USERS["erin"]
FRANK = DEMO_USERS["frank"]
ALICE = DEMO_USERS["alice"]
CAROL_RECOVERY = CAROL_RECOVERY_CODES[0]
SOURCE = "127.0.0.61"


@pytest.fixture
def client(offline_stack: OfflineStack, secret_registry: SecretRegistry) -> Iterator[StackClient]:
    secret_registry.add("recovery_code", CAROL_RECOVERY)
    secret_registry.add("totp_secret", CAROL_TOTP_SECRET)
    return StackClient(offline_stack, secret_registry)


def mfa_token_of(client: StackClient, user: tuple[str, str]) -> str:
    response = client.login(*user, source=SOURCE)
    assert (response.status_code, response.json()["error"]) == (403, "mfa_required")
    token: str = response.json()["mfa_token"]
    return token


def post(client: StackClient, path: str, source: str = SOURCE, **fields: str) -> httpx.Response:
    return client.call("POST", path, source=source, json=fields)


def assert_every_auth0_call_forwarded(client: StackClient, source: str = SOURCE) -> None:
    records = client.token_requests()
    assert records
    assert {record["forwarded_for"] for record in records} == {source}
    assert {record["attributed_ip"] for record in records} == {source}


def test_carol_lists_authenticators_with_only_the_documented_fields(client: StackClient) -> None:
    mfa_token = mfa_token_of(client, CAROL)

    response = client.call(
        "GET", "/login/mfa/authenticators", source=SOURCE, headers=[("Authorization", f"Bearer {mfa_token}")]
    )

    assert response.status_code == 200
    listed = response.json()
    assert any(item["authenticator_type"] == "otp" for item in listed)
    for item in listed:
        assert set(item) <= {"id", "authenticator_type", "active", "oob_channel", "name"}


def test_carol_completes_her_login_with_a_totp_and_a_wrong_code_is_refused(client: StackClient) -> None:
    mfa_token = mfa_token_of(client, CAROL)
    challenge = post(client, "/login/mfa/challenge", mfa_token=mfa_token, challenge_type="otp")
    assert challenge.status_code == 200
    assert challenge.json()["challenge_type"] == "otp"

    wrong = post(client, "/login/mfa", mfa_token=mfa_token, otp="000000")
    assert (wrong.status_code, wrong.json()["error"]) == (403, "invalid_grant")

    right = post(client, "/login/mfa", mfa_token=mfa_token, otp=pyotp.TOTP(CAROL_TOTP_SECRET).now())
    assert right.status_code == 200
    assert right.json()["access_token"]
    assert right.headers["cache-control"] == "no-store"
    assert_every_auth0_call_forwarded(client)


def test_a_recovery_code_works_once_and_answers_a_new_one(client: StackClient) -> None:
    mfa_token = mfa_token_of(client, CAROL)

    used = post(client, "/login/mfa", mfa_token=mfa_token, recovery_code=CAROL_RECOVERY)
    assert used.status_code == 200
    assert used.json()["recovery_code"] not in ("", CAROL_RECOVERY)

    again = post(client, "/login/mfa", mfa_token=mfa_token_of(client, CAROL), recovery_code=CAROL_RECOVERY)
    assert (again.status_code, again.json()["error"]) == (403, "invalid_grant")


def test_erin_completes_an_sms_challenge_with_the_binding_code(client: StackClient) -> None:
    mfa_token = mfa_token_of(client, ERIN)

    challenge = post(client, "/login/mfa/challenge", mfa_token=mfa_token, challenge_type="oob")
    assert challenge.status_code == 200
    assert challenge.json()["binding_method"] == "prompt"
    (code,) = client.sms_codes(ERIN[0])

    done = post(
        client, "/login/mfa", mfa_token=mfa_token, oob_code=challenge.json()["oob_code"], binding_code=code
    )
    assert done.status_code == 200
    assert done.json()["access_token"]
    assert_every_auth0_call_forwarded(client)


def test_frank_polls_a_push_until_it_is_approved(client: StackClient) -> None:
    mfa_token = mfa_token_of(client, FRANK)
    challenge = post(client, "/login/mfa/challenge", mfa_token=mfa_token, challenge_type="oob")
    assert challenge.status_code == 200
    oob_code = challenge.json()["oob_code"]
    assert "binding_method" not in challenge.json()

    pending = post(client, "/login/mfa", mfa_token=mfa_token, oob_code=oob_code)
    assert pending.json()["error"] == "authorization_pending"
    too_fast = post(client, "/login/mfa", mfa_token=mfa_token, oob_code=oob_code)
    assert too_fast.json()["error"] == "slow_down"

    client.decide_push("approve", oob_code=oob_code)
    client.advance_clock(6)
    approved = post(client, "/login/mfa", mfa_token=mfa_token, oob_code=oob_code)
    assert approved.status_code == 200
    assert approved.json()["access_token"]


def test_a_denied_push_is_refused(client: StackClient) -> None:
    mfa_token = mfa_token_of(client, FRANK)
    oob_code = post(client, "/login/mfa/challenge", mfa_token=mfa_token, challenge_type="oob").json()[
        "oob_code"
    ]

    client.decide_push("deny", user=FRANK[0])
    denied = post(client, "/login/mfa", mfa_token=mfa_token, oob_code=oob_code)

    assert (denied.status_code, denied.json()["error"]) == (403, "invalid_grant")


def alice_refresh_token(client: StackClient) -> str:
    response = client.login(*ALICE, source=SOURCE)
    assert response.status_code == 200
    token: str = response.json()["refresh_token"]
    return token


def test_alice_refreshes_logs_out_and_her_revoked_token_is_refused(client: StackClient) -> None:
    first = alice_refresh_token(client)

    refreshed = post(client, "/token/refresh", refresh_token=first, scope="openid")
    assert refreshed.status_code == 200
    second = refreshed.json()["refresh_token"]
    assert second != first

    assert (post(client, "/logout", refresh_token=second).status_code, "{}") == (200, "{}")
    assert post(client, "/logout", refresh_token=second).json() == {}  # already invalid: still 200
    refused = post(client, "/token/refresh", refresh_token=second)
    assert (refused.status_code, refused.json()["error"]) == (403, "invalid_grant")
    assert_every_auth0_call_forwarded(client)


def test_reusing_a_rotated_refresh_token_revokes_the_family(client: StackClient) -> None:
    first = alice_refresh_token(client)
    second = post(client, "/token/refresh", refresh_token=first).json()["refresh_token"]
    client.advance_clock(30)  # past the client's 5 s leeway

    reused = post(client, "/token/refresh", refresh_token=first)
    assert (reused.status_code, reused.json()["error"]) == (403, "invalid_grant")
    family_gone = post(client, "/token/refresh", refresh_token=second)
    assert (family_gone.status_code, family_gone.json()["error"]) == (403, "invalid_grant")


def test_a_refresh_within_the_leeway_succeeds_twice(client: StackClient) -> None:
    first = alice_refresh_token(client)
    assert post(client, "/token/refresh", refresh_token=first).status_code == 200
    assert post(client, "/token/refresh", refresh_token=first).status_code == 200  # a second tab


@pytest.mark.parametrize(
    ("path", "fields", "described"),
    [
        ("/login/mfa", {"mfa_token": "x" * 20, "otp": "123456", "recovery_code": "y" * 24}, "exactly one of"),
        ("/login/mfa", {"mfa_token": "x" * 20}, "one of 'otp', 'oob_code' or 'recovery_code' is required"),
        ("/login/mfa", {"otp": "123456"}, "field 'mfa_token' is required"),
        ("/login/mfa", {"mfa_token": "", "otp": "1"}, "field 'mfa_token' must not be empty"),
        (
            "/login/mfa/challenge",
            {"mfa_token": "x" * 20, "challenge_type": "sms"},
            "'otp', 'oob' or 'otp oob'",
        ),
        ("/token/refresh", {"refresh_token": "r" * 30, "scope": "admin"}, "subset of"),
        ("/token/refresh", {"refresh_token": "r" * 3000}, "longer than 2048"),
        ("/logout", {}, "field 'refresh_token' is required"),
    ],
)
def test_bad_input_is_a_precise_400_and_auth0_is_not_called(
    client: StackClient, path: str, fields: dict[str, str], described: str
) -> None:
    response = post(client, path, **fields)

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"
    assert described in response.json()["error_description"]
    assert client.token_requests() == []


def test_a_wrong_type_is_named(client: StackClient) -> None:
    response = client.call("POST", "/logout", source=SOURCE, json={"refresh_token": 42})
    assert response.json()["error_description"] == "field 'refresh_token' must be a string"


def test_authenticators_without_a_bearer_token_is_a_400(client: StackClient) -> None:
    response = client.call("GET", "/login/mfa/authenticators", source=SOURCE)
    assert response.status_code == 400
    assert "Authorization header is required" in response.json()["error_description"]


def test_json_sent_as_a_form_says_json_needs_its_content_type(client: StackClient) -> None:
    with httpx.Client(timeout=30) as raw:
        response = raw.post(
            f"{client.stack.api_url}/logout",
            content=b'{"refresh_token":"abc"}',
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
    assert response.status_code == 400
    assert "content-type: application/json" in response.json()["error_description"]
