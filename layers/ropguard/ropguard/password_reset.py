"""Turns queued ``password.breached`` events into at most one Auth0 reset email per user per window.

Every record ends in exactly one place, each with its metric: email requested (``ResetRequested``),
deduplicated within the window (``ResetDeduplicated``), finished without an email because Auth0 has
no such user (``ResetUserNotFound``) or because the username is not an address and no management
credential is configured to look it up (``ResetSkipped``), or dead-lettered with a reason
(``ResetDeadLettered``; a body that cannot be read for any reason goes there at once). Transient
failures raise so SQS redelivers (``ResetRetried``); on the last receive they are dead-lettered
too, so no record depends on the redrive policy except when the function itself dies (timeout,
crash), which the DLQ depth alarm still catches.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from enum import StrEnum
from functools import cached_property
from typing import TYPE_CHECKING, Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyPersistenceLayerError,
)
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ropguard.auth0_client import tenant_origin
from ropguard.change_password import (
    ChangePasswordClient,
    PermanentResetError,
    ResetFailedError,
    ResetRequest,
    TransientResetError,
)
from ropguard.credentials import SecretCredentials, secret_reader
from ropguard.errors import InvalidEventError, SecretUnavailableError
from ropguard.security_events import TYPE_ATTRIBUTE, PasswordBreachedEvent
from ropguard.settings import Environ, ResetSettings
from ropguard.tracing import traced_method
from ropguard.user_lookup import UserLookup

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mypy_boto3_sqs import SQSClient

logger = Logger(child=True)
metrics = Metrics()

#: DLQ message attribute that says why the record was dead-lettered.
REASON_ATTRIBUTE = "reason"
_AWS_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"total_max_attempts": 3, "mode": "standard"})


class QueuedRecord(SqsRecordModel):
    """An SQS record whose body is kept as text: parsed in the handler so a bad one can be dead-lettered."""

    body: str


class ResetOutcome(StrEnum):
    SENT = "sent"
    DEDUPLICATED = "deduplicated"
    USER_NOT_FOUND = "user_not_found"
    SKIPPED = "skipped"
    DEAD_LETTERED = "dead_lettered"


def parse_event(body: str) -> PasswordBreachedEvent:
    """The raw-delivery body is the contract; an SNS envelope (raw delivery off) is unwrapped too.

    Whatever stops the body from being read (not JSON, nested too deep for the parser, not the
    schema) is permanent: the same body fails the same way on every delivery.
    """
    try:
        data = json.loads(body)
        if (
            isinstance(data, dict)
            and data.get("Type") == "Notification"
            and isinstance(data.get("Message"), str)
        ):
            data = json.loads(data["Message"])
        return PasswordBreachedEvent.from_dict(data)
    except Exception as exc:  # any reason at all: a poison body
        raise PermanentResetError(f"invalid_event:{_describe(exc)}") from None


def address_of(username: str) -> str | None:
    """The username as an email address, or None when it is not one (Auth0 itself checks the rest)."""
    address = username.strip()
    local, at, domain = address.rpartition("@")
    labels = domain.split(".")
    if not (at and local and len(labels) >= 2 and all(labels)) or any(c.isspace() for c in address):
        return None
    return address


class PasswordResetService:
    """One per container: holds the AWS clients, the Auth0 client and the idempotency wrapper."""

    def __init__(
        self,
        *,
        change_password: ChangePasswordClient,
        client_id: Callable[[], str],
        connection: str,
        idempotency_table: str,
        window_seconds: int,
        dead_letter_queue_url: str,
        max_receive_count: int,
        session: boto3.session.Session | None = None,
        user_lookup: UserLookup | None = None,
    ) -> None:
        self._change_password = change_password
        self._user_lookup = user_lookup
        self._client_id = client_id
        self._connection = connection
        self._dlq_url = dead_letter_queue_url
        self._max_receive_count = max_receive_count
        self._session = session or boto3.session.Session()
        self.idempotency_config = IdempotencyConfig(
            event_key_jmespath="username",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=window_seconds,
            response_hook=_mark_deduplicated,
        )
        persistence = DynamoDBPersistenceLayer(
            table_name=idempotency_table, boto_config=_AWS_CONFIG, boto3_session=self._session
        )
        self._reset_once = idempotent_function(
            self._send_reset,
            data_keyword_argument="request",
            persistence_store=persistence,
            config=self.idempotency_config,
        )

    @classmethod
    def from_env(cls, env: Environ | None = None) -> PasswordResetService:
        settings = ResetSettings.from_env(env)
        credentials = SecretCredentials.for_tenant(settings.auth0)
        lookup = None
        if settings.management_secret_id is not None:
            management = SecretCredentials(
                settings.management_secret_id,
                max_age_seconds=settings.auth0.secret_max_age_seconds,
                reader=secret_reader(settings.auth0.secrets),
            )
            lookup = UserLookup(tenant_origin(settings.auth0), management, connection=settings.connection)
        return cls(
            change_password=ChangePasswordClient.for_tenant(settings.auth0),
            user_lookup=lookup,
            client_id=lambda: credentials.get().client_id,
            connection=settings.connection,
            idempotency_table=settings.idempotency_table_name,
            window_seconds=settings.window_seconds,
            dead_letter_queue_url=settings.dead_letter_queue_url,
            max_receive_count=settings.max_receive_count,
        )

    def bind_context(self, context: LambdaContext) -> None:
        """Lets an in-progress idempotency record expire with the invocation (Powertools docs)."""
        self.idempotency_config.register_lambda_context(context)

    @cached_property
    def _sqs(self) -> SQSClient:
        return self._session.client("sqs", config=_AWS_CONFIG)

    @traced_method
    def handle_record(self, record: QueuedRecord) -> str:
        """BatchProcessor's record handler: returns the outcome, raises to have SQS redeliver."""
        try:
            return self._handle(record)
        finally:
            logger.remove_keys(["event_id"])
            logger.set_correlation_id(None)

    def _handle(self, record: QueuedRecord) -> str:
        try:
            event = parse_event(record.body)
            logger.set_correlation_id(event.request_id)
            logger.append_keys(event_id=str(event.id))
            outcome = self._reset(event)
        except PermanentResetError as exc:
            return self._dead_letter(record, exc.reason)
        except Exception as exc:
            reason = _transient_reason(exc)
            if self._is_last_receive(record):
                return self._dead_letter(record, f"retries_exhausted:{reason}")
            metrics.add_metric(name="ResetRetried", unit=MetricUnit.Count, value=1)
            logger.warning("password reset will be retried", extra={"reason": reason})
            raise TransientResetError(reason) from exc
        _count_finished(outcome)
        return outcome.value

    def _reset(self, event: PasswordBreachedEvent) -> ResetOutcome:
        if event.realm is not None and event.realm != self._connection:
            raise PermanentResetError("realm_not_reset_connection")
        email = address_of(event.username)
        if email is None:
            if self._user_lookup is None:
                return ResetOutcome.SKIPPED
            email = self._user_lookup.email_for(event.username)
            if email is None:
                return ResetOutcome.USER_NOT_FOUND
        result = self._reset_once(request={"username": email.lower(), "email": email})
        return ResetOutcome(result["outcome"]) if isinstance(result, dict) else ResetOutcome.SENT

    def _send_reset(self, request: dict[str, str]) -> dict[str, str]:
        """Runs once per user per window; raising deletes the in-progress record so retries may run."""
        taken = self._change_password.request_reset(
            email=request["email"], connection=self._connection, client_id=self._client_id()
        )
        if taken is ResetRequest.USER_NOT_FOUND:
            return {"outcome": ResetOutcome.USER_NOT_FOUND.value}
        return {"outcome": ResetOutcome.SENT.value}

    def _is_last_receive(self, record: QueuedRecord) -> bool:
        try:
            return int(record.attributes.ApproximateReceiveCount) >= self._max_receive_count
        except ValueError:
            return False

    def _dead_letter(self, record: QueuedRecord, reason: str) -> str:
        """Moves the record to the DLQ with its reason; if that fails, SQS's redrive is the backstop."""
        attributes: dict[str, Any] = {REASON_ATTRIBUTE: {"DataType": "String", "StringValue": reason}}
        event_type = record.messageAttributes.get(TYPE_ATTRIBUTE)
        if event_type is not None and event_type.stringValue:
            attributes[TYPE_ATTRIBUTE] = {"DataType": "String", "StringValue": event_type.stringValue}
        try:
            self._sqs.send_message(
                QueueUrl=self._dlq_url, MessageBody=record.body, MessageAttributes=attributes
            )
        except (BotoCoreError, ClientError) as exc:
            metrics.add_metric(name="ResetRetried", unit=MetricUnit.Count, value=1)
            logger.error(
                "dead-lettering failed; SQS will redeliver (its redrive policy is the backstop)",
                extra={"reason": reason, "error": _transient_reason(exc), "sqs_message_id": record.messageId},
            )
            raise TransientResetError(f"dead_letter_failed:{reason}") from exc
        metrics.add_metric(name="ResetDeadLettered", unit=MetricUnit.Count, value=1)
        logger.error(
            "password reset dead-lettered",
            extra={"reason": reason, "sqs_message_id": record.messageId},
        )
        return ResetOutcome.DEAD_LETTERED.value


def _count_finished(outcome: ResetOutcome) -> None:
    """The metric and log line of a record that ended without the DLQ (names written out: the
    dashboard test reads them from the code)."""
    if outcome is ResetOutcome.SENT:
        metrics.add_metric(name="ResetRequested", unit=MetricUnit.Count, value=1)
        logger.info("password reset email requested")
    elif outcome is ResetOutcome.DEDUPLICATED:
        metrics.add_metric(name="ResetDeduplicated", unit=MetricUnit.Count, value=1)
        logger.info("password reset already requested for this user within the window")
    elif outcome is ResetOutcome.USER_NOT_FOUND:
        metrics.add_metric(name="ResetUserNotFound", unit=MetricUnit.Count, value=1)
        logger.info("Auth0 has no such user in the reset connection")
    else:
        metrics.add_metric(name="ResetSkipped", unit=MetricUnit.Count, value=1)
        logger.info("username is not an email and no management credential is configured to look it up")


def _mark_deduplicated(response: Any, idempotent_data: DataRecord) -> dict[str, str]:
    """Powertools calls this only when it replays a stored result, i.e. nothing was sent now."""
    return {"outcome": ResetOutcome.DEDUPLICATED.value}


def _transient_reason(exc: Exception) -> str:
    if isinstance(exc, ResetFailedError):
        return exc.reason
    if isinstance(exc, SecretUnavailableError):
        return "secret_unavailable"
    if isinstance(exc, IdempotencyAlreadyInProgressError):
        return "reset_in_progress_elsewhere"
    if isinstance(exc, IdempotencyPersistenceLayerError):
        return "idempotency_store_unavailable"
    if isinstance(exc, ClientError):
        return f"aws:{exc.response.get('Error', {}).get('Code', 'ClientError')}"
    if isinstance(exc, BotoCoreError):
        return f"aws:{type(exc).__name__}"
    return f"unexpected:{type(exc).__name__}"


def _describe(exc: Exception) -> str:
    """Field locations and messages only, never the input (it could hold anything)."""
    if isinstance(exc, InvalidEventError):
        return ";".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}:{e['type']}" for e in exc.errors(include_input=False)
        )[:200]
    if isinstance(exc, RecursionError):
        return "nested_too_deep"
    if isinstance(exc, ValueError):
        return "not_json"
    return f"unreadable:{type(exc).__name__}"
