"""Client credentials for the doctor: the Management API's M2M client and ropguard's login client.

Both come from a Secrets Manager secret (``{"client_id": ..., "client_secret": ...}``, the same
shape as ropguard's own secret) or from environment variables. Secrets are held in fields with
``repr=False`` and never formatted into a message.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ropguard_doctor.errors import DoctorError

#: The offline stack's demo M2M client (documented demo values, like the demo tenant's users).
OFFLINE_MANAGEMENT_CLIENT_ID = "ropguard-doctor"
OFFLINE_MANAGEMENT_CLIENT_SECRET = "ropguard-doctor-secret-not-for-production"  # noqa: S105 - a demo value
#: moto accepts any credentials; these keep boto3 from looking for a real profile.
FAKE_AWS_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
#: The logical id of the template's Auth0 client secret (part of the name moto gives it).
STACK_SECRET_LOGICAL_ID = "Auth0ClientSecret"  # noqa: S105 - a logical id


@dataclass(frozen=True)
class Credentials:
    client_id: str
    client_secret: str = field(repr=False)


def credentials_from_json(text: str | None, where: str) -> Credentials:
    """Parse a secret string; the message names the secret and the field, never a value."""
    try:
        value = json.loads(text or "")
    except ValueError:
        raise DoctorError(f"{where} does not hold JSON") from None
    if not isinstance(value, dict):
        raise DoctorError(f"{where} is not a JSON object")
    for name in ("client_id", "client_secret"):
        if not isinstance(value.get(name), str) or not value[name]:
            raise DoctorError(f"{where} has no non-empty string {name!r}")
    return Credentials(str(value["client_id"]), str(value["client_secret"]))


def credentials_from_env(env: Mapping[str, str], id_name: str, secret_name: str) -> Credentials | None:
    """Both variables set: credentials; neither: None; one of them: an error naming the other."""
    client_id, secret = env.get(id_name, "").strip(), env.get(secret_name, "").strip()
    if client_id and secret:
        return Credentials(client_id, secret)
    if client_id or secret:
        missing = secret_name if client_id else id_name
        raise DoctorError(f"{missing} is not set (it goes with {id_name if client_id else secret_name})")
    return None


@dataclass(frozen=True)
class SecretsManager:
    """Reads secrets through boto3 (a region and an endpoint for moto are optional)."""

    region: str | None = None
    endpoint_url: str | None = None
    fake_credentials: bool = False

    def _client(self) -> Any:
        import boto3  # noqa: PLC0415 - only the commands that read a secret need boto3

        fake = self.fake_credentials
        return boto3.client(
            "secretsmanager",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=FAKE_AWS_CREDENTIALS["aws_access_key_id"] if fake else None,
            aws_secret_access_key=FAKE_AWS_CREDENTIALS["aws_secret_access_key"] if fake else None,
        )

    def credentials(self, secret_id: str) -> Credentials:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            value = self._client().get_secret_value(SecretId=secret_id)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "error")
            raise DoctorError(f"cannot read secret {secret_id}: {code}") from None
        except BotoCoreError as exc:
            raise DoctorError(f"cannot read secret {secret_id}: {type(exc).__name__}") from None
        return credentials_from_json(value.get("SecretString"), f"secret {secret_id}")

    def stack_login_credentials(self) -> Credentials:
        """The offline stack's Auth0 client secret (the one whose name holds its logical id)."""
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            pages = self._client().get_paginator("list_secrets").paginate()
            names = [secret["Name"] for page in pages for secret in page.get("SecretList", [])]
        except (ClientError, BotoCoreError) as exc:
            raise DoctorError(
                f"cannot list the offline stack's secrets at {self.endpoint_url} ({type(exc).__name__}); "
                "is `make run` running? (For a deployed tenant, give --domain or AUTH0_DOMAIN.)"
            ) from None
        matches = [name for name in names if STACK_SECRET_LOGICAL_ID in name]
        if len(matches) != 1:
            raise DoctorError(
                f"expected one secret named like {STACK_SECRET_LOGICAL_ID} at {self.endpoint_url}, "
                f"found {len(matches)}; give --login-secret-id (or AUTH0_SECRET_ID)"
            )
        return self.credentials(matches[0])
