"""One client-authenticated Authentication API call and what the tenant learns while serving it.

Shared by every concern that serves ``/oauth/token``, ``/mfa/challenge`` or ``/oauth/revoke``, so
none of them needs to know about the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from auth0_emulator.clients import ClientConfig
from auth0_emulator.directory import User
from auth0_emulator.errors import OAuthError

TOKEN_PATH = "/oauth/token"
CHALLENGE_PATH = "/mfa/challenge"
REVOKE_PATH = "/oauth/revoke"


@dataclass(frozen=True)
class TokenCall:
    """One request to ``/oauth/token``, ``/mfa/challenge`` or ``/oauth/revoke`` as the HTTP layer saw it."""

    peer_ip: str
    forwarded_for: str | None
    params: Mapping[str, str]
    basic_auth: tuple[str, str] | None = None


@dataclass
class TokenRequestRecord:
    peer_ip: str
    forwarded_for: str | None
    attributed_ip: str
    client_id: str | None
    grant_type: str | None
    username: str | None
    endpoint: str = TOKEN_PATH
    status: int = 0
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "endpoint": self.endpoint,
            "peer_ip": self.peer_ip,
            "forwarded_for": self.forwarded_for,
            "attributed_ip": self.attributed_ip,
            "client_id": self.client_id,
            "grant_type": self.grant_type,
            "username": self.username,
            "status": self.status,
            "error": self.error,
        }


@dataclass
class Outcome:
    """What one request found out, for its tenant-log events (filled in as the request goes)."""

    record: TokenRequestRecord
    client: ClientConfig | None = None
    user: User | None = None
    connection: str | None = None
    reason: str | None = None


def split_scope(scope: str | None) -> tuple[str, ...]:
    """A ``scope`` parameter as an ordered tuple without repeats."""
    return tuple(dict.fromkeys((scope or "").split()))


def required(error: OAuthError) -> str:
    """Raise ``error``: used as ``params.get(name) or required(missing(name))``."""
    raise error
