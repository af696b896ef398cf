"""Both client authentication methods against the Auth0 emulator: the secret in the body or in Basic."""

from __future__ import annotations

from typing import Any

import pytest

from ropguard.auth0_client import PasswordGrant, TokenEndpoint
from ropguard.credentials import ClientCredentials
from ropguard.settings import CLIENT_AUTH_METHODS, Auth0Settings
from tests.fixtures.emulator import EmulatorHandle

pytestmark = pytest.mark.integration

CLIENT = ClientCredentials("ropguard-demo-client", "ropguard-demo-secret-not-for-production")
ALICE = PasswordGrant("alice@example.com", "correct-horse-battery-staple", "openid", None, None)


def endpoint(emulator: EmulatorHandle, method: str) -> TokenEndpoint:
    settings = Auth0Settings(
        base_url=emulator.base_url.rstrip("/"),
        secret_id="unused",
        connect_timeout_seconds=2,
        read_timeout_seconds=10,
        secret_max_age_seconds=300,
        client_auth_method=method,
    )
    return TokenEndpoint.for_tenant(settings)


@pytest.mark.parametrize("method", CLIENT_AUTH_METHODS)
def test_a_login_with_either_method(
    auth0_emulator: EmulatorHandle, method: str, secret_registry: Any
) -> None:
    secret_registry.add("client secret", CLIENT.client_secret)
    token_endpoint = endpoint(auth0_emulator, method)
    reply = token_endpoint.request_token(ALICE, CLIENT, forwarded_for="203.0.113.5")
    token_endpoint.close()
    assert reply.status == 200, reply.body
    assert "access_token" in reply.body


@pytest.mark.parametrize("method", CLIENT_AUTH_METHODS)
def test_a_wrong_secret_is_invalid_client_with_either_method(
    auth0_emulator: EmulatorHandle, method: str
) -> None:
    token_endpoint = endpoint(auth0_emulator, method)
    wrong = ClientCredentials(CLIENT.client_id, "not-the-secret")
    reply = token_endpoint.request_token(ALICE, wrong, forwarded_for="203.0.113.5")
    token_endpoint.close()
    assert (reply.status, reply.body["error"]) == (401, "invalid_client")
