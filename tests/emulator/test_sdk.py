"""Auth0's official Python SDK as the client: its own exceptions must carry Auth0's status and code."""

from __future__ import annotations

import pytest
from auth0.authentication import Database, GetToken
from auth0.authentication.exceptions import Auth0Error, RateLimitError
from auth0.management import Auth0
from auth0.management.errors import BadRequestError, ForbiddenError, NotFoundError, UnauthorizedError

from tests.fixtures.emulator import (
    DEMO_AUDIENCE,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CONNECTION,
    DEMO_USERS,
    DOCTOR_CLIENT_ID,
    DOCTOR_CLIENT_SECRET,
    MANAGEMENT_TOKEN,
    UNTRUSTED_CLIENT_ID,
    UNTRUSTED_CLIENT_SECRET,
    EmulatorHandle,
)
from tests.fixtures.secret_hygiene import SecretRegistry

pytestmark = pytest.mark.integration

USER_IP = "203.0.113.77"


def get_token(emulator: EmulatorHandle, client_id: str = DEMO_CLIENT_ID, secret: str = DEMO_CLIENT_SECRET):
    return GetToken(emulator.domain, client_id, client_secret=secret, protocol="http", telemetry=False)


def sdk_login(emulator: EmulatorHandle, user: str, password: str | None = None, **kwargs):
    username, default_password = DEMO_USERS[user]
    return get_token(emulator, **kwargs).login(
        username,
        password if password is not None else default_password,
        realm=DEMO_CONNECTION,
        audience=DEMO_AUDIENCE,
        scope="openid offline_access",
        forwarded_for=USER_IP,
    )


def management(emulator: EmulatorHandle, token: str = MANAGEMENT_TOKEN) -> Auth0:
    # ManagementClient(domain=...) always builds https:// URLs; the generated Auth0 client takes a base URL.
    return Auth0(base_url=f"{emulator.base_url}/api/v2", token=token, max_retries=0)


def test_login_with_forwarded_for(auth0_emulator: EmulatorHandle) -> None:
    tokens = sdk_login(auth0_emulator, "alice")
    assert {"access_token", "id_token", "refresh_token"} <= set(tokens)
    (record,) = auth0_emulator.token_requests()
    assert record["grant_type"] == "http://auth0.com/oauth/grant-type/password-realm"
    assert (record["forwarded_for"], record["attributed_ip"]) == (USER_IP, USER_IP)
    refreshed = get_token(auth0_emulator).refresh_token(tokens["refresh_token"])
    assert refreshed["token_type"] == "Bearer"


def test_untrusted_client_header_is_ignored(auth0_emulator: EmulatorHandle) -> None:
    sdk_login(auth0_emulator, "alice", client_id=UNTRUSTED_CLIENT_ID, secret=UNTRUSTED_CLIENT_SECRET)
    assert auth0_emulator.token_requests()[0]["attributed_ip"] == "127.0.0.1"


@pytest.mark.parametrize(
    ("user", "password", "status", "code"),
    [
        ("alice", "wrong", 403, "invalid_grant"),
        ("bob", None, 401, "password_leaked"),
        ("dave", None, 401, "unauthorized"),
        ("carol", None, 403, "mfa_required"),
    ],
)
def test_sdk_errors_carry_status_and_code(
    auth0_emulator: EmulatorHandle, user, password, status, code
) -> None:
    with pytest.raises(Auth0Error) as raised:
        sdk_login(auth0_emulator, user, password)
    assert (raised.value.status_code, raised.value.error_code) == (status, code)
    if code == "mfa_required":
        assert isinstance(raised.value.content, dict)
        assert raised.value.content["mfa_token"]


def test_sdk_invalid_client(auth0_emulator: EmulatorHandle) -> None:
    with pytest.raises(Auth0Error) as raised:
        sdk_login(auth0_emulator, "alice", secret="not-the-secret")
    assert (raised.value.status_code, raised.value.error_code) == (401, "invalid_client")


def test_sdk_sees_brute_force_block_as_rate_limit_error(auth0_emulator: EmulatorHandle) -> None:
    for _ in range(10):
        with pytest.raises(Auth0Error):
            sdk_login(auth0_emulator, "alice", "wrong")
    with pytest.raises(RateLimitError) as raised:
        sdk_login(auth0_emulator, "alice")
    assert (raised.value.status_code, raised.value.error_code) == (429, "too_many_attempts")


def test_sdk_change_password(auth0_emulator: EmulatorHandle) -> None:
    database = Database(auth0_emulator.domain, DEMO_CLIENT_ID, protocol="http", telemetry=False)
    answer = database.change_password(DEMO_USERS["alice"][0], DEMO_CONNECTION)
    assert answer == "We've just sent you an email to reset your password."
    assert database.change_password("nobody@example.com", DEMO_CONNECTION) == answer
    assert [e["kind"] for e in auth0_emulator.outbox()] == ["reset_password"]


def test_management_sdk_attack_protection_and_blocks(auth0_emulator: EmulatorHandle) -> None:
    api = management(auth0_emulator)
    assert api.attack_protection.brute_force_protection.get().max_attempts == 10
    api.attack_protection.brute_force_protection.update(max_attempts=2)
    for _ in range(2):
        with pytest.raises(Auth0Error):
            sdk_login(auth0_emulator, "alice", "wrong")
    blocks = api.user_blocks.list_by_identifier(identifier=DEMO_USERS["alice"][0])
    assert blocks.blocked_for is not None
    assert [b.ip for b in blocks.blocked_for] == [USER_IP]
    api.user_blocks.delete_by_identifier(identifier=DEMO_USERS["alice"][0])
    assert sdk_login(auth0_emulator, "alice")["access_token"]
    with pytest.raises(NotFoundError):
        api.anomaly.blocks.check_ip(USER_IP)
    api.anomaly.blocks.unblock_ip(USER_IP)


def test_management_sdk_client_trust_flag(auth0_emulator: EmulatorHandle) -> None:
    api = management(auth0_emulator)
    api.clients.update(DEMO_CLIENT_ID, is_token_endpoint_ip_header_trusted=False)
    assert api.clients.get(DEMO_CLIENT_ID).is_token_endpoint_ip_header_trusted is False
    sdk_login(auth0_emulator, "alice")
    assert auth0_emulator.token_requests()[0]["attributed_ip"] == "127.0.0.1"


def test_management_sdk_wrong_token(auth0_emulator: EmulatorHandle) -> None:
    with pytest.raises(UnauthorizedError):
        management(auth0_emulator, token="wrong").attack_protection.suspicious_ip_throttling.get()


def test_management_sdk_with_the_doctors_m2m_token(
    auth0_emulator: EmulatorHandle, secret_registry: SecretRegistry
) -> None:
    doctor = GetToken(
        auth0_emulator.domain,
        DOCTOR_CLIENT_ID,
        client_secret=DOCTOR_CLIENT_SECRET,
        protocol="http",
        telemetry=False,
    )
    answer = doctor.client_credentials(f"{auth0_emulator.base_url}/api/v2/")
    secret_registry.add_tokens_from(answer)
    api = management(auth0_emulator, token=answer["access_token"])
    with pytest.raises(Auth0Error):
        sdk_login(auth0_emulator, "alice", "wrong")
    pager = api.logs.list(search=f'type:"fp" AND ip:"{USER_IP}"', sort="date:-1", per_page=5)
    (event,) = list(pager)
    assert (event.type, event.ip, event.client_ip, event.user_name) == (
        "fp",
        USER_IP,
        "127.0.0.1",
        "alice@example.com",
    )
    assert event.log_id is not None
    assert api.logs.get(event.log_id).type == "fp"
    client = api.clients.get(
        DEMO_CLIENT_ID, fields="is_token_endpoint_ip_header_trusted", include_fields=True
    )
    assert client.is_token_endpoint_ip_header_trusted is True
    assert client.client_secret is None
    with pytest.raises(BadRequestError):
        api.clients.update(
            UNTRUSTED_CLIENT_ID, token_endpoint_auth_method="none", is_token_endpoint_ip_header_trusted=True
        )
    with pytest.raises(ForbiddenError):
        api.user_blocks.list_by_identifier(identifier=DEMO_USERS["alice"][0])
