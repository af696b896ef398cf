"""Helpers for the emulator's own tests: a demo-tenant model on a manual clock, and login calls."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from auth0_emulator import EmulatorServer, EmulatorState, ManualClock, load_tenant_file
from auth0_emulator.calls import TokenCall
from auth0_emulator.replies import Reply
from auth0_emulator.tokens import TokenSigner
from tests.fixtures.emulator import DEMO_AUDIENCE, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT

SERVER_IP = "10.0.0.1"  # the TCP peer: our login function's address as Auth0 sees it
USER_IP = "203.0.113.7"  # the end user's address, forwarded in auth0-forwarded-for


@pytest.fixture(scope="session")
def signer() -> TokenSigner:
    """One RSA key for the session: key generation is the slowest part of building a state."""
    return TokenSigner()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def state(clock: ManualClock, signer: TokenSigner) -> EmulatorState:
    return EmulatorState(load_tenant_file(DEMO_TENANT), clock=clock, signer=signer)


@pytest.fixture
def manual_server(state: EmulatorState) -> Iterator[EmulatorServer]:
    """A private server on a manual clock, for HTTP tests that move time or change settings."""
    with EmulatorServer(state, host="127.0.0.1", port=0) as server:
        yield server


def login(
    state: EmulatorState,
    username: str,
    password: str,
    *,
    forwarded_for: str | None = USER_IP,
    peer_ip: str = SERVER_IP,
    client_id: str = DEMO_CLIENT_ID,
    client_secret: str | None = DEMO_CLIENT_SECRET,
    **extra: str,
) -> Reply:
    params = {
        "grant_type": "password",
        "client_id": client_id,
        "username": username,
        "password": password,
        "audience": DEMO_AUDIENCE,
        **extra,
    }
    if client_secret is not None:
        params["client_secret"] = client_secret
    return state.token(TokenCall(peer_ip=peer_ip, forwarded_for=forwarded_for, params=params))


def error_of(reply: Reply) -> tuple[int, str | None]:
    body = reply.body
    return reply.status, body.get("error") if isinstance(body, dict) else None
