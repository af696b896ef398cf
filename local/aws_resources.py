"""Create the template's AWS resources in moto's server, with the template's names and settings.

Only the resources the functions talk to are created (KMS keys, secrets, topics, queues,
subscriptions, tables); every other resource gets a stand-in so that ``!Ref``/``!GetAtt`` on it
still resolve. Creation follows the references between resources (a queue's DLQ first).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from local.intrinsics import Physical, Resolver, TemplateError, references
from local.template import (
    HTTP_API,
    IMPLICIT_HTTP_API,
    KMS_KEY,
    QUEUE,
    SECRET,
    SUBSCRIPTION,
    TABLE,
    TOPIC,
    Template,
    read_queue,
    read_secret,
    read_subscription,
    read_table,
    read_topic,
)

LOG = logging.getLogger(__name__)

#: moto's documented fake credentials: the local stack never talks to real AWS.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


@dataclass(frozen=True)
class AwsEndpoint:
    """Where moto's server listens, and how to reach it with boto3."""

    url: str
    region: str

    def client(self, service: str) -> Any:
        session = boto3.session.Session(
            aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
            region_name=self.region,
        )
        return session.client(service, endpoint_url=self.url)  # type: ignore[call-overload]


def create_resources(
    template: Template,
    resolver: Resolver,
    aws: AwsEndpoint,
    secret_strings: Mapping[str, str] | None = None,
) -> dict[str, Physical]:
    """Create every supported resource in moto and bind all resources into ``resolver``.

    ``secret_strings`` maps a secret's logical id to the value to store (the local override
    for secrets whose real value is set outside the template, like Auth0 client credentials).
    """
    creators: dict[str, Callable[[str], Physical]] = _Creators(
        template, resolver, aws, secret_strings or {}
    ).by_type()
    bind_stand_ins(template, resolver, exclude=set(creators))
    created: dict[str, Physical] = {}
    for logical_id in _creation_order(template, resolver, set(creators)):
        physical = creators[template.resources[logical_id]["Type"]](logical_id)
        resolver.bind(logical_id, physical)
        created[logical_id] = physical
        LOG.info("created %s (%s): %s", logical_id, template.resources[logical_id]["Type"], physical.ref)
    return created


def physical_name(resolver: Resolver, logical_id: str, own_name: str | None) -> str:
    """The template's own name when it gives one, else one derived as CloudFormation would."""
    return own_name or f"{resolver.pseudo.stack_name}-{logical_id}"


def bind_stand_ins(template: Template, resolver: Resolver, exclude: set[str]) -> None:
    """Give resources that are not created locally the ids ``!Ref``/``!GetAtt`` would return."""
    pseudo = resolver.pseudo
    for logical_id, resource in template.resources.items():
        kind = str(resource.get("Type", ""))
        if kind in exclude or resolver.is_bound(logical_id):
            continue
        resolver.bind(
            logical_id, stand_in(logical_id, kind, pseudo.stack_name, pseudo.region, pseudo.account_id)
        )
    if not resolver.is_bound(IMPLICIT_HTTP_API):
        resolver.bind(IMPLICIT_HTTP_API, stand_in(IMPLICIT_HTTP_API, HTTP_API, *_pseudo(resolver)))


def stand_in(logical_id: str, kind: str, stack_name: str, region: str, account_id: str) -> Physical:
    name = f"{stack_name}-{logical_id}"
    service = kind.split("::")[1].lower() if kind.count("::") >= 2 else "cloudformation"
    if kind == HTTP_API:
        api_id = hashlib.sha256(logical_id.encode()).hexdigest()[:10]
        return Physical(
            ref=api_id,
            attributes={
                "ApiId": api_id,
                "ApiEndpoint": f"https://{api_id}.execute-api.{region}.amazonaws.com",
            },
        )
    if service == "serverless":
        service = "lambda"
    return Physical(ref=name, attributes={"Arn": f"arn:aws:{service}:{region}:{account_id}:{name}"})


def _pseudo(resolver: Resolver) -> tuple[str, str, str]:
    return resolver.pseudo.stack_name, resolver.pseudo.region, resolver.pseudo.account_id


def _creation_order(template: Template, resolver: Resolver, kinds: set[str]) -> list[str]:
    """Supported resources, each after the resources it refers to."""
    pending = {
        logical_id: references(template.resources[logical_id].get("Properties", {}))
        for kind in kinds
        for logical_id in template.of_type(kind, resolver)
    }
    order: list[str] = []
    while pending:
        ready = sorted(logical_id for logical_id, needs in pending.items() if not (needs & set(pending)))
        if not ready:
            raise TemplateError(f"circular references between {', '.join(sorted(pending))}")
        order.extend(ready)
        for logical_id in ready:
            del pending[logical_id]
    return order


class _Creators:
    """One creator per resource type: resolve the properties, call moto, return the ids."""

    def __init__(
        self, template: Template, resolver: Resolver, aws: AwsEndpoint, secret_strings: Mapping[str, str]
    ) -> None:
        self._template = template
        self._resolver = resolver
        self._aws = aws
        self._secret_strings = secret_strings
        unknown = set(secret_strings) - set(template.of_type(SECRET, resolver))
        if unknown:
            raise TemplateError(
                f"secret values given for secrets the template does not create: {sorted(unknown)}"
            )

    def by_type(self) -> dict[str, Callable[[str], Physical]]:
        return {
            KMS_KEY: self.kms_key,
            SECRET: self.secret,
            TOPIC: self.topic,
            QUEUE: self.queue,
            SUBSCRIPTION: self.subscription,
            TABLE: self.table,
        }

    def _arn(self, service: str, resource: str) -> str:
        pseudo = self._resolver.pseudo
        return f"arn:{pseudo.partition}:{service}:{pseudo.region}:{pseudo.account_id}:{resource}"

    def kms_key(self, logical_id: str) -> Physical:
        props = self._template.properties(logical_id, self._resolver)
        metadata = self._aws.client("kms").create_key(Description=props.get("Description", logical_id))[
            "KeyMetadata"
        ]
        return Physical(
            ref=metadata["KeyId"], attributes={"Arn": metadata["Arn"], "KeyId": metadata["KeyId"]}
        )

    def secret(self, logical_id: str) -> Physical:
        spec = read_secret(self._template, self._resolver, logical_id)
        props = self._template.properties(logical_id, self._resolver)
        value = self._secret_strings.get(logical_id, props.get("SecretString"))
        if value is None:
            generate = props.get("GenerateSecretString", {})
            generated = secrets.token_urlsafe(24)
            key, base = generate.get("GenerateStringKey"), generate.get("SecretStringTemplate")
            value = json.dumps({**json.loads(base), key: generated}) if key and base else generated
        request: dict[str, Any] = {
            "Name": physical_name(self._resolver, logical_id, spec.name),
            "SecretString": value,
        }
        if spec.description:
            request["Description"] = spec.description
        if spec.kms_key_id:
            request["KmsKeyId"] = spec.kms_key_id
        arn = self._aws.client("secretsmanager").create_secret(**request)["ARN"]
        return Physical(ref=arn, attributes={"Id": arn})

    def topic(self, logical_id: str) -> Physical:
        spec = read_topic(self._template, self._resolver, logical_id)
        sns = self._aws.client("sns")
        name = physical_name(self._resolver, logical_id, spec.name)
        arn = sns.create_topic(Name=name, Attributes=dict(spec.attributes))["TopicArn"]
        for protocol, endpoint in spec.inline_subscriptions:
            sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
        return Physical(ref=arn, attributes={"TopicArn": arn, "TopicName": name})

    def queue(self, logical_id: str) -> Physical:
        spec = read_queue(self._template, self._resolver, logical_id)
        name = physical_name(self._resolver, logical_id, spec.name)
        if spec.attributes.get("FifoQueue") == "true" and not name.endswith(".fifo"):
            name += ".fifo"
        url = self._aws.client("sqs").create_queue(QueueName=name, Attributes=dict(spec.attributes))[
            "QueueUrl"
        ]
        arn = self._arn("sqs", name)
        return Physical(ref=url, attributes={"Arn": arn, "QueueName": name, "QueueUrl": url})

    def subscription(self, logical_id: str) -> Physical:
        spec = read_subscription(self._template, self._resolver, logical_id)
        attributes: dict[str, str] = {}
        # moto reads any non-empty RawMessageDelivery value as true, so send it only when it is.
        if spec.raw_message_delivery:
            attributes["RawMessageDelivery"] = "true"
        if spec.filter_policy_scope:
            attributes["FilterPolicyScope"] = spec.filter_policy_scope
        if spec.filter_policy is not None:
            attributes["FilterPolicy"] = json.dumps(spec.filter_policy)
        arn = self._aws.client("sns").subscribe(
            TopicArn=spec.topic_arn,
            Protocol=spec.protocol,
            Endpoint=spec.endpoint,
            Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return Physical(ref=arn)

    def table(self, logical_id: str) -> Physical:
        spec = read_table(self._template, self._resolver, logical_id)
        name = physical_name(self._resolver, logical_id, spec.name)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": list(spec.key_schema),
            "AttributeDefinitions": list(spec.attribute_definitions),
            "BillingMode": spec.billing_mode,
        }
        if spec.provisioned_throughput:
            request["ProvisionedThroughput"] = {
                key: int(value) for key, value in spec.provisioned_throughput.items()
            }
        if spec.global_secondary_indexes:
            request["GlobalSecondaryIndexes"] = list(spec.global_secondary_indexes)
        dynamodb = self._aws.client("dynamodb")
        arn = dynamodb.create_table(**request)["TableDescription"]["TableArn"]
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute}
            )
        return Physical(ref=name, attributes={"Arn": arn})
