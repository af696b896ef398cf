"""ropguard.rotation: the one second send, only after Auth0 refused the client and the secret changed."""

from __future__ import annotations

from ropguard.auth0_client import Auth0Reply
from ropguard.credentials import ClientCredentials
from ropguard.outcomes import Step
from ropguard.rotation import exchange

OLD = ClientCredentials("id", "old-secret-never-log")
NEW = ClientCredentials("id", "new-secret-never-log")
REJECTED = Auth0Reply(401, {"error": "invalid_client"}, {})
OK = Auth0Reply(200, {"access_token": "a"}, {})


class Secret:
    def __init__(self, *values: ClientCredentials) -> None:
        self.values = list(values)
        self.refreshes = 0

    def get(self, *, refresh: bool = False) -> ClientCredentials:
        if refresh:
            self.refreshes += 1
            self.values.pop(0)
        return self.values[0]


def test_a_rotated_secret_is_read_again_and_the_call_sent_once_more() -> None:
    sent: list[ClientCredentials] = []
    result = exchange(
        Secret(OLD, NEW), lambda c: sent.append(c) or (OK if c == NEW else REJECTED), Step.PASSWORD
    )
    assert (result.attempts, result.reply, sent) == (2, OK, [OLD, NEW])


def test_an_unchanged_secret_is_not_sent_again() -> None:
    sent: list[ClientCredentials] = []
    result = exchange(Secret(OLD, OLD), lambda c: sent.append(c) or REJECTED, Step.PASSWORD)
    assert (result.attempts, sent) == (1, [OLD])


def test_any_other_answer_is_final() -> None:
    secret = Secret(OLD, NEW)
    denied = Auth0Reply(403, {"error": "invalid_grant"}, {})
    assert exchange(secret, lambda c: denied, Step.PASSWORD).attempts == 1
    assert secret.refreshes == 0
