"""Auth0 client credentials from Secrets Manager, cached across invocations.

The secret string is JSON ``{"client_id": ..., "client_secret": ...}``. Powertools Parameters keeps it
for ``max_age`` seconds so warm invocations make no AWS call; ``refresh`` bypasses the cache after
Auth0 rejects the client (the secret was rotated). The boto3 client is created on first use, so a
container that never logs anyone in, or fails configuration, never builds one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError, TransformParameterError

from ropguard.errors import SecretUnavailableError

if TYPE_CHECKING:
    from mypy_boto3_secretsmanager.client import SecretsManagerClient


#: The name the services know; one class of ``ropguard.errors``.
CredentialsUnavailableError = SecretUnavailableError


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)


def _credentials_from(value: Any) -> ClientCredentials:
    if not isinstance(value, dict):
        raise CredentialsUnavailableError("the secret string is not a JSON object")
    client_id, client_secret = value.get("client_id"), value.get("client_secret")
    for name, item in (("client_id", client_id), ("client_secret", client_secret)):
        if not isinstance(item, str) or not item:
            raise CredentialsUnavailableError(f"the secret has no non-empty string {name!r}")
    return ClientCredentials(client_id=str(client_id), client_secret=str(client_secret))


class SecretCredentials:
    """Reads and caches one secret's client credentials; shared by the login and reset functions."""

    def __init__(
        self,
        secret_id: str,
        *,
        max_age_seconds: int,
        boto3_client: SecretsManagerClient | None = None,
    ) -> None:
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._boto3_client = boto3_client
        self._provider: SecretsProvider | None = None

    def _secrets(self) -> SecretsProvider:
        if self._provider is None:
            self._provider = SecretsProvider(boto3_client=self._boto3_client)
        return self._provider

    def get(self, *, refresh: bool = False) -> ClientCredentials:
        """The cached credentials; ``refresh`` fetches them again (after a rotation)."""
        try:
            value = self._secrets().get(
                self._secret_id, max_age=self._max_age, transform="json", force_fetch=refresh
            )
        except GetParameterError as exc:  # AWS's message names the failure, never the value
            raise CredentialsUnavailableError(f"cannot read secret {self._secret_id}: {exc}") from exc
        except TransformParameterError:
            raise CredentialsUnavailableError(f"secret {self._secret_id} does not hold JSON") from None
        return _credentials_from(value)
