"""``smoke --stack NAME``: what a deploy must have left behind, read from the stack through boto3.

- every function's ``live`` alias serves the function's latest published version (API Gateway
  invokes the alias: a deploy that published nothing new, or an alias left behind, serves old code);
- the security-events subscription lost nothing: its dead-letter queue is empty and SNS counted no
  failed delivery since the stack was last deployed (``NumberOfNotificationsFailed``, AWS/SNS).

``AWS_ENDPOINT_URL`` (moto for the offline stack: the default when the API is on loopback) and
``AWS_REGION``/``AWS_DEFAULT_REGION`` are read from the doctor's environment.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ropguard_doctor.config import OFFLINE_HOST
from ropguard_doctor.credentials import FAKE_AWS_CREDENTIALS
from ropguard_doctor.errors import DoctorError

ALIAS = "live"
DELIVERY_DEAD_LETTER_QUEUE = "SecurityEventsDeliveryDeadLetterQueue"
SECURITY_EVENTS_TOPIC = "SecurityEventsTopic"
_QUEUE_DEPTH = ("ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
_METRIC_PERIOD = 3600
_METRIC_WINDOW = datetime.timedelta(days=14)  # CloudWatch: at most 1440 datapoints per call


@dataclass(frozen=True)
class StackCheck:
    name: str
    passed: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"check": self.name, "passed": self.passed, "detail": self.detail}

    def render_text(self) -> str:
        return f"  {'ok  ' if self.passed else 'FAIL'} {self.name}: {self.detail}"


class Deployment:
    """One deployed (or offline) stack, read through boto3."""

    def __init__(self, stack_name: str, env: Mapping[str, str], *, offline: bool) -> None:
        import boto3  # noqa: PLC0415 - only smoke --stack needs boto3

        endpoint = env.get("AWS_ENDPOINT_URL", "").strip() or None
        if offline and endpoint is None:
            endpoint = f"http://{OFFLINE_HOST}:{env.get('ROPGUARD_AWS_PORT', '').strip() or 5000}"
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ("us-east-1" if offline else None)
        fake = FAKE_AWS_CREDENTIALS if offline else {}
        self.stack_name = stack_name
        self._session = boto3.session.Session(
            aws_access_key_id=fake.get("aws_access_key_id"),
            aws_secret_access_key=fake.get("aws_secret_access_key"),
            region_name=region,
        )
        self._endpoint = endpoint

    def _client(self, service: str) -> Any:
        return self._session.client(service, endpoint_url=self._endpoint)  # type: ignore[call-overload]

    def checks(self) -> list[StackCheck]:
        from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

        try:
            cloudformation = self._client("cloudformation")
            (stack,) = cloudformation.describe_stacks(StackName=self.stack_name)["Stacks"]
            listed = cloudformation.describe_stack_resources(StackName=self.stack_name)["StackResources"]
            # (moto lists a resource whose condition is false as an empty item)
            resources = {item["LogicalResourceId"]: item for item in listed if "LogicalResourceId" in item}
            deployed = stack.get("LastUpdatedTime") or stack["CreationTime"]
            return [
                *self._aliases(resources),
                self._dead_letters(resources),
                self._failed_deliveries(resources, deployed),
            ]
        except (BotoCoreError, ClientError) as exc:
            raise DoctorError(f"reading stack {self.stack_name}: {exc}") from None

    def _aliases(self, resources: Mapping[str, Any]) -> list[StackCheck]:
        lambda_ = self._client("lambda")
        found = []
        for item in resources.values():
            if item.get("ResourceType") != "AWS::Lambda::Function" or not item.get("PhysicalResourceId"):
                continue
            function = item["PhysicalResourceId"]
            aliases = {
                alias["Name"]: alias for alias in lambda_.list_aliases(FunctionName=function)["Aliases"]
            }
            if ALIAS not in aliases:
                continue  # invoked as itself (SQS, the scheduler): runs $LATEST
            pages = lambda_.get_paginator("list_versions_by_function").paginate(FunctionName=function)
            published = [
                int(v["Version"]) for page in pages for v in page["Versions"] if v["Version"].isdigit()
            ]
            serving, latest = aliases[ALIAS]["FunctionVersion"], str(max(published, default=0))
            name = f"{item['LogicalResourceId']} alias {ALIAS}"
            found.append(
                StackCheck(name, serving == latest, f"serves version {serving}, latest published {latest}")
            )
        if not found:
            found.append(StackCheck(f"{ALIAS} aliases", False, "no function of the stack has one"))
        return found

    def _dead_letters(self, resources: Mapping[str, Any]) -> StackCheck:
        name = "security-event delivery dead-letter queue"
        if DELIVERY_DEAD_LETTER_QUEUE not in resources:
            return StackCheck(name, False, f"the stack has no {DELIVERY_DEAD_LETTER_QUEUE}")
        url = resources[DELIVERY_DEAD_LETTER_QUEUE]["PhysicalResourceId"]
        attributes = self._client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=list(_QUEUE_DEPTH))
        depth = sum(int(attributes["Attributes"].get(key, 0)) for key in _QUEUE_DEPTH)
        return StackCheck(
            name,
            depth == 0,
            f"{depth} message(s) (docs/operations.md: SecurityEventsDeliveryDeadLetterAlarm)",
        )

    def _failed_deliveries(self, resources: Mapping[str, Any], deployed: datetime.datetime) -> StackCheck:
        name = "security-event deliveries since the deploy"
        topic = resources[SECURITY_EVENTS_TOPIC]["PhysicalResourceId"].rsplit(":", 1)[-1]
        now = datetime.datetime.now(datetime.UTC)
        answer = self._client("cloudwatch").get_metric_statistics(
            Namespace="AWS/SNS",
            MetricName="NumberOfNotificationsFailed",
            Dimensions=[{"Name": "TopicName", "Value": topic}],
            StartTime=max(deployed, now - _METRIC_WINDOW),
            EndTime=now,
            Period=_METRIC_PERIOD,
            Statistics=["Sum"],
        )
        failed = int(sum(point["Sum"] for point in answer["Datapoints"]))
        return StackCheck(name, failed == 0, f"SNS NumberOfNotificationsFailed {failed} for topic {topic}")
