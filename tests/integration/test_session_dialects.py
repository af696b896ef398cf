"""Auth0's two MFA error dialects get one answer each, through the offline stack.

The emulator answers in the older dialect (``invalid_grant`` "Invalid otp_code.") or, switched with
``POST /__emulator/tenant {"mfa_error_format": "current"}``, the newer one (``invalid_otp``, ...):
the client of ropguard sees exactly the same status and body either way.
"""

from __future__ import annotations

import httpx
import pytest

from ropguard_offline.stack import OfflineStack
from tests.fixtures.emulator import DEMO_USERS
from tests.fixtures.secret_hygiene import SecretRegistry
from tests.integration.stack_client import StackClient

pytestmark = pytest.mark.integration

CAROL = DEMO_USERS["carol"]
SOURCE = "127.0.0.71"


def wrong_code_answers(client: StackClient) -> list[tuple[int, dict[str, str]]]:
    mfa_token = client.login(*CAROL, source=SOURCE).json()["mfa_token"]
    answers = []
    for fields in ({"otp": "000000"}, {"recovery_code": "NOT-A-RECOVERY-CODE-0001"}):
        response = client.call("POST", "/login/mfa", source=SOURCE, json={"mfa_token": mfa_token, **fields})
        answers.append((response.status_code, response.json()))
    bad_token = client.call(
        "POST", "/login/mfa", source=SOURCE, json={"mfa_token": "not-an-mfa-token-at-all", "otp": "123456"}
    )
    answers.append((bad_token.status_code, bad_token.json()))
    return answers


def test_old_and_new_mfa_errors_are_answered_alike(
    offline_stack: OfflineStack, secret_registry: SecretRegistry
) -> None:
    client = StackClient(offline_stack, secret_registry)
    legacy = wrong_code_answers(client)

    offline_stack.reset()
    httpx.post(
        f"{offline_stack.auth0_url}/__emulator/tenant", json={"mfa_error_format": "current"}, timeout=10
    ).raise_for_status()
    current = wrong_code_answers(client)
    seen_by_auth0 = {record["error"] for record in client.token_requests()}

    assert current == legacy
    assert all(status == 403 and body["error"] == "invalid_grant" for status, body in legacy)
    assert seen_by_auth0 & {"invalid_otp", "invalid_recovery_code", "mfa_token_invalid"}
