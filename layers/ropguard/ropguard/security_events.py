"""Security events: the ``password.breached`` schema and a publisher that never silently drops one.

The login function answers the client's 401 only after the publish, so every step here is bounded:
SNS gets a few attempts inside a time budget, then the event goes straight to the reset queue (the
only consumer that matters), and only if both fail is it logged in full at error level, the last
durable copy, from which operations can replay it (docs/operations.md).

Nothing here is paid for on a login that is not a breach: the event is a ``NamedTuple`` with
explicit checks (no pydantic), and ``uuid`` and boto3/botocore are imported by the first publish in
a container (measured by `make bench`: benchmarks/RESULTS.md).
"""

from __future__ import annotations

import ipaddress
import json
import random
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any, Final, NamedTuple, Self

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from ropguard.errors import InvalidEventError
from ropguard.settings import Environ, SecurityEventSettings
from ropguard.tracing import traced_method

if TYPE_CHECKING:
    import uuid

    import boto3
    from botocore.config import Config
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


IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

#: The fields of the event, in the order they are serialised; nothing else is accepted.
_FIELDS: Final = ("type", "version", "id", "occurred_at", "username", "realm", "source_ip", "request_id")


class PasswordBreachedEvent(NamedTuple):
    """The design's event, exactly: no field can carry a password, hash, token or secret.

    Built and parsed only through ``new``/``from_dict``/``from_json``, which check what the schema
    says (and report failures the way the reset function's dead-letter reasons name them:
    ``<field>:<error type>``); the wire format is the JSON ``to_message`` writes.
    """

    id: uuid.UUID
    occurred_at: datetime
    username: str
    realm: str | None
    source_ip: IpAddress
    request_id: str
    type: str = PASSWORD_BREACHED
    version: int = 1

    @classmethod
    def new(cls, *, username: str, realm: str | None, source_ip: str, request_id: str) -> Self:
        import uuid  # noqa: PLC0415 - with platform, ~3 ms a login that is not a breach never pays

        return cls.from_dict(
            {
                "id": uuid.uuid4(),
                "occurred_at": datetime.now(UTC),
                "username": username,
                "realm": realm,
                "source_ip": source_ip,
                "request_id": request_id,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Self:
        try:
            data = json.loads(text)
        except ValueError:
            raise InvalidEventError([{"loc": (), "msg": "Invalid JSON", "type": "json_invalid"}]) from None
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Any) -> Self:
        """Validate every field (all problems at once) or raise ``InvalidEventError``."""
        if not isinstance(data, dict):
            raise InvalidEventError([_problem((), "model_type", "Input should be an object")])
        problems = [
            _problem((key,), "extra_forbidden", "Extra inputs are not permitted")
            for key in data
            if key not in _FIELDS
        ]
        checked: dict[str, Any] = {}
        for name, check in _CHECKS.items():
            if name not in data:
                if name in _DEFAULTS:
                    checked[name] = _DEFAULTS[name]
                else:
                    problems.append(_problem((name,), "missing", "Field required"))
                continue
            try:
                checked[name] = check(data[name])
            except InvalidEventError as error:
                problems.extend({**problem, "loc": (name,)} for problem in error.errors())
        if problems:
            raise InvalidEventError(problems)
        return cls(**checked)

    def to_dict(self) -> dict[str, Any]:
        """The JSON form (what ``to_message`` serialises and a lost event's log line holds)."""
        return {
            "type": self.type,
            "version": self.version,
            "id": str(self.id),
            "occurred_at": _iso(self.occurred_at),
            "username": self.username,
            "realm": self.realm,
            "source_ip": str(self.source_ip),
            "request_id": self.request_id,
        }

    def to_message(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), ensure_ascii=False)

    def log_fields(self) -> dict[str, Any]:
        """What a log line may say about the event without the username (personal data)."""
        return {"event_id": str(self.id), "event_type": self.type, "request_id": self.request_id}


def _field_error(kind: str, message: str) -> InvalidEventError:
    """One problem with the field being checked; ``from_dict`` adds its location."""
    return InvalidEventError([_problem((), kind, message)])


def _problem(loc: tuple[str, ...], kind: str, message: str) -> dict[str, Any]:
    return {"loc": loc, "msg": message, "type": kind}


def _iso(moment: datetime) -> str:
    text = moment.isoformat()
    return text[: -len("+00:00")] + "Z" if text.endswith("+00:00") else text


def _literal(expected: object) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        # type() and not ==: True == 1, and "1" is not the integer 1.
        if type(value) is not type(expected) or value != expected:
            raise _field_error("literal_error", f"Input should be {expected!r}")
        return value

    return check


def _text(minimum: int, maximum: int, *, optional: bool = False) -> Callable[[Any], Any]:
    def check(value: Any) -> Any:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise _field_error("string_type", "Input should be a valid string")
        if len(value) < minimum:
            raise _field_error("string_too_short", f"String should have at least {minimum} character(s)")
        if len(value) > maximum:
            raise _field_error("string_too_long", f"String should have at most {maximum} characters")
        return value

    return check


def _uuid(value: Any) -> uuid.UUID:
    import uuid  # noqa: PLC0415 - see PasswordBreachedEvent.new

    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str):
        raise _field_error("uuid_type", "UUID input should be a string or UUID object")
    try:
        return uuid.UUID(value)
    except ValueError:
        raise _field_error("uuid_parsing", "Input should be a valid UUID") from None


def _aware_datetime(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            raise _field_error("datetime_from_date_parsing", "Input should be a valid datetime") from None
    if not isinstance(value, datetime):
        raise _field_error("datetime_type", "Input should be a valid datetime (ISO 8601 text)")
    if value.tzinfo is None or value.utcoffset() is None:
        raise _field_error("timezone_aware", "Input should have timezone info")
    return value


def _ip_address(value: Any) -> IpAddress:
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return value
    if isinstance(value, str):
        try:
            return ipaddress.ip_address(value)
        except ValueError:
            pass
    raise _field_error("ip_any_address", "value is not a valid IPv4 or IPv6 address")


_CHECKS: Final[dict[str, Callable[[Any], Any]]] = {
    "type": _literal(PASSWORD_BREACHED),
    "version": _literal(1),
    "id": _uuid,
    "occurred_at": _aware_datetime,
    "username": _text(1, 512),
    "realm": _text(1, 128, optional=True),
    "source_ip": _ip_address,
    "request_id": _text(1, 256),
}
_DEFAULTS: Final[dict[str, Any]] = {"type": PASSWORD_BREACHED, "version": 1, "realm": None}


class PublishPolicy(NamedTuple):
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
        from botocore.config import Config  # noqa: PLC0415 - boto only when a breach is published

        # botocore must not retry on its own, or its backoff would escape our budget.
        return Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
        )


def is_retryable(exc: Exception) -> bool:
    """Throttling, 5xx and network trouble may pass; a missing topic or a denied call will not."""
    from botocore.exceptions import ClientError  # noqa: PLC0415 - loaded once a client exists
    from botocore.exceptions import ConnectionError as BotoConnectionError  # noqa: PLC0415

    if isinstance(exc, BotoConnectionError):
        return True
    if isinstance(exc, ClientError):
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return status >= 500 or status == 429 or exc.response.get("Error", {}).get("Code") in _RETRYABLE_CODES
    return False


def _error_name(exc: Exception) -> str:
    from botocore.exceptions import ClientError  # noqa: PLC0415 - loaded once a client exists

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
        """boto3 is imported here, by the first breach a container publishes (~0.1 s, README)."""
        if self._session is not None:
            return self._session
        import boto3  # noqa: PLC0415 - off the login path on purpose

        return boto3.session.Session()

    @cached_property
    def _sns(self) -> SNSClient:
        return self._boto.client("sns", config=self.policy.boto_config())

    @cached_property
    def _sqs(self) -> SQSClient:
        return self._boto.client("sqs", config=self.policy.boto_config())

    @traced_method
    def report_password_breached(
        self, *, username: str, realm: str | None, source_ip: str, request_id: str
    ) -> None:
        try:
            event = PasswordBreachedEvent.new(
                username=username, realm=realm, source_ip=source_ip, request_id=request_id
            )
        except InvalidEventError as exc:  # a caller bug: say so loudly, but the user still gets the 401
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
            extra={**event.log_fields(), "security_event": event.to_dict()},
        )
        return "lost"

    def _publish_to_sns(self, event: PasswordBreachedEvent, body: str) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - see _boto

        policy = self.policy
        # The client first: on a container's first breach this imports boto3, which must not eat
        # the retry budget (it is time that no SNS attempt can use).
        sns = self._sns
        deadline = self._clock() + policy.sns_budget_seconds
        for attempt in range(1, policy.sns_attempts + 1):
            try:
                sns.publish(
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
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - see _boto

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


def _schema_errors(exc: InvalidEventError) -> list[str]:
    """Field locations and messages only, never the input (it could carry the username)."""
    return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
