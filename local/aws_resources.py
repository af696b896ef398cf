"""Create the translated template's AWS resources in moto's server.

Every resource type falls in exactly one of four groups, and any other type is an error:

- ``MOTO``: created by moto's CloudFormation (``create_stack``), which honours these properties
  (read in moto 5.2.5: ``create_from_cloudformation_json`` of each model); ``Ref``/``GetAtt``
  values come back as stack outputs, so functions see moto's own ids.
- ``EXPLICIT``: moto's CloudFormation has no model for them, so boto3 creates them here; so is
  a table's TimeToLiveSpecification, which moto's table model drops.
- ``template.LOCAL_PROPERTIES``: functions, layers, event source mappings and HTTP APIs, run by the
  stack itself; nothing of them is created in moto (so moto never runs a function in Docker).
- ``NO_OFFLINE_MEANING``: IAM, alarms, dashboards, schedules, CloudFront, published versions and
  aliases: nothing on a laptop behaves differently with them, so they are skipped, by this list and
  nothing else (functions run $LATEST offline: a Ref to a version or alias is its function's ARN,
  see ``template.RUN_AS_LATEST``).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

from local.template import (
    ACCOUNT_ID,
    LOCAL_PROPERTIES,
    RUN_AS_LATEST,
    STACK_NAME,
    Physical,
    StackTemplate,
    TemplateError,
    names,
)

#: moto's documented fake credentials: the local stack never talks to real AWS.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}

#: type -> (properties moto honours, attributes its GetAtt answers). PointInTimeRecovery and
#: SSESpecification (read in the API's shape, so not shown) have no offline meaning: nothing is
#: encrypted offline. TimeToLiveSpecification is applied by an explicit call.
MOTO: Mapping[str, tuple[frozenset[str], tuple[str, ...]]] = {
    "AWS::KMS::Key": (names("Description KeyPolicy EnableKeyRotation Enabled"), ("Arn",)),
    "AWS::KMS::Alias": (names("AliasName TargetKeyId"), ()),
    "AWS::SNS::Topic": (names("TopicName DisplayName KmsMasterKeyId"), ("TopicName",)),
    "AWS::SQS::Queue": (
        names(
            "QueueName DelaySeconds MaximumMessageSize MessageRetentionPeriod VisibilityTimeout RedrivePolicy"
        )
        | names(
            "ReceiveMessageWaitTimeSeconds KmsMasterKeyId KmsDataKeyReusePeriodSeconds SqsManagedSseEnabled"
        ),
        ("Arn", "QueueName"),
    ),
    "AWS::DynamoDB::Table": (
        names("TableName KeySchema AttributeDefinitions BillingMode ProvisionedThroughput SSESpecification")
        | names("TimeToLiveSpecification PointInTimeRecoverySpecification"),
        ("Arn",),
    ),
    "AWS::Logs::LogGroup": (names("LogGroupName RetentionInDays"), ("Arn",)),
}
EXPLICIT: Mapping[str, frozenset[str]] = {
    "AWS::SecretsManager::Secret": names("Name Description KmsKeyId SecretString GenerateSecretString"),
    "AWS::SNS::Subscription": names(
        "TopicArn Protocol Endpoint RawMessageDelivery FilterPolicy FilterPolicyScope"
    ),
    "AWS::SQS::QueuePolicy": names("Queues PolicyDocument"),
}
#: Skipped by name (AWS::CloudFront::* : the stack's own front plays the distribution).
NO_OFFLINE_MEANING = tuple(
    names("AWS::IAM::Role AWS::IAM::Policy AWS::IAM::ManagedPolicy AWS::Lambda::Permission AWS::CloudFront::")
    | names("AWS::CloudWatch::Alarm AWS::CloudWatch::Dashboard AWS::Scheduler::Schedule")
    | frozenset(RUN_AS_LATEST)
)
_SUB_NAMES = re.compile(r"\$\{([^}!]*)\}")


@dataclass(frozen=True)
class AwsEndpoint:
    """Where moto's server listens, and how to reach it with boto3."""

    url: str
    region: str

    def client(self, service: str) -> Any:
        """One client per service and endpoint (boto3 clients are thread-safe; making one costs
        a few hundred milliseconds)."""
        return _client(self.url, self.region, service)


@functools.lru_cache(maxsize=64)
def _client(url: str, region: str, service: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=FAKE_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=FAKE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=FAKE_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name=region,
    )
    return session.client(service, endpoint_url=url)  # type: ignore[call-overload]


def check_types(template: StackTemplate) -> None:
    """Every resource type is created, run or explicitly meaningless offline; else an error."""
    for logical_id, resource in template.resources.items():
        kind = resource["Type"]
        if kind not in (*MOTO, *EXPLICIT, *LOCAL_PROPERTIES) and not kind.startswith(NO_OFFLINE_MEANING):
            raise TemplateError(f"Resources.{logical_id}: {kind} is not supported offline")
        unknown = sorted(set(resource.get("Properties", {})) - LOCAL_PROPERTIES.get(kind, frozenset()))
        if kind in LOCAL_PROPERTIES and unknown:  # (the others are checked where they are read)
            raise TemplateError(f"Resources.{logical_id}.{unknown[0]}: {kind} property not supported offline")


def create_resources(
    template: StackTemplate, aws: AwsEndpoint, secret_strings: Mapping[str, str] | None = None
) -> None:
    """Create every resource in moto and bind every resource's ids into ``template``.

    ``secret_strings`` maps a secret's logical id to the value to store (what an operator puts
    in after deploying, like the Auth0 client credentials).
    """
    check_types(template)
    _create_stack(template, aws)
    bind_stand_ins(template, tuple(LOCAL_PROPERTIES))
    given = dict(secret_strings or {})
    unknown = set(given) - set(template.of_type("AWS::SecretsManager::Secret"))
    if unknown:
        raise TemplateError(f"secret values for secrets the template does not create: {sorted(unknown)}")
    for logical_id in template.of_type("AWS::SecretsManager::Secret"):
        template.bind(logical_id, _secret(template, aws, logical_id, given.get(logical_id)))
    for logical_id in template.of_type("AWS::SNS::Subscription"):
        template.bind(logical_id, Physical(create_subscription(template, aws, logical_id)))
    for logical_id in template.of_type("AWS::SQS::QueuePolicy"):
        props = template.properties(logical_id, EXPLICIT["AWS::SQS::QueuePolicy"])
        for url in props["Queues"]:
            aws.client("sqs").set_queue_attributes(
                QueueUrl=url, Attributes={"Policy": json.dumps(props["PolicyDocument"])}
            )
        template.bind(logical_id, Physical(f"{STACK_NAME}-{logical_id}"))
    for logical_id in template.of_type("AWS::DynamoDB::Table"):
        ttl = template.properties(logical_id).get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            aws.client("dynamodb").update_time_to_live(
                TableName=template.physical(logical_id).ref,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )


def _create_stack(template: StackTemplate, aws: AwsEndpoint) -> None:
    """The MOTO resources through moto's CloudFormation; each one's Ref and GetAtt as outputs."""
    ids = template.of_type(*MOTO)
    resolvable = set(ids) | {name for name, value in template.parameters.items() if value is not None}
    resources: dict[str, Any] = {}
    outputs: dict[str, Any] = {}
    for logical_id in ids:
        resource = template.resources[logical_id]
        honoured, attributes = MOTO[resource["Type"]]
        unknown = sorted(set(resource.get("Properties", {})) - honoured)
        if unknown:
            raise TemplateError(f"Resources.{logical_id}.{unknown[0]}: not honoured by moto offline")
        missing = sorted(_references(resource) - resolvable)
        if missing:
            raise TemplateError(f"Resources.{logical_id} refers to {missing[0]}, which moto cannot resolve")
        properties = dict(resource.get("Properties", {}))
        if isinstance(properties.get("KeyPolicy"), dict):  # moto keeps an object as is, and then every
            properties["KeyPolicy"] = {"Fn::ToJsonString": properties["KeyPolicy"]}  # KMS call fails
        resources[logical_id] = {"Type": resource["Type"], "Properties": properties}
        outputs[f"Ref{logical_id}"] = {"Value": {"Ref": logical_id}}
        for attribute in attributes:
            outputs[f"Att{logical_id}{attribute}"] = {"Value": {"Fn::GetAtt": [logical_id, attribute]}}
    document: dict[str, Any] = {
        "Parameters": {
            name: spec for name, spec in template.document.get("Parameters", {}).items() if name in resolvable
        },
        "Mappings": template.document.get("Mappings", {}),
        "Resources": resources,
        "Outputs": outputs,
    }
    cloudformation = aws.client("cloudformation")
    cloudformation.create_stack(
        StackName=STACK_NAME,
        TemplateBody=json.dumps(document),
        Parameters=[
            {"ParameterKey": name, "ParameterValue": value}
            for name, value in template.parameters.items()
            if value is not None
        ],
    )
    (stack,) = cloudformation.describe_stacks(StackName=STACK_NAME)["Stacks"]
    if stack["StackStatus"] != "CREATE_COMPLETE":
        raise TemplateError(f"moto did not create the stack: {stack['StackStatus']}")
    values = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    for logical_id in ids:
        attributes = MOTO[template.resources[logical_id]["Type"]][1]
        template.bind(
            logical_id,
            Physical(
                values[f"Ref{logical_id}"],
                {attribute: values[f"Att{logical_id}{attribute}"] for attribute in attributes},
            ),
        )


def _references(value: Any) -> set[str]:
    """Names a value refers to through Ref, GetAtt or Sub (pseudo parameters left out)."""
    found: set[str] = set()
    if isinstance(value, list):
        for item in value:
            found |= _references(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "Ref" and isinstance(item, str):
                found.add(item)
            elif key == "Fn::GetAtt":
                found.add(item[0])
            elif key == "Fn::Sub":
                text = item[0] if isinstance(item, list) else item
                found |= {name.split(".")[0] for name in _SUB_NAMES.findall(text)}
            else:
                found |= _references(item)
    return {name for name in found if not name.startswith("AWS::")}


def stand_in(template: StackTemplate, logical_id: str) -> Physical:
    """The ids of a resource that is not created in moto (or, for reading, not created at all)."""
    kind = template.resources[logical_id]["Type"]
    region = template.region
    own = template.resources[logical_id].get("Properties", {})
    name = f"{STACK_NAME}-{logical_id}"
    if kind == "AWS::Lambda::Function":
        name = template.resolve(own.get("FunctionName", name), f"Resources.{logical_id}.FunctionName")
        return Physical(name, {"Arn": f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{name}"})
    if kind in ("AWS::Lambda::Alias", "AWS::Lambda::Version"):  # offline: the function ($LATEST)
        target = own.get("FunctionName")
        if not (isinstance(target, dict) and isinstance(target.get("Ref"), str)):
            raise TemplateError(f"Resources.{logical_id}.FunctionName must be a !Ref to a function offline")
        function = stand_in(template, target["Ref"])
        return Physical(function.attributes["Arn"], {"Version": "$LATEST"})
    if kind == "AWS::Lambda::LayerVersion":
        layer = template.resolve(own.get("LayerName", name), f"Resources.{logical_id}.LayerName")
        return Physical(f"arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:{layer}:1")
    if kind == "AWS::ApiGatewayV2::Api":
        api_id = hashlib.sha256(logical_id.encode()).hexdigest()[:10]
        return Physical(api_id, {"ApiEndpoint": f"https://{api_id}.execute-api.{region}.amazonaws.com"})
    service = kind.split("::")[1].lower()
    return Physical(name, {"Arn": f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{name}"})


def bind_stand_ins(template: StackTemplate, types: tuple[str, ...] | None = None) -> None:
    """Stand-in ids for the resources of ``types`` (None: all the stack creates or runs, for
    reading without moto; what has no offline meaning stays unbound, so a value using it fails)."""
    for logical_id, resource in template.resources.items():
        if resource["Type"] in (types or (*MOTO, *EXPLICIT, *LOCAL_PROPERTIES)):
            template.bind(logical_id, stand_in(template, logical_id))


def _secret(template: StackTemplate, aws: AwsEndpoint, logical_id: str, value: str | None) -> Physical:
    props = template.properties(logical_id, EXPLICIT["AWS::SecretsManager::Secret"])
    value = value or props.get("SecretString")
    if value is None:
        generate = props.get("GenerateSecretString", {})
        generated = secrets.token_urlsafe(24)
        key, base = generate.get("GenerateStringKey"), generate.get("SecretStringTemplate")
        value = json.dumps({**json.loads(base), key: generated}) if key and base else generated
    request: dict[str, str] = {"Name": props.get("Name", f"{STACK_NAME}-{logical_id}"), "SecretString": value}
    request |= {key: props[key] for key in ("Description", "KmsKeyId") if key in props}
    arn = aws.client("secretsmanager").create_secret(**request)["ARN"]
    return Physical(arn, {"Id": arn})


def create_subscription(template: StackTemplate, aws: AwsEndpoint, logical_id: str) -> str:
    """Subscribe as the template says (also to restore one in tests); the subscription's ARN."""
    props = template.properties(logical_id, EXPLICIT["AWS::SNS::Subscription"])
    attributes = {key: props[key] for key in ("FilterPolicyScope",) if key in props}
    if "FilterPolicy" in props:
        policy = props["FilterPolicy"]
        attributes["FilterPolicy"] = policy if isinstance(policy, str) else json.dumps(policy)
    # moto reads any non-empty RawMessageDelivery as true: send it only when it is.
    if str(props.get("RawMessageDelivery", "false")).lower() == "true":
        attributes["RawMessageDelivery"] = "true"
    arn: str = aws.client("sns").subscribe(
        TopicArn=props["TopicArn"],
        Protocol=props["Protocol"],
        Endpoint=props["Endpoint"],
        Attributes=attributes,
        ReturnSubscriptionArn=True,
    )["SubscriptionArn"]
    return arn
