"""template.yaml as the offline stack needs it: loaded with CloudFormation tags, SAM Globals
merged, and typed views of the functions and resources, so nothing is written down twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

from local.intrinsics import Resolver, TemplateError

FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"
HTTP_API = "AWS::Serverless::HttpApi"
QUEUE = "AWS::SQS::Queue"
TOPIC = "AWS::SNS::Topic"
SUBSCRIPTION = "AWS::SNS::Subscription"
TABLE = "AWS::DynamoDB::Table"
SECRET = "AWS::SecretsManager::Secret"
KMS_KEY = "AWS::KMS::Key"

#: SAM's Globals sections and the resource type each one applies to.
_GLOBALS_TARGETS = {
    "Function": FUNCTION,
    "HttpApi": HTTP_API,
    "Api": "AWS::Serverless::Api",
    "SimpleTable": "AWS::Serverless::SimpleTable",
    "LayerVersion": LAYER,
}

#: Lambda's defaults when the template leaves them out.
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
DEFAULT_SQS_BATCH_SIZE = 10
IMPLICIT_HTTP_API = "ServerlessHttpApi"


@dataclass(frozen=True)
class Template:
    """The parsed template (Globals already merged) and the directory its paths are relative to."""

    document: Mapping[str, Any]
    base_dir: Path

    @classmethod
    def load(cls, path: Path) -> Template:
        document = _plain(cfn_yaml.loads(path.read_text(encoding="utf-8"), str(path)))
        if not isinstance(document, dict) or "Resources" not in document:
            raise TemplateError(f"{path} is not a CloudFormation template (no Resources)")
        return cls(merge_globals(document), path.resolve().parent)

    @property
    def resources(self) -> Mapping[str, Mapping[str, Any]]:
        resources: Mapping[str, Mapping[str, Any]] = self.document["Resources"]
        return resources

    def of_type(self, resource_type: str, resolver: Resolver) -> Iterator[str]:
        """Logical ids of the resources of one type that CloudFormation would create."""
        for logical_id, resource in self.resources.items():
            if resource.get("Type") == resource_type and resolver.is_active(logical_id):
                yield logical_id

    def properties(self, logical_id: str, resolver: Resolver) -> dict[str, Any]:
        """A resource's properties with every intrinsic function resolved."""
        raw = self.resources[logical_id].get("Properties", {})
        resolved: dict[str, Any] = resolver.resolve(raw, f"Resources.{logical_id}.Properties")
        return resolved


def merge_globals(document: dict[str, Any]) -> dict[str, Any]:
    """Apply ``Globals`` as SAM does: scalars are overridden, maps merged, lists appended."""
    globals_section = document.get("Globals", {})
    defaults_by_type = {
        kind: globals_section[name] for name, kind in _GLOBALS_TARGETS.items() if name in globals_section
    }
    resources = {}
    for logical_id, resource in document["Resources"].items():
        defaults = defaults_by_type.get(resource.get("Type"))
        properties = resource.get("Properties", {})
        resources[logical_id] = (
            {**resource, "Properties": _merge(defaults, properties)} if defaults else resource
        )
    return {**{key: value for key, value in document.items() if key != "Globals"}, "Resources": resources}


def _is_intrinsic(value: Any) -> bool:
    if not isinstance(value, dict) or len(value) != 1:
        return False
    key = str(next(iter(value)))
    return key in ("Ref", "Condition") or key.startswith("Fn::")


def _merge(defaults: Any, own: Any) -> Any:
    if (
        isinstance(defaults, dict)
        and isinstance(own, dict)
        and not (_is_intrinsic(defaults) or _is_intrinsic(own))
    ):
        merged = dict(defaults)
        for key, value in own.items():
            merged[key] = _merge(defaults[key], value) if key in defaults else value
        return merged
    if isinstance(defaults, list) and isinstance(own, list):
        return defaults + own
    return own


def _plain(value: Any) -> Any:
    """cfn-lint's node types (dict/list/str subclasses carrying line marks) as plain values."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


# -- functions --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HttpRoute:
    """One ``HttpApi`` event: a route of an HTTP API that invokes a function."""

    api_id: str  # the HttpApi's id (its !Ref); SAM's implicit ServerlessHttpApi when the event names none
    method: str  # upper case; ANY matches every method
    path: str  # "/login", "/users/{id}", "/files/{proxy+}" or "$default"
    payload_format_version: str

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsSource:
    """One ``SQS`` event source mapping."""

    name: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool


@dataclass(frozen=True)
class FunctionSpec:
    """What the local runtime needs to run one function as Lambda would."""

    logical_id: str
    function_name: str
    handler: str
    handler_file: Path
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: Mapping[str, str]
    timeout_seconds: int
    memory_mb: int
    http_routes: tuple[HttpRoute, ...]
    sqs_sources: tuple[SqsSource, ...]
    layer_arns: tuple[str, ...] = ()  # layers given by ARN (not this template's own)

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


def read_functions(template: Template, resolver: Resolver) -> list[FunctionSpec]:
    """Every function of the template, resolved against the local stack."""
    return [
        read_function(template, resolver, logical_id) for logical_id in template.of_type(FUNCTION, resolver)
    ]


def read_function(template: Template, resolver: Resolver, logical_id: str) -> FunctionSpec:
    where = f"Resources.{logical_id}"
    props = template.properties(logical_id, resolver)
    if props.get("PackageType", "Zip") != "Zip" or "InlineCode" in props:
        raise TemplateError(f"{where}: only Zip functions with a local CodeUri can run offline")
    code_uri = props.get("CodeUri")
    if not isinstance(code_uri, str) or code_uri.startswith("s3://"):
        raise TemplateError(f"{where}.CodeUri must be a local directory, got {code_uri!r}")
    handler = str(props.get("Handler", ""))
    if "." not in handler:
        raise TemplateError(f"{where}.Handler must look like module.function, got {handler!r}")
    code_dir = (template.base_dir / code_uri).resolve()
    events = props.get("Events", {})
    return FunctionSpec(
        logical_id=logical_id,
        function_name=str(props.get("FunctionName") or resolver.physical(logical_id).ref),
        handler=handler,
        handler_file=_module_file(code_dir, handler.rsplit(".", 1)[0], where),
        code_dir=code_dir,
        layer_dirs=tuple(_layer_dirs(template, resolver, logical_id)),
        layer_arns=tuple(_layer_arns(template, resolver, logical_id)),
        environment=_environment(props, where),
        timeout_seconds=int(props.get("Timeout", DEFAULT_TIMEOUT_SECONDS)),
        memory_mb=int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
        http_routes=tuple(_http_routes(events, resolver.physical(IMPLICIT_HTTP_API).ref)),
        sqs_sources=tuple(_sqs_sources(events)),
    )


def _module_file(code_dir: Path, module: str, where: str) -> Path:
    relative = Path(*module.split("."))
    for candidate in (code_dir / relative.with_suffix(".py"), code_dir / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise TemplateError(f"{where}.Handler: no module {module} under {code_dir}")


def _layers(template: Template, logical_id: str) -> list[Any]:
    layers: list[Any] = template.resources[logical_id].get("Properties", {}).get("Layers", [])
    return layers


def _own_layer(template: Template, raw: Any) -> str | None:
    target = raw.get("Ref") if isinstance(raw, dict) else None
    return (
        target
        if isinstance(target, str) and template.resources.get(target, {}).get("Type") == LAYER
        else None
    )


def _layer_dirs(template: Template, resolver: Resolver, logical_id: str) -> Iterator[Path]:
    """The local directories of the template's own layers (a Python layer's ContentUri holds
    the importable package, which ``sam build`` copies to /opt/python)."""
    for raw in _layers(template, logical_id):
        target = _own_layer(template, raw)
        if target is None:
            continue
        content_uri = template.properties(target, resolver).get("ContentUri")
        if not isinstance(content_uri, str):
            raise TemplateError(f"Resources.{target}.ContentUri must be a local directory")
        yield (template.base_dir / content_uri).resolve()


def _layer_arns(template: Template, resolver: Resolver, logical_id: str) -> Iterator[str]:
    """Layers given by ARN; the local runtime decides which of them it can stand in for."""
    for index, raw in enumerate(_layers(template, logical_id)):
        if _own_layer(template, raw) is None:
            arn = resolver.resolve(raw, f"Resources.{logical_id}.Properties.Layers[{index}]")
            if not isinstance(arn, str):
                raise TemplateError(f"Resources.{logical_id}.Layers[{index}] did not resolve to an ARN")
            yield arn


def _environment(props: Mapping[str, Any], where: str) -> dict[str, str]:
    variables = props.get("Environment", {}).get("Variables", {})
    environment = {}
    for name, value in variables.items():
        if isinstance(value, (dict, list)):
            raise TemplateError(f"{where}.Environment.Variables.{name} did not resolve to a scalar")
        environment[name] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return environment


def _http_routes(events: Mapping[str, Any], implicit_api_id: str) -> Iterator[HttpRoute]:
    for event in events.values():
        if event.get("Type") != "HttpApi":
            continue
        props = event.get("Properties", {})
        has_route = "Path" in props or "Method" in props
        yield HttpRoute(
            api_id=str(props.get("ApiId", implicit_api_id)),
            method=str(props.get("Method", "ANY")).upper() if has_route else "ANY",
            path=str(props.get("Path", "/")) if has_route else "$default",
            payload_format_version=str(props.get("PayloadFormatVersion", "2.0")),
        )


def _sqs_sources(events: Mapping[str, Any]) -> Iterator[SqsSource]:
    for name, event in events.items():
        if event.get("Type") != "SQS":
            continue
        props = event.get("Properties", {})
        yield SqsSource(
            name=name,
            queue_arn=str(props["Queue"]),
            batch_size=int(props.get("BatchSize", DEFAULT_SQS_BATCH_SIZE)),
            report_batch_item_failures="ReportBatchItemFailures" in props.get("FunctionResponseTypes", []),
            enabled=bool(props.get("Enabled", True)),
        )


# -- resources --------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueueSpec:
    logical_id: str
    name: str | None
    attributes: Mapping[str, str]  # SQS CreateQueue attributes (VisibilityTimeout, RedrivePolicy, …)
    redrive_target_arn: str | None
    max_receive_count: int | None


_QUEUE_ATTRIBUTES = (
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
    "FifoQueue",
    "ContentBasedDeduplication",
)


def read_queue(template: Template, resolver: Resolver, logical_id: str) -> QueueSpec:
    props = template.properties(logical_id, resolver)
    attributes = {key: _attribute(props[key]) for key in _QUEUE_ATTRIBUTES if key in props}
    redrive = props.get("RedrivePolicy")
    if isinstance(redrive, str):
        redrive = json.loads(redrive)
    if redrive:
        attributes["RedrivePolicy"] = json.dumps(redrive)
    return QueueSpec(
        logical_id=logical_id,
        name=props.get("QueueName"),
        attributes=attributes,
        redrive_target_arn=redrive.get("deadLetterTargetArn") if redrive else None,
        max_receive_count=int(redrive["maxReceiveCount"]) if redrive else None,
    )


@dataclass(frozen=True)
class TopicSpec:
    logical_id: str
    name: str | None
    attributes: Mapping[str, str]
    inline_subscriptions: tuple[tuple[str, str], ...]  # (protocol, endpoint)


def read_topic(template: Template, resolver: Resolver, logical_id: str) -> TopicSpec:
    props = template.properties(logical_id, resolver)
    attributes: dict[str, str] = {
        key: _attribute(props[key])
        for key in ("KmsMasterKeyId", "FifoTopic", "ContentBasedDeduplication", "DisplayName")
        if key in props
    }
    return TopicSpec(
        logical_id=logical_id,
        name=props.get("TopicName"),
        attributes=attributes,
        inline_subscriptions=tuple(
            (item["Protocol"], item["Endpoint"]) for item in props.get("Subscription", [])
        ),
    )


@dataclass(frozen=True)
class SubscriptionSpec:
    logical_id: str
    topic_arn: str
    protocol: str
    endpoint: str
    raw_message_delivery: bool
    filter_policy: Mapping[str, Any] | None
    filter_policy_scope: str | None


def read_subscription(template: Template, resolver: Resolver, logical_id: str) -> SubscriptionSpec:
    props = template.properties(logical_id, resolver)
    policy = props.get("FilterPolicy")
    return SubscriptionSpec(
        logical_id=logical_id,
        topic_arn=str(props["TopicArn"]),
        protocol=str(props["Protocol"]),
        endpoint=str(props["Endpoint"]),
        raw_message_delivery=_attribute(props.get("RawMessageDelivery", False)) == "true",
        filter_policy=json.loads(policy) if isinstance(policy, str) else policy,
        filter_policy_scope=props.get("FilterPolicyScope"),
    )


@dataclass(frozen=True)
class TableSpec:
    logical_id: str
    name: str | None
    key_schema: tuple[Mapping[str, str], ...]
    attribute_definitions: tuple[Mapping[str, str], ...]
    billing_mode: str
    provisioned_throughput: Mapping[str, int] | None
    global_secondary_indexes: tuple[Mapping[str, Any], ...]
    ttl_attribute: str | None


def read_table(template: Template, resolver: Resolver, logical_id: str) -> TableSpec:
    props = template.properties(logical_id, resolver)
    ttl = props.get("TimeToLiveSpecification", {})
    return TableSpec(
        logical_id=logical_id,
        name=props.get("TableName"),
        key_schema=tuple(props["KeySchema"]),
        attribute_definitions=tuple(props["AttributeDefinitions"]),
        billing_mode=str(props.get("BillingMode", "PROVISIONED")),
        provisioned_throughput=props.get("ProvisionedThroughput"),
        global_secondary_indexes=tuple(props.get("GlobalSecondaryIndexes", [])),
        ttl_attribute=ttl.get("AttributeName") if _attribute(ttl.get("Enabled", False)) == "true" else None,
    )


@dataclass(frozen=True)
class SecretSpec:
    logical_id: str
    name: str | None
    description: str | None
    kms_key_id: str | None


def read_secret(template: Template, resolver: Resolver, logical_id: str) -> SecretSpec:
    props = template.properties(logical_id, resolver)
    return SecretSpec(
        logical_id=logical_id,
        name=props.get("Name"),
        description=props.get("Description"),
        kms_key_id=props.get("KmsKeyId"),
    )


def _attribute(value: Any) -> str:
    """A property as the string the AWS APIs take (booleans lower-case, as CloudFormation sends)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).lower() if str(value).lower() in ("true", "false") else str(value)
