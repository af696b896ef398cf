"""One exchange with Auth0 under the client secret's rotation rule, shared by every route.

When Auth0 refuses the *client* (``ropguard.outcomes.client_rejected``: ``invalid_client``, or 401
``access_denied`` to the password grant on older tenants) it has not judged the user's grant, so
sending it once more with a freshly read secret neither counts toward brute-force protection nor
consumes a code. That is the only second send: a timeout, a broken connection or any other answer
is final, because the grant may have reached Auth0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple, Protocol

from ropguard.auth0_client import Auth0Reply
from ropguard.credentials import ClientCredentials
from ropguard.outcomes import Step, client_rejected


class CredentialsSource(Protocol):
    """Where a service gets the Auth0 client credentials (``ropguard.credentials.SecretCredentials``)."""

    def get(self, *, refresh: bool = False) -> ClientCredentials: ...


class Exchanged(NamedTuple):
    reply: Auth0Reply
    attempts: int


def exchange(
    credentials: CredentialsSource, send: Callable[[ClientCredentials], Auth0Reply], step: Step
) -> Exchanged:
    """Send with the cached secret; once more with a re-read one only if Auth0 refused the client
    and the secret has changed. Raises ``SecretUnavailableError`` and ``UpstreamError`` as they come."""
    current = credentials.get()
    reply = send(current)
    if not client_rejected(reply, step):
        return Exchanged(reply, 1)
    fresh = credentials.get(refresh=True)
    if fresh == current:
        return Exchanged(reply, 1)
    return Exchanged(send(fresh), 2)
