"""What a real tenant answers, through the offline stack: the emulator gives Auth0's documented
answers (Bot Detection, the reference 401/400 MFA forms, push polling fields, Basic client
authentication, change_password's 404) and the product's real handlers pass them on.

Every case counts what reached Auth0 through the emulator's request records, and reads the
functions' metrics from their captured output. One variant is not here: Bot Detection for an
attributed *address* (192.0.2.66) needs a login from that address, and the stack's API sees only
loopback peers; the real login handler meets it against the emulator in
tests/integration/test_breached_password_flow.py, with an event from that address.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest

from ropguard_offline.lambda_runtime import OUTPUT_LOGGER
from ropguard_offline.stack import DEFAULT_TENANT, OfflineStack, Ports, StackConfig, demo_client
from tests.emf import metric_totals
from tests.fixtures.emulator import (
    BOB_USERNAME,
    CAROL_TOTP_SECRET,
    DEMO_USERS,
    RESET_LOOKUP_CLIENT_ID,
    RESET_LOOKUP_CLIENT_SECRET,
)
from tests.fixtures.offline_stack import fresh
from tests.fixtures.secret_hygiene import SecretRegistry
from tests.integration.stack_client import (
    DEAD_LETTER_QUEUE,
    MANAGEMENT_TOKEN,
    RESET_QUEUE,
    StackClient,
    breached_event,
    type_attribute,
)

pytestmark = pytest.mark.integration

ALICE, BOB, CAROL, ERIN, FRANK = (DEMO_USERS[name] for name in ("alice", "bob", "carol", "erin", "frank"))
MALLORY = ("mallory@example.com", "mallory-needs-a-captcha-4")  # Bot Detection lists her
WRONG_RECOVERY_CODE = "ROPGUARDWRONGRECOVERY000"
LOGIN_CLIENT = demo_client(DEFAULT_TENANT).client_id
SOURCE = "127.0.0.23"

#: Bodies of the reset queue's messages as the queue runner delivered them; emptied per test.
DELIVERED: list[str] = []


@pytest.fixture(scope="module")
def deliveries(offline_stack_session: OfflineStack) -> list[str]:
    """Every message the session's stack delivers from here on (the reset queue is its only source)."""

    offline_stack_session.observe_deliveries(lambda source, body: DELIVERED.append(body))
    return DELIVERED


@pytest.fixture
def users(offline_stack: OfflineStack, secret_registry: SecretRegistry, deliveries: list[str]) -> StackClient:
    secret_registry.add("totp_secret", CAROL_TOTP_SECRET)
    secret_registry.add("recovery_code", WRONG_RECOVERY_CODE)
    deliveries.clear()
    return StackClient(offline_stack, secret_registry)


@pytest.fixture(scope="module")
def basic_stack() -> Iterator[OfflineStack]:
    """A stack deployed with ``Auth0ClientAuthMethod=client_secret_basic``."""
    config = StackConfig(
        ports=Ports.free(), parameter_overrides={"Auth0ClientAuthMethod": "client_secret_basic"}
    )
    with OfflineStack.start(config) as stack:
        yield stack


@pytest.fixture
def basic(basic_stack: OfflineStack, secret_registry: SecretRegistry) -> StackClient:
    """The Basic stack, reset like ``offline_stack``."""
    secret_registry.add("totp_secret", CAROL_TOTP_SECRET)
    return StackClient(fresh(basic_stack, secret_registry), secret_registry)


#: The reset function's management credential: the demo tenant's read:users-only M2M client.
RESET_LOOKUP_SECRET_NAME = "ropguard/reset-lookup-m2m"


@pytest.fixture(scope="module")
def lookup_stack() -> Iterator[OfflineStack]:
    """A stack deployed with ``ResetManagementSecretArn``, its secret created in moto."""
    config = StackConfig(
        ports=Ports.free(), parameter_overrides={"ResetManagementSecretArn": RESET_LOOKUP_SECRET_NAME}
    )
    with OfflineStack.start(config) as stack:
        credential = {"client_id": RESET_LOOKUP_CLIENT_ID, "client_secret": RESET_LOOKUP_CLIENT_SECRET}
        stack.aws.client("secretsmanager").create_secret(
            Name=RESET_LOOKUP_SECRET_NAME, SecretString=json.dumps(credential)
        )
        yield stack


@pytest.fixture
def lookup(lookup_stack: OfflineStack, secret_registry: SecretRegistry) -> StackClient:
    """The management-credential stack, reset like ``offline_stack``."""
    secret_registry.add("client_secret", RESET_LOOKUP_CLIENT_SECRET)
    return StackClient(fresh(lookup_stack, secret_registry), secret_registry)


def metrics(caplog: pytest.LogCaptureFixture, function: str) -> dict[str, float]:
    """The metrics ``function`` emitted during this test (its EMF lines in the captured log)."""
    name = f"{OUTPUT_LOGGER}.{function}"
    return metric_totals("\n".join(r.getMessage() for r in caplog.records if r.name == name))


def error_of(response: httpx.Response) -> tuple[int, str]:
    return response.status_code, response.json()["error"]


def set_tenant(client: StackClient, **switches: str) -> None:
    """The emulator's answer-form switches (undone by the stack's reset before the next test)."""
    httpx.post(f"{client.stack.auth0_url}/__emulator/tenant", json=switches, timeout=10).raise_for_status()


def make_login_client_basic(client: StackClient) -> None:
    """The tenant's login application switched to Client Secret (Basic), as an operator would."""
    response = httpx.patch(
        f"{client.stack.auth0_url}/api/v2/clients/{LOGIN_CLIENT}",
        json={"token_endpoint_auth_method": "client_secret_basic"},
        headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text


def post(client: StackClient, path: str, **fields: str) -> httpx.Response:
    return client.call("POST", path, source=SOURCE, json=fields)


def mfa_token_of(client: StackClient, user: tuple[str, str]) -> str:
    response = client.login(*user, source=SOURCE)
    assert error_of(response) == (403, "mfa_required")
    token: str = response.json()["mfa_token"]
    return token


# -- Bot Detection ----------------------------------------------------------------------------


def test_bot_detection_is_passed_on_with_its_metric_and_one_call(
    users: StackClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = users.login(*MALLORY, source=SOURCE)

    assert error_of(response) == (401, "requires_verification")
    assert response.json()["error_description"] == "Suspicious request requires verification"
    counted = metrics(caplog, "LoginFunction")
    assert counted.get("LoginVerificationRequired") == 1
    assert not {"LoginMisconfigured", "LoginClientRejected"} & set(counted)
    (record,) = users.token_requests()  # no secret re-read followed by a second grant
    assert (record["username"], record["status"], record["error"]) == (
        MALLORY[0],
        401,
        "requires_verification",
    )


# -- MFA failures in the reference tables' forms ----------------------------------------------


def wrong_otp(client: StackClient) -> httpx.Response:
    return post(client, "/login/mfa", mfa_token=mfa_token_of(client, CAROL), otp="000000")


def wrong_binding_code(client: StackClient) -> httpx.Response:
    mfa_token = mfa_token_of(client, ERIN)
    oob_code = post(client, "/login/mfa/challenge", mfa_token=mfa_token, challenge_type="oob").json()[
        "oob_code"
    ]
    (code,) = client.sms_codes(ERIN[0])
    wrong = "000000" if code != "000000" else "111111"
    return post(client, "/login/mfa", mfa_token=mfa_token, oob_code=oob_code, binding_code=wrong)


def wrong_oob_code(client: StackClient) -> httpx.Response:
    mfa_token = mfa_token_of(client, ERIN)
    post(client, "/login/mfa/challenge", mfa_token=mfa_token, challenge_type="oob")
    return post(client, "/login/mfa", mfa_token=mfa_token, oob_code="not-the-oob-code", binding_code="123456")


def wrong_recovery_code(client: StackClient) -> httpx.Response:
    return post(
        client, "/login/mfa", mfa_token=mfa_token_of(client, CAROL), recovery_code=WRONG_RECOVERY_CODE
    )


def malformed_mfa_token(client: StackClient) -> httpx.Response:
    return post(client, "/login/mfa", mfa_token="not-an-mfa-token", otp="123456")


def malformed_mfa_token_on_challenge(client: StackClient) -> httpx.Response:
    return post(client, "/login/mfa/challenge", mfa_token="not-an-mfa-token", challenge_type="otp")


def expired_mfa_token(client: StackClient) -> httpx.Response:
    mfa_token = mfa_token_of(client, CAROL)
    client.advance_clock(11 * 60)  # MFA tokens live 10 minutes
    return post(client, "/login/mfa", mfa_token=mfa_token, otp=pyotp.TOTP(CAROL_TOTP_SECRET).now())


#: case -> (the failing call, the Auth0 endpoint it reaches, Auth0's status in the reference tables,
#: the session route's metric prefix).
MFA_FAILURES: dict[str, tuple[Any, str, int, str]] = {
    "wrong-otp": (wrong_otp, "/oauth/token", 400, "MfaVerify"),
    "wrong-binding-code": (wrong_binding_code, "/oauth/token", 400, "MfaVerify"),
    "wrong-oob-code": (wrong_oob_code, "/oauth/token", 401, "MfaVerify"),
    "wrong-recovery-code": (wrong_recovery_code, "/oauth/token", 401, "MfaVerify"),
    "malformed-mfa-token": (malformed_mfa_token, "/oauth/token", 401, "MfaVerify"),
    "malformed-mfa-token-on-challenge": (
        malformed_mfa_token_on_challenge,
        "/mfa/challenge",
        401,
        "MfaChallenge",
    ),
    "expired-mfa-token": (expired_mfa_token, "/oauth/token", 401, "MfaVerify"),
}


@pytest.mark.parametrize("error_format", ["legacy", "current"])
@pytest.mark.parametrize("case", list(MFA_FAILURES))
def test_an_mfa_failure_in_the_reference_form_is_the_users_failed_step(
    users: StackClient, caplog: pytest.LogCaptureFixture, case: str, error_format: str
) -> None:
    """Auth0's reference tables: 401 for an invalid mfa_token, oob_code or recovery code, 400 for an
    invalid OTP. Either is the user's failed step (403 ``invalid_grant``), sent to Auth0 once: no
    secret re-read, no second call, no 502."""
    fail, endpoint, auth0_status, prefix = MFA_FAILURES[case]
    set_tenant(users, mfa_error_status="reference", mfa_error_format=error_format)

    response = fail(users)

    assert error_of(response) == (403, "invalid_grant")
    records = users.token_requests()
    assert records[-1]["endpoint"] == endpoint
    assert records[-1]["status"] == auth0_status  # the emulator did answer the reference form
    failed = [record for record in records if record["status"] == auth0_status]
    assert len(failed) == 1, failed  # sent once: nothing after the failure, no retry
    counted = metrics(caplog, "SessionFunction")
    assert counted.get(f"{prefix}InvalidGrant") == 1
    assert not {f"{prefix}ClientRejected", f"{prefix}Misconfigured", f"{prefix}UpstreamError"} & set(counted)


@pytest.mark.parametrize(
    ("case", "description"),
    [("wrong-recovery-code", "Invalid recovery_code."), ("malformed-mfa-token", "Invalid MFA token")],
)
def test_a_401_access_denied_keeps_auth0s_description(
    users: StackClient, case: str, description: str
) -> None:
    """Auth0's 401 ``access_denied`` does not say in its code whether the token or the user's code
    was wrong; its description does, and the client gets that rather than a guess."""
    set_tenant(users, mfa_error_status="reference", mfa_error_format="legacy")

    response = MFA_FAILURES[case][0](users)

    assert response.status_code == 403
    assert response.json() == {"error": "invalid_grant", "error_description": description}


# -- push polling ------------------------------------------------------------------------------


def test_polling_answers_keep_interval_and_retry_after(users: StackClient) -> None:
    mfa_token = mfa_token_of(users, FRANK)
    oob_code = post(users, "/login/mfa/challenge", mfa_token=mfa_token, challenge_type="oob").json()[
        "oob_code"
    ]

    pending = post(users, "/login/mfa", mfa_token=mfa_token, oob_code=oob_code)
    too_fast = post(users, "/login/mfa", mfa_token=mfa_token, oob_code=oob_code)  # frank's app polls at once

    assert error_of(pending) == (400, "authorization_pending")
    assert pending.json()["interval"] == 5
    assert error_of(too_fast) == (429, "slow_down")
    assert too_fast.json()["interval"] == 5
    assert 1 <= int(too_fast.headers["Retry-After"]) <= 5
    polls = [record for record in users.token_requests() if record["endpoint"] == "/oauth/token"]
    assert [record["error"] for record in polls] == ["mfa_required", "authorization_pending", "slow_down"]


# -- client authentication ---------------------------------------------------------------------


def test_a_basic_deployment_logs_in_against_a_basic_only_client(basic: StackClient) -> None:
    make_login_client_basic(basic)

    login = basic.login(*ALICE, source=SOURCE)
    mfa_token = mfa_token_of(basic, CAROL)
    challenge = post(basic, "/login/mfa/challenge", mfa_token=mfa_token, challenge_type="otp")
    verified = post(basic, "/login/mfa", mfa_token=mfa_token, otp=pyotp.TOTP(CAROL_TOTP_SECRET).now())

    assert login.status_code == 200, login.text
    assert (challenge.status_code, verified.status_code) == (200, 200)
    assert {record["status"] for record in basic.token_requests()} <= {200, 403}  # 403: carol's mfa_required
    assert not [record for record in basic.token_requests() if record["error"] == "invalid_client"]


def test_a_post_deployment_against_a_basic_only_client_is_our_misconfiguration(
    users: StackClient, caplog: pytest.LogCaptureFixture
) -> None:
    """The rule table: ``invalid_client`` is our client refused (ClientRejected), a generic 502."""
    make_login_client_basic(users)

    response = users.login(*ALICE, source=SOURCE)

    assert error_of(response) == (502, "server_error")
    (record,) = users.token_requests()  # the re-read secret is the same: no second grant
    assert (record["status"], record["error"]) == (401, "invalid_client")
    assert metrics(caplog, "LoginFunction").get("LoginClientRejected") == 1


# -- the reset consumer ------------------------------------------------------------------------


def send_to_reset_queue(client: StackClient, body: str) -> None:
    client.sqs().send_message(
        QueueUrl=client.queue_url(RESET_QUEUE), MessageBody=body, MessageAttributes=type_attribute()
    )


def dead_lettered(client: StackClient) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = (
        client.sqs()
        .receive_message(
            QueueUrl=client.queue_url(DEAD_LETTER_QUEUE),
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
        )
        .get("Messages", [])
    )
    return messages


def test_change_password_404_is_a_finished_case(
    users: StackClient, caplog: pytest.LogCaptureFixture, deliveries: list[str]
) -> None:
    """A breached user gone from the tenant by the time the reset runs: Auth0's reference 404."""
    set_tenant(users, change_password_unknown_user="not_found")
    body = breached_event(
        "gone@example.com", event_id=str(uuid.uuid4()), request_id="r-404", source_ip="203.0.113.23"
    )

    send_to_reset_queue(users, body)
    users.drain()

    assert metrics(caplog, "PasswordResetFunction").get("ResetUserNotFound") == 1
    assert users.dead_letters() == 0
    assert users.reset_emails() == []
    assert deliveries == [body]  # not retried


def test_a_username_that_is_not_an_email_is_skipped_without_a_management_credential(
    users: StackClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = breached_event("bob", event_id=str(uuid.uuid4()), request_id="r-name", source_ip="203.0.113.24")

    send_to_reset_queue(users, body)
    users.drain()

    counted = metrics(caplog, "PasswordResetFunction")
    assert counted.get("ResetSkipped") == 1
    assert "ResetDeadLettered" not in counted
    assert users.dead_letters() == 0
    assert users.reset_emails() == []


def test_a_breached_username_gets_the_reset_email_through_the_management_api(
    lookup: StackClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Bob logs in with his username; the reset function finds his address with ``GET /api/v2/users``."""
    response = lookup.login(BOB_USERNAME, BOB[1], source=SOURCE)
    assert error_of(response) == (401, "password_leaked")

    lookup.drain()

    assert lookup.reset_emails() == [BOB[0]]
    counted = metrics(caplog, "PasswordResetFunction")
    assert counted.get("ResetRequested") == 1
    assert not {"ResetSkipped", "ResetDeadLettered", "ResetRetried"} & set(counted)
    assert lookup.dead_letters() == 0
    # The management token came from the reset-lookup client (the search itself is not recorded).
    management = [r for r in lookup.token_requests() if r["grant_type"] == "client_credentials"]
    assert [(r["client_id"], r["status"]) for r in management] == [(RESET_LOOKUP_CLIENT_ID, 200)]


def test_a_username_the_tenant_does_not_know_is_a_finished_case(
    lookup: StackClient, caplog: pytest.LogCaptureFixture
) -> None:
    body = breached_event(
        "nobody", event_id=str(uuid.uuid4()), request_id="r-nobody", source_ip="203.0.113.25"
    )

    send_to_reset_queue(lookup, body)
    lookup.drain()

    counted = metrics(caplog, "PasswordResetFunction")
    assert counted.get("ResetUserNotFound") == 1
    assert "ResetDeadLettered" not in counted
    assert lookup.dead_letters() == 0
    assert lookup.reset_emails() == []


UNREADABLE_BODIES = {
    "deeply-nested": "[" * 100_000 + "]" * 100_000,
    "not-json": "password.breached, but not JSON {",
}


@pytest.mark.parametrize("kind", list(UNREADABLE_BODIES))
def test_an_unreadable_body_is_dead_lettered_on_its_first_receive(
    users: StackClient, caplog: pytest.LogCaptureFixture, deliveries: list[str], kind: str
) -> None:
    body = UNREADABLE_BODIES[kind]

    send_to_reset_queue(users, body)
    users.drain()

    (dead,) = dead_lettered(users)
    assert dead["Body"] == body
    assert dead["MessageAttributes"]["reason"]["StringValue"].startswith("invalid_event:")
    assert deliveries == [body]  # one receive: not retried as "unexpected"
    counted = metrics(caplog, "PasswordResetFunction")
    assert counted.get("ResetDeadLettered") == 1
    assert "ResetRetried" not in counted


# -- usernames ---------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice\u202e@example.com", "al\u200bice@example.com"])
def test_a_username_with_a_control_or_format_character_is_refused_before_auth0(
    users: StackClient, username: str
) -> None:
    response = users.login(username, ALICE[1], source=SOURCE)

    assert error_of(response) == (400, "invalid_request")
    assert "Unicode categories Cc, Cf" in response.json()["error_description"]
    assert username not in response.text
    assert users.token_requests() == []


def test_a_decomposed_username_reaches_auth0_composed(users: StackClient) -> None:
    response = users.login("Jose\u0301@example.com", ALICE[1], source=SOURCE)

    assert error_of(response) == (403, "invalid_grant")  # nobody of that name in the demo tenant
    (record,) = users.token_requests()
    assert record["username"] == "Jos\u00e9@example.com"
