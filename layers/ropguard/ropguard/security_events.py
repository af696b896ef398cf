"""Security events: the ``password.breached`` schema and a publisher that never silently drops one.

The login function answers the client's 401 only after the publish, so every step here is bounded:
SNS gets a few attempts inside a time budget, then the event goes straight to the reset queue (the
only consumer that matters), and only if both fail is it logged in full at error level, the last
durable copy, from which operations can replay it (docs/operations.md).
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, Literal, Self

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.exceptions import ConnectionError as BotoConnectionError
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, IPvAnyAddress

from ropguard.settings import Environ, SecurityEventSettings

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import MessageAttributeValueTypeDef

PASSWORD_BREACHED: Final = "password.breached"  # noqa: S105 - an event type, not a password
#: SNS/SQS message attribute the subscription's filter policy matches on.
TYPE_ATTRIBUTE = "type"
#: Metric names the template's alarms watch (namespace and service dimension come from the template).
PUBLISHED_METRIC = "SecurityEventPublished"
FALLBACK_METRIC = "SecurityEventFallbackUsed"
LOST_METRIC = "SecurityEventLost"


logger = Logger(child=True)
metrics = Metrics()
tracer = Tracer()

# Throttling codes AWS documents for SNS/SQS plus the generic ones botocore's retry handler knows.
_RETRYABLE_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "KMSThrottling",
        "KMSThrottlingException",
        "InternalError",
        "InternalFailure",
        "ServiceUnavailable",
        "RequestTimeout",
        "RequestTimeoutException",
    }
)


class PasswordBreachedEvent(BaseModel):
    """The design's event, exactly: no field can carry a password, hash, token or secret."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    type: Literal["password.breached"] = PASSWORD_BREACHED
    version: Literal[1] = 1
    id: uuid.UUID
    occurred_at: AwareDatetime
    username: str = Field(min_length=1, max_length=512)
    realm: str | None = Field(default=None, min_length=1, max_length=128)
    source_ip: IPvAnyAddress
    request_id: str = Field(min_length=1, max_length=256)

    @classmethod
    def new(cls, *, username: str, realm: str | None, source_ip: str, request_id: str) -> Self:
        return cls.model_validate(
            {
                "id": uuid.uuid4(),
                "occurred_at": datetime.now(UTC),
                "username": username,
                "realm": realm,
                "source_ip": source_ip,
                "request_id": request_id,
            }
        )

    def to_message(self) -> str:
        return self.model_dump_json()

    def log_fields(self) -> dict[str, Any]:
        """What a log line may say about the event without the username (personal data)."""
        return {"event_id": str(self.id), "event_type": self.type, "request_id": self.request_id}


@dataclass(frozen=True)
class PublishPolicy:
    """Bounds on how long the login answer may wait for the event to be stored.

    Worst case for the caller: ``sns_budget_seconds`` plus ``fallback_attempts`` calls of at most
    ``connect_timeout + read_timeout`` each.
    """

    sns_attempts: int = 3
    sns_budget_seconds: float = 2.0
    fallback_attempts: int = 2
    connect_timeout: float = 0.3
    read_timeout: float = 0.7
    backoff_base_seconds: float = 0.05
    backoff_cap_seconds: float = 0.4

    @property
    def call_seconds(self) -> float:
        return self.connect_timeout + self.read_timeout

    def boto_config(self) -> Config:
        # botocore must not retry on its own, or its backoff would escape our budget.
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )


def is_retryable(exc: Exception) -> bool:
    """Throttling, 5xx and network trouble may pass; a missing topic or a denied call will not."""
    if isinstance(exc, BotoConnectionError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or status == 429 or exc.response.get("Error", {}).get("Code") in _RETRYABLE_CODES
    return False


def _error_name(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "ClientError"))
    return type(exc).__name__


class SecurityEventPublisher:
    """Publishes breach events to SNS, falls back to the reset queue; one instance per container.

    Implements the login service's ``BreachReporter`` protocol and never raises to it: the user
    gets their 401 whatever happens here, and metrics and alarms tell operations.
    """

    def __init__(
        self,
        *,
        topic_arn: str,
        fallback_queue_url: str,
        policy: PublishPolicy | None = None,
        session: boto3.session.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.topic_arn = topic_arn
        self.fallback_queue_url = fallback_queue_url
        self.policy = policy or PublishPolicy()
        self._session = session
        self._sleep = sleep
        self._clock = clock

    @classmethod
    def from_env(cls, env: Environ | None = None) -> Self:
        settings = SecurityEventSettings.from_env(env)
        return cls(topic_arn=settings.topic_arn, fallback_queue_url=settings.fallback_queue_url)

    @cached_property
    def _boto(self) -> boto3.session.Session:
        return self._session or boto3.session.Session()

    @cached_property
    def _sns(self) -> SNSClient:
        return self._boto.client("sns", config=self.policy.boto_config())

    @cached_property
    def _sqs(self) -> SQSClient:
        return self._boto.client("sqs", config=self.policy.boto_config())

    @tracer.capture_method(capture_response=False)
    def report_password_breached(
        self, *, username: str, realm: str | None, source_ip: str, request_id: str
    ) -> None:
        try:
            event = PasswordBreachedEvent.new(
                username=username, realm=realm, source_ip=source_ip, request_id=request_id
            )
        except ValueError as exc:  # a caller bug: say so loudly, but the user still gets the 401
            logger.error("security event rejected by its schema", extra={"errors": _schema_errors(exc)})
            metrics.add_metric(name=LOST_METRIC, unit=MetricUnit.Count, value=1)
            return
        self.publish(event)

    def publish(self, event: PasswordBreachedEvent) -> str:
        """Store the event somewhere durable; returns where: ``sns``, ``fallback`` or ``lost``."""
        body = event.to_message()
        if self._publish_to_sns(event, body):
            metrics.add_metric(name=PUBLISHED_METRIC, unit=MetricUnit.Count, value=1)
            return "sns"
        if self._send_to_fallback(event, body):
            metrics.add_metric(name=FALLBACK_METRIC, unit=MetricUnit.Count, value=1)
            logger.warning("security event sent to the reset queue directly", extra=event.log_fields())
            return "fallback"
        metrics.add_metric(name=LOST_METRIC, unit=MetricUnit.Count, value=1)
        # The last copy: a full, secret-free event that operations can replay (docs/operations.md).
        logger.error(
            "security event lost: SNS and the fallback queue both failed",
            extra={**event.log_fields(), "security_event": event.model_dump(mode="json")},
        )
        return "lost"

    def _publish_to_sns(self, event: PasswordBreachedEvent, body: str) -> bool:
        policy = self.policy
        deadline = self._clock() + policy.sns_budget_seconds
        for attempt in range(1, policy.sns_attempts + 1):
            try:
                self._sns.publish(
                    TopicArn=self.topic_arn,
                    Message=body,
                    MessageAttributes={TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event.type}},
                )
            except (BotoCoreError, ClientError) as exc:
                retry = is_retryable(exc) and attempt < policy.sns_attempts
                logger.warning(
                    "SNS publish failed",
                    extra={
                        **event.log_fields(),
                        "attempt": attempt,
                        "error": _error_name(exc),
                        "retry": retry,
                    },
                )
                if not retry:
                    return False
                ceiling = min(policy.backoff_cap_seconds, policy.backoff_base_seconds * 2**attempt)
                pause = random.uniform(0, ceiling)  # noqa: S311 - jitter, not crypto
                if self._clock() + pause + policy.call_seconds > deadline:
                    return False
                self._sleep(pause)
            else:
                return True
        return False

    def _send_to_fallback(self, event: PasswordBreachedEvent, body: str) -> bool:
        attributes: dict[str, MessageAttributeValueTypeDef] = {
            TYPE_ATTRIBUTE: {"DataType": "String", "StringValue": event.type}
        }
        for attempt in range(1, self.policy.fallback_attempts + 1):
            try:
                self._sqs.send_message(
                    QueueUrl=self.fallback_queue_url, MessageBody=body, MessageAttributes=attributes
                )
            except (BotoCoreError, ClientError) as exc:
                logger.warning(
                    "fallback send to the reset queue failed",
                    extra={**event.log_fields(), "attempt": attempt, "error": _error_name(exc)},
                )
                if not is_retryable(exc):
                    return False
            else:
                return True
        return False


def _schema_errors(exc: ValueError) -> list[str]:
    """Field locations and messages only: pydantic's input echo could carry the username."""
    errors = getattr(exc, "errors", None)
    if callable(errors):
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors(include_input=False)]
    return [type(exc).__name__]
