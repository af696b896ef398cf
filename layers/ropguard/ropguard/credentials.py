"""Secrets Manager secrets, cached per container, read without boto3 when the extension is attached.

Two ways to read a secret, chosen once per container by ``ropguard.settings.SecretStoreSettings``:

* **AWS Parameters and Secrets Lambda Extension** (``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` set):
  ``GET http://localhost:{port}/secretsmanager/get?secretId=...`` with the function's session token
  in ``X-Aws-Parameters-Secrets-Token``, through a small keep-alive origin of its own
  (``ropguard.outbound``: short timeouts, created on first use). boto3 is not imported on this
  path: it was most of the cold start a login would otherwise pay (docs/architecture.md, "Cold start").
* **Powertools Parameters** otherwise (imported on first use, so importing this module stays cheap).

Either way the value is kept in memory for ``max_age_seconds`` so warm invocations make no call at
all; ``refresh=True`` reads again at once (after Auth0 rejects the client: the secret was rotated).
Every failure becomes ``SecretUnavailableError`` (a 503 at the edge) whose message names the secret
and the cause, never a value.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Protocol

from ropguard.errors import SecretUnavailableError
from ropguard.outbound import TIMEOUT_ERRORS, TRANSPORT_ERRORS, Origin, Timeouts

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider
    from mypy_boto3_secretsmanager.client import SecretsManagerClient

    from ropguard.settings import Auth0Settings, SecretStoreSettings

#: The extension accepts a request only with the execution environment's session token in this header.
EXTENSION_TOKEN_HEADER: Final = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header name
#: The answer is parsed as sent: never a compressed body.
EXTENSION_HEADERS: Final = (("Accept", "application/json"), ("Accept-Encoding", "identity"))
CURRENT: Final = "AWSCURRENT"
PREVIOUS: Final = "AWSPREVIOUS"


class SecretReader(Protocol):
    """Reads one version stage of a secret: its SecretString, or None when that stage does not exist."""

    def read(self, secret_id: str, stage: str) -> str | None: ...


# --- the extension's local HTTP endpoint ----------------------------------------------------------


class ExtensionTimeouts(NamedTuple):
    """Short on purpose: the extension is on localhost; only its own miss goes to Secrets Manager."""

    connect_seconds: float = 0.5
    read_seconds: float = 2.0


EXTENSION_TIMEOUTS: Final = ExtensionTimeouts()


class ExtensionSecretReader:
    """``GET /secretsmanager/get`` on the Parameters and Secrets extension, through one small pool.

    The pool is built on the first read (not at import, not before a SnapStart snapshot) and
    rebuilt by ``reset()`` (SnapStart's after-restore hook: sockets do not survive a restore).
    It reads no proxy variable, so the session token never leaves the host; plain http on
    localhost loads no CA bundle (``ropguard.outbound``).
    """

    def __init__(
        self,
        port: int,
        *,
        session_token: str,
        timeouts: ExtensionTimeouts = EXTENSION_TIMEOUTS,
    ) -> None:
        self.base_url = f"http://localhost:{port}"
        self._session_token = session_token
        self._timeouts = timeouts
        self._client: Origin | None = None

    def _http(self) -> Origin:
        if self._client is None:
            timeouts = Timeouts(
                connect_seconds=self._timeouts.connect_seconds, read_seconds=self._timeouts.read_seconds
            )
            self._client = Origin(self.base_url, timeouts, headers=EXTENSION_HEADERS)
        return self._client

    def reset(self) -> None:
        """Drop the client and its sockets; the next read builds a new one."""
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def read(self, secret_id: str, stage: str) -> str | None:
        token = self._session_token
        if not token:
            # The extension refuses every request without it; SnapStart functions have none.
            raise SecretUnavailableError(
                f"cannot read secret {secret_id} through the extension: AWS_SESSION_TOKEN is not set"
            )
        params = {"secretId": secret_id}
        if stage != CURRENT:
            params["versionStage"] = stage
        try:
            reply = self._http().request(
                "GET", "/secretsmanager/get", params=params, headers=[(EXTENSION_TOKEN_HEADER, token)]
            )
        except TIMEOUT_ERRORS as exc:
            raise SecretUnavailableError(
                f"cannot read secret {secret_id}: the extension did not answer in time ({type(exc).__name__})"
            ) from None
        except TRANSPORT_ERRORS as exc:
            raise SecretUnavailableError(
                f"cannot read secret {secret_id}: the extension is unreachable ({type(exc).__name__})"
            ) from None
        return _extension_answer(secret_id, stage, reply.status, reply.content)


def _extension_answer(secret_id: str, stage: str, status: int, content: bytes) -> str | None:
    """GetSecretValue's JSON on 200; None for a missing non-current stage; otherwise unavailable."""
    if status == 200:
        try:
            body = json.loads(content)
        except ValueError:
            raise SecretUnavailableError(f"cannot read secret {secret_id}: the answer is not JSON") from None
        value = body.get("SecretString") if isinstance(body, dict) else None
        if not isinstance(value, str):
            raise SecretUnavailableError(f"cannot read secret {secret_id}: the answer holds no SecretString")
        return value
    if status in (401, 403):
        raise SecretUnavailableError(f"cannot read secret {secret_id}: the extension refused the token")
    if stage != CURRENT and _is_not_found(status, content):
        return None  # e.g. no AWSPREVIOUS before the first rotation
    raise SecretUnavailableError(f"cannot read secret {secret_id}: the extension answered {status}")


def _is_not_found(status: int, content: bytes) -> bool:
    """The extension relays Secrets Manager's ResourceNotFoundException as a 4xx with its name."""
    if status == 404:
        return True
    return status == 400 and b"resourcenotfound" in content.lower().replace(b" ", b"")


# --- Powertools Parameters (boto3) ----------------------------------------------------------------


class PowertoolsSecretReader:
    """Secrets Manager through Powertools' SecretsProvider: boto3 is imported on the first read."""

    def __init__(self, *, boto3_client: SecretsManagerClient | None = None) -> None:
        self._boto3_client = boto3_client
        self._provider: SecretsProvider | None = None

    def _secrets(self) -> SecretsProvider:
        if self._provider is None:
            from aws_lambda_powertools.utilities.parameters import SecretsProvider  # noqa: PLC0415

            self._provider = SecretsProvider(boto3_client=self._boto3_client)
        return self._provider

    def read(self, secret_id: str, stage: str) -> str | None:
        from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError  # noqa: PLC0415

        try:
            # CachedSecret keeps the value; Powertools' own cache is bypassed so refresh means refresh.
            value = self._secrets().get(secret_id, force_fetch=True, max_age=0, VersionStage=stage)
        except GetParameterError as exc:  # AWS's message names the failure, never the value
            if stage != CURRENT and _error_code(exc) == "ResourceNotFoundException":
                return None
            raise SecretUnavailableError(f"cannot read secret {secret_id}: {exc}") from exc
        if not isinstance(value, str):
            raise SecretUnavailableError(f"cannot read secret {secret_id}: it holds binary data, not text")
        return value


def _error_code(exc: BaseException) -> str | None:
    """The AWS error code of the ClientError Powertools wrapped (it raises inside ``except``)."""
    cause = exc.__cause__ or exc.__context__
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        return str(code) if code else None
    return None


def secret_reader(settings: SecretStoreSettings) -> SecretReader:
    """The extension when it is configured, Powertools (boto3) otherwise."""
    if settings.extension_port is not None:
        return ExtensionSecretReader(settings.extension_port, session_token=settings.session_token)
    return PowertoolsSecretReader()


# --- the cache ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Cached:
    value: str | None = field(repr=False)
    read_at: float


class CachedSecret:
    """One secret's stages, each kept for ``max_age_seconds``; shared by every ropguard function.

    ``value(stage)`` is the raw SecretString, or None when that stage does not exist (AWSPREVIOUS
    before the first rotation; AWSCURRENT always exists, so its absence is an error).
    """

    def __init__(
        self,
        secret_id: str,
        *,
        max_age_seconds: int,
        reader: SecretReader,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.secret_id = secret_id
        self._max_age = max_age_seconds
        self._reader = reader
        self._clock = clock
        self._cache: dict[str, _Cached] = {}

    def value(self, stage: str = CURRENT, *, refresh: bool = False) -> str | None:
        now = self._clock()
        cached = self._cache.get(stage)
        if cached is not None and not refresh and now - cached.read_at < self._max_age:
            return cached.value
        value = self._reader.read(self.secret_id, stage)
        if value is None and stage == CURRENT:
            raise SecretUnavailableError(f"secret {self.secret_id} has no {CURRENT} version")
        self._cache[stage] = _Cached(value, now)
        return value


# --- Auth0 client credentials ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClientCredentials:
    client_id: str
    client_secret: str = field(repr=False)


def _credentials_from(value: Any) -> ClientCredentials:
    if not isinstance(value, dict):
        raise SecretUnavailableError("the secret string is not a JSON object")
    client_id, client_secret = value.get("client_id"), value.get("client_secret")
    for name, item in (("client_id", client_id), ("client_secret", client_secret)):
        if not isinstance(item, str) or not item:
            raise SecretUnavailableError(f"the secret has no non-empty string {name!r}")
    return ClientCredentials(client_id=str(client_id), client_secret=str(client_secret))


class SecretCredentials:
    """The Auth0 client credentials held in one secret (JSON); shared by the login and reset functions."""

    def __init__(
        self,
        secret_id: str,
        *,
        max_age_seconds: int,
        reader: SecretReader,
    ) -> None:
        self._secret = CachedSecret(secret_id, max_age_seconds=max_age_seconds, reader=reader)

    @classmethod
    def for_tenant(cls, settings: Auth0Settings) -> SecretCredentials:
        """The credentials every function that calls Auth0 reads: its secret, its max age."""
        return cls(
            settings.secret_id,
            max_age_seconds=settings.secret_max_age_seconds,
            reader=secret_reader(settings.secrets),
        )

    def get(self, *, refresh: bool = False) -> ClientCredentials:
        """The cached credentials; ``refresh`` fetches them again (after a rotation)."""
        raw = self._secret.value(CURRENT, refresh=refresh)
        try:
            value = json.loads(raw or "")
        except ValueError:
            raise SecretUnavailableError(f"secret {self._secret.secret_id} does not hold JSON") from None
        return _credentials_from(value)
