"""Auth0 client credentials from Secrets Manager, cached across invocations.

The secret string is JSON ``{"client_id": ..., "client_secret": ...}``. Powertools Parameters keeps it
for ``max_age`` seconds so warm invocations make no AWS call; ``refresh`` bypasses the cache after
Auth0 rejects the client (the secret was rotated). The boto3 client is created on first use, so a
container that never logs anyone in, or fails configuration, never builds one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
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


# --- CachedSecret (TEAM contract 3) ---------------------------------------------------------------
# A minimal stand-in written by the cloudfront branch against the contract; coldstart's version
# (extension path, shared cache) replaces it at merge. The interface is the contract's.

_MISSING_STAGE_ERRORS = frozenset({"ResourceNotFoundException"})


class CachedSecret:
    """One secret's raw ``SecretString`` per version stage, cached for ``max_age_seconds``.

    Used for values that are not client credentials (the CloudFront origin secret): the current
    and the previous stage are cached apart, so a rotation's grace period costs no extra call.
    ``value`` returns None when the stage does not exist (no AWSPREVIOUS before the first rotation).
    """

    def __init__(
        self,
        secret_id: str,
        *,
        max_age_seconds: int,
        boto3_client: SecretsManagerClient | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_id = secret_id
        self._max_age = max_age_seconds
        self._client = boto3_client
        self._clock = clock
        self._cache: dict[str, tuple[float, str | None]] = {}

    def _secretsmanager(self) -> SecretsManagerClient:
        if self._client is None:
            import boto3  # noqa: PLC0415 - only containers that need the secret pay for boto3

            self._client = boto3.client("secretsmanager")
        return self._client

    def value(self, stage: str = "AWSCURRENT", *, refresh: bool = False) -> str | None:
        """The stage's SecretString (cached), or None when the secret has no such stage."""
        now = self._clock()
        cached = self._cache.get(stage)
        if cached is not None and not refresh and now - cached[0] < self._max_age:
            return cached[1]
        value = self._fetch(stage)
        self._cache[stage] = (now, value)
        return value

    def _fetch(self, stage: str) -> str | None:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            answer = self._secretsmanager().get_secret_value(SecretId=self._secret_id, VersionStage=stage)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in _MISSING_STAGE_ERRORS and stage != "AWSCURRENT":
                return None
            raise SecretUnavailableError(f"cannot read secret {self._secret_id} ({stage}): {code}") from None
        except BotoCoreError as exc:
            raise SecretUnavailableError(
                f"cannot read secret {self._secret_id} ({stage}): {type(exc).__name__}"
            ) from None
        text = answer.get("SecretString")
        if not isinstance(text, str):
            raise SecretUnavailableError(f"secret {self._secret_id} ({stage}) holds no SecretString")
        return text
