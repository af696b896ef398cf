"""The translated template as one stack in moto: moto's CloudFormation is the only interpreter of
its intrinsics, and everything the offline stack runs is read back from moto.

Read in moto 5.2.5 (``moto/cloudformation/parsing.py``: ``clean_json``, ``parse_condition``,
``parse_output``; each model's ``create_from_cloudformation_json``, e.g. ``moto/awslambda/models.py``):

- ``HONOURED`` types other than ``EXPLICIT`` go to ``create_stack`` (roles too: moto's Lambda wants
  them). moto's function model drops Layers and PackageType, its table model
  TimeToLiveSpecification, and mappings are created disabled (moto would run Docker; the queue
  runner consumes SQS): those properties come back resolved as outputs ``{"Fn::ToJsonString": ...}``.
- ``EXPLICIT`` types have no model in moto's CloudFormation (a layer has one, but its ``Ref``
  answers the model object, not the ARN), ``NO_OFFLINE_MEANING_TYPES`` are never created: both
  leave the stack as parameters of their own logical id, so moto resolves references to them to a
  token; their properties come back resolved as outputs; boto3 creates the explicit ones, whose ids
  then replace the tokens (``OfflineResources.finish``). An alias (no model either) is rewritten to
  its function's ARN: functions run $LATEST offline. Any other type is an error before moto sees it
  (moto would log a warning and skip it).
"""

from __future__ import annotations

import functools
import io
import json
import re
import secrets
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ropguard_offline.template import (
    LOCAL_CODE_BUCKET,
    STACK_NAME,
    CorsConfig,
    FunctionSpec,
    HttpRoute,
    SqsSource,
    TemplateError,
    is_extension_layer,
    load_yaml,
    parameter_values,
    translate,
)

#: moto's documented fake credentials: the local stack never talks to real AWS.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
}


def names(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Properties that change nothing offline (no IAM, X-Ray, CloudWatch Logs, snapshots or backups on
#: a laptop): allowed on any type, never read.
NO_OFFLINE_MEANING = names(
    "Role Tags Description TracingConfig LoggingConfig SnapStart CompatibleRuntimes CompatibleArchitectures "
    "LicenseInfo PointInTimeRecoverySpecification RetentionPolicy"
)
#: Types -> the properties the offline stack honours (None: any). SSESpecification is accepted but
#: nothing is encrypted offline.
HONOURED: Mapping[str, frozenset[str] | None] = {
    "AWS::KMS::Key": names("KeyPolicy EnableKeyRotation Enabled"),
    "AWS::KMS::Alias": names("AliasName TargetKeyId"),
    "AWS::SNS::Topic": names("TopicName DisplayName KmsMasterKeyId"),
    "AWS::SQS::Queue": names("QueueName DelaySeconds MaximumMessageSize MessageRetentionPeriod RedrivePolicy "
        "VisibilityTimeout ReceiveMessageWaitTimeSeconds KmsMasterKeyId KmsDataKeyReusePeriodSeconds "
        "SqsManagedSseEnabled"),
    "AWS::DynamoDB::Table": names("TableName KeySchema AttributeDefinitions BillingMode SSESpecification "
        "ProvisionedThroughput TimeToLiveSpecification"),
    "AWS::Logs::LogGroup": names("LogGroupName RetentionInDays"),
    "AWS::IAM::Role": None,  # moto's Lambda wants the function's role to exist; IAM is not enforced
    "AWS::Lambda::Function": names("Code Handler Runtime Timeout MemorySize Environment Layers FunctionName "
        "PackageType Architectures"),
    "AWS::Lambda::EventSourceMapping": names("EventSourceArn FunctionName BatchSize FunctionResponseTypes "
        "ScalingConfig"),
    "AWS::Lambda::Version": names("FunctionName"),
    # EXPLICIT, in creation order (a later one may refer to an earlier one)
    "AWS::Lambda::LayerVersion": names("Content LayerName"),
    "AWS::ApiGatewayV2::Api": names("Body"),  # its routes, served by the local HTTP API
    "AWS::SecretsManager::Secret": names("Name KmsKeyId SecretString GenerateSecretString"),
    "AWS::SNS::Subscription": names("TopicArn Protocol Endpoint RawMessageDelivery FilterPolicy "
        "FilterPolicyScope RedrivePolicy"),
    "AWS::SQS::QueuePolicy": names("Queues PolicyDocument"),
}  # fmt: skip
EXPLICIT = tuple(HONOURED)[tuple(HONOURED).index("AWS::Lambda::LayerVersion") :]
#: Skipped by these name prefixes (AWS::CloudFront::* : the stack's own front plays the distribution;
#: AWS::WAFv2::* : no web ACL filters it; a custom domain and its mapping: the local API has its port).
NO_OFFLINE_MEANING_TYPES = (
    "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy", "AWS::IAM::RolePolicy", "AWS::Lambda::Permission",
    "AWS::CloudWatch::", "AWS::Scheduler::Schedule", "AWS::CloudFront::", "AWS::ApiGatewayV2::Stage",
    "AWS::WAFv2::", "AWS::ApiGatewayV2::DomainName", "AWS::ApiGatewayV2::ApiMapping",
)  # fmt: skip
#: Properties of stack resources that moto's models drop, read back from outputs instead.
READ_BACK = {
    "AWS::Lambda::Function": ("Code", "Layers", "PackageType"),
    "AWS::DynamoDB::Table": ("TimeToLiveSpecification",),
}
#: SQS returns at most 10 messages per ReceiveMessage: the queue runner receives one batch at a time.
SQS_RECEIVE_LIMIT = 10
PENDING = "ropguard-local-pending:"  # + logical id: what moto resolves a left-out resource to
_TOKEN = re.compile(PENDING + r"(\w+)")
_FUNCTION_ARN = re.compile(r"arn:[\w-]+:lambda:[\w-]+:\d+:function:([^:/]+)(?::[^/]*)?")
_PLAIN_ROUTE = re.compile(r"(get|post|put|patch|delete|head|options) ((/([\w.~-]+|\{\w+\}))+|/)")
_CORS = "x-amazon-apigateway-cors"
_ENDPOINT_ONLY = [{"x-amazon-apigateway-endpoint-configuration": {"disableExecuteApiEndpoint": False}}]
_ENDPOINT_OFF = [{"x-amazon-apigateway-endpoint-configuration": {"disableExecuteApiEndpoint": True}}]
#: CorsConfiguration's lists -> CorsConfig's fields (maxAge and allowCredentials are the others).
_CORS_LISTS = {
    "allowOrigins": "allow_origins",
    "allowMethods": "allow_methods",
    "allowHeaders": "allow_headers",
    "exposeHeaders": "expose_headers",
}
_INVOKE_ARN = re.compile(r"arn:[\w-]+:apigateway:[\w-]+:lambda:path/2015-03-31/functions/(.+)/invocations")


@dataclass(frozen=True)
class AwsEndpoint:
    """Where moto's server listens (empty: boto3's own endpoints, for an in-process ``mock_aws``)."""

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
    # Without a URL, AWS_ENDPOINT_URL must not send an in-process mock_aws's calls elsewhere.
    config = Config(ignore_configured_endpoint_urls=not url)  # type: ignore[call-arg]
    return session.client(service, endpoint_url=url or None, config=config)  # type: ignore[call-overload]


@dataclass
class OfflineResources:
    """The template's resources as created offline, and the functions to run."""

    document: dict[str, Any]  # the translated template
    base_dir: Path  # where its local code directories are
    stack_name: str = STACK_NAME
    types: dict[str, str] = field(default_factory=dict)  # logical id -> type, for what exists offline
    ids: dict[str, str] = field(default_factory=dict)  # logical id -> its Ref, for what was created
    properties: dict[str, dict[str, Any]] = field(default_factory=dict)  # resolved by moto, read back
    functions: list[FunctionSpec] = field(default_factory=list)

    def of_type(self, *types: str) -> list[str]:
        return [logical_id for logical_id, kind in self.types.items() if kind in types]

    def physical(self, logical_id: str) -> str:
        """A created resource's Ref (queue URL, table name, secret ARN...)."""
        if logical_id not in self.ids:
            raise TemplateError(f"{logical_id} does not exist offline")
        return self.ids[logical_id]

    def finish(self, value: Any, where: str) -> Any:
        """A value read back from moto, with created ids in place of tokens; AWS::NoValue (moto
        leaves None in lists) dropped. A token of what is not created, an intrinsic moto left
        unresolved or a ``${...}`` is an error naming where."""
        if isinstance(value, list):
            return [self.finish(item, f"{where}[{n}]") for n, item in enumerate(value) if item is not None]
        if isinstance(value, dict):
            unresolved = [key for key in value if key == "Ref" or key.startswith("Fn::")]
            if unresolved:
                raise TemplateError(f"{where}: {unresolved[0]} is not supported offline")
            return {key: self.finish(item, f"{where}.{key}") for key, item in value.items()}
        if not isinstance(value, str):
            return value
        for token in _TOKEN.findall(value):
            if token not in self.ids:
                kind = self.document["Resources"][token]["Type"]
                raise TemplateError(f"{where}: {token} ({kind}) does not exist offline")
            value = value.replace(f"{PENDING}{token}", self.ids[token])
        if "${" in value:
            raise TemplateError(f"{where}: {value!r} keeps a ${{...}}")
        return value


def refers_to(value: Any, logical_id: str) -> bool:
    """Whether a value read back (before ``finish``) refers to a resource left out of the stack."""
    return f"{PENDING}{logical_id}" in json.dumps(value)


def create_resources(
    template_path: Path,
    aws: AwsEndpoint,
    parameter_overrides: Mapping[str, str] | None = None,
    secret_strings: Callable[[OfflineResources], Mapping[str, str]] | None = None,
    local_values: Mapping[str, str] | None = None,
    *,
    stack_name: str = STACK_NAME,
) -> OfflineResources:
    """Translate template.yaml, create it in moto as ``stack_name`` and read it back.

    ``local_values`` fill declared parameters the overrides leave out (the emulator's Auth0 domain);
    ``secret_strings`` says, once moto resolved the template, which value each secret (by logical
    id) gets (what an operator puts in after deploying, like the Auth0 client credentials).
    """
    sam = load_yaml(template_path)
    values = parameter_values(sam.get("Parameters", {}), parameter_overrides or {}, local_values or {})
    created = OfflineResources(
        translate(sam, values, aws.region, stack_name), template_path.resolve().parent, stack_name
    )
    stack = _stack_document(created.document)
    _put_placeholder_code(aws, created.document)
    cloudformation = aws.client("cloudformation")
    given = values | {
        name: PENDING + name for name in stack["Parameters"] if name in created.document["Resources"]
    }
    try:
        cloudformation.create_stack(
            StackName=stack_name,
            TemplateBody=json.dumps(stack),
            Parameters=[{"ParameterKey": key, "ParameterValue": str(value)} for key, value in given.items()],
        )
        (described,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    except ClientError as exc:
        raise TemplateError(f"moto's CloudFormation refused the template: {exc}") from None
    for output in described.get("Outputs", []):
        created.properties[output["OutputKey"]] = json.loads(output["OutputValue"])
    for item in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]:
        if "ResourceType" not in item:  # moto lists a resource whose condition is false as empty
            continue
        created.types[item["LogicalResourceId"]] = item["ResourceType"]
        if item.get("PhysicalResourceId"):  # (none for a version: moto's model has no id)
            created.ids[item["LogicalResourceId"]] = item["PhysicalResourceId"]
    for logical_id in created.properties.keys() - stack["Resources"].keys():  # left out, and existing
        created.types[logical_id] = created.document["Resources"][logical_id]["Type"]
    _create_explicit(created, aws, dict(secret_strings(created) if secret_strings else {}))
    _create_aliases(created, aws)
    created.functions = _functions(created, aws)
    return created


def _stack_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """What moto's CloudFormation gets: the resources it honours; the rest as parameters, and every
    property the stack reads as an output (with the resource's condition)."""
    text = json.dumps(document["Resources"])
    for logical_id, resource in document["Resources"].items():
        if resource["Type"] == "AWS::Lambda::Alias":  # offline the alias is its function ($LATEST)
            function = resource["Properties"]["FunctionName"]["Ref"]  # SAM writes a Ref
            text = text.replace(f'{{"Ref": "{logical_id}"}}', f'{{"Fn::GetAtt": ["{function}", "Arn"]}}')
            text = text.replace(f"${{{logical_id}}}", f"${{{function}.Arn}}")
    resources, parameters, outputs = {}, dict(document.get("Parameters", {})), {}
    absent = {
        lid for lid, r in document["Resources"].items() if r["Type"].startswith(NO_OFFLINE_MEANING_TYPES)
    }
    for logical_id, resource in _without_attributes_of(json.loads(text), absent).items():
        kind, properties = resource["Type"], resource.get("Properties", {})
        if kind == "AWS::Lambda::Alias":
            continue
        if kind not in HONOURED and not kind.startswith(NO_OFFLINE_MEANING_TYPES):
            raise TemplateError(f"Resources.{logical_id}: {kind} is not supported offline")
        honoured = HONOURED.get(kind)
        unknown = sorted(set(properties) - NO_OFFLINE_MEANING - honoured) if honoured is not None else []
        if unknown:
            raise TemplateError(f"Resources.{logical_id}.{unknown[0]}: {kind} property not supported offline")
        left_out = kind in EXPLICIT or kind not in HONOURED
        read = (
            properties
            if left_out
            else {key: properties[key] for key in READ_BACK.get(kind, ()) if key in properties}
        )
        if read or left_out:
            output = {"Value": {"Fn::ToJsonString": read}}
            outputs[logical_id] = output | {key: resource[key] for key in ("Condition",) if key in resource}
        if left_out:
            parameters[logical_id] = {"Type": "String"}
            continue
        if isinstance(properties.get("KeyPolicy"), dict):  # moto keeps an object as is, and every KMS
            properties["KeyPolicy"] = {"Fn::ToJsonString": properties["KeyPolicy"]}  # call then fails
        if kind == "AWS::Lambda::EventSourceMapping":
            properties["Enabled"] = False  # the queue runner consumes SQS, never moto (Docker)
        resources[logical_id] = resource
    return {key: document[key] for key in ("Conditions", "Mappings") if key in document} | {
        "Parameters": parameters,
        "Resources": resources,
        "Outputs": outputs,
    }


def _without_attributes_of(node: Any, absent: set[str]) -> Any:
    """``node`` with each ``Fn::GetAtt`` of a resource that does not exist offline as
    ``AWS::NoValue`` (moto would fail every output on it; e.g. a web ACL's ARN on the distribution)."""
    if isinstance(node, list):
        return [_without_attributes_of(item, absent) for item in node]
    if not isinstance(node, dict):
        return node
    target = node.get("Fn::GetAtt") if len(node) == 1 else None
    name = target[0] if isinstance(target, list) and target else str(target).split(".", 1)[0]
    if target is not None and name in absent:
        return {"Ref": "AWS::NoValue"}
    return {key: _without_attributes_of(value, absent) for key, value in node.items()}


def _put_placeholder_code(aws: AwsEndpoint, document: Mapping[str, Any]) -> None:
    """moto's Lambda wants each function's code in its S3: an empty zip at each local key (the
    stack runs the directory the key names)."""
    s3 = aws.client("s3")
    location = {} if aws.region == "us-east-1" else {"LocationConstraint": aws.region}
    try:
        s3.create_bucket(
            Bucket=LOCAL_CODE_BUCKET, **({"CreateBucketConfiguration": location} if location else {})
        )
    except ClientError as exc:  # a second stack in the same moto
        if exc.response["Error"]["Code"] != "BucketAlreadyOwnedByYou":
            raise
    archive = io.BytesIO()
    zipfile.ZipFile(archive, "w").close()
    for resource in document["Resources"].values():
        code = resource.get("Properties", {}).get("Code") or {}
        if resource["Type"] == "AWS::Lambda::Function" and code.get("S3Bucket") == LOCAL_CODE_BUCKET:
            s3.put_object(Bucket=LOCAL_CODE_BUCKET, Key=code["S3Key"], Body=archive.getvalue())


def _create_explicit(created: OfflineResources, aws: AwsEndpoint, secret_strings: dict[str, str]) -> None:
    unknown = set(secret_strings) - set(created.of_type("AWS::SecretsManager::Secret"))
    if unknown:
        raise TemplateError(f"secret values for secrets the template does not create: {sorted(unknown)}")
    for kind in EXPLICIT:
        for logical_id in created.of_type(kind):
            props = created.finish(created.properties[logical_id], f"Resources.{logical_id}")
            created.properties[logical_id] = props
            if kind == "AWS::Lambda::LayerVersion":
                content = {key: props["Content"][key] for key in ("S3Bucket", "S3Key")}
                layer = aws.client("lambda").publish_layer_version(
                    LayerName=props.get("LayerName", logical_id), Content=content
                )
                created.ids[logical_id] = layer["LayerVersionArn"]
            elif kind == "AWS::ApiGatewayV2::Api":
                api = aws.client("apigatewayv2").create_api(Name=logical_id, ProtocolType="HTTP")
                created.ids[logical_id] = api["ApiId"]
            elif kind == "AWS::SecretsManager::Secret":
                name = props.get("Name", f"{created.stack_name}-{logical_id}")
                created.ids[logical_id] = _secret(aws, name, props, secret_strings.get(logical_id))
            elif kind == "AWS::SNS::Subscription":
                created.ids[logical_id] = create_subscription(aws, props)
            else:
                for url in props["Queues"]:
                    policy = json.dumps(props["PolicyDocument"])
                    aws.client("sqs").set_queue_attributes(QueueUrl=url, Attributes={"Policy": policy})
    for logical_id in created.of_type("AWS::DynamoDB::Table"):
        ttl = created.properties.get(logical_id, {}).get("TimeToLiveSpecification")
        if ttl and str(ttl.get("Enabled")).lower() == "true":
            aws.client("dynamodb").update_time_to_live(
                TableName=created.physical(logical_id),
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
            )


def _create_aliases(created: OfflineResources, aws: AwsEndpoint) -> None:
    """Each alias on the version this deploy published (its function's latest), as AWS leaves it:
    moto's CloudFormation has no alias model. The functions still run $LATEST offline; the alias is
    there for what reads it (``ropguard-doctor smoke --stack``)."""
    client = aws.client("lambda")
    for resource in created.document["Resources"].values():
        if resource["Type"] != "AWS::Lambda::Alias":
            continue
        function = created.ids.get(resource["Properties"]["FunctionName"]["Ref"])
        if function is None:  # its function's condition is false
            continue
        versions = client.list_versions_by_function(FunctionName=function)["Versions"]
        published = [int(item["Version"]) for item in versions if item["Version"].isdigit()]
        latest = (
            str(max(published)) if published else client.publish_version(FunctionName=function)["Version"]
        )
        client.create_alias(
            FunctionName=function, Name=resource["Properties"]["Name"], FunctionVersion=latest
        )


def _secret(aws: AwsEndpoint, name: str, props: Mapping[str, Any], value: str | None) -> str:
    value = value or props.get("SecretString")
    if value is None:
        generate = props.get("GenerateSecretString", {})
        generated = secrets.token_urlsafe(24)
        key, base = generate.get("GenerateStringKey"), generate.get("SecretStringTemplate")
        value = json.dumps({**json.loads(base), key: generated}) if key and base else generated
    request = {"Name": name, "SecretString": value}
    request |= {key: props[key] for key in ("KmsKeyId",) if key in props}
    arn: str = aws.client("secretsmanager").create_secret(**request)["ARN"]
    return arn


def create_subscription(aws: AwsEndpoint, props: Mapping[str, Any]) -> str:
    """Subscribe as the template says (also to restore one in tests); the subscription's ARN."""
    attributes = {key: props[key] for key in ("FilterPolicyScope",) if key in props}
    for key in ("FilterPolicy", "RedrivePolicy"):
        if key in props:
            policy = props[key]
            attributes[key] = policy if isinstance(policy, str) else json.dumps(policy)
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


def _functions(created: OfflineResources, aws: AwsEndpoint) -> list[FunctionSpec]:
    """Every function as moto holds it, with its routes and SQS sources."""
    by_name = {created.ids[fid]: fid for fid in created.of_type("AWS::Lambda::Function")}
    routes: dict[str, list[HttpRoute]] = {}
    served: dict[str, str] = {}  # route key -> its API: the local API serves every API on one port
    for api_id in created.of_type("AWS::ApiGatewayV2::Api"):
        for function, route in _routes(created, api_id):
            where = f"Resources.{api_id}.Body: {route.route_key}"
            if function not in by_name:
                raise TemplateError(f"{where} invokes no function")
            if served.setdefault(route.route_key, api_id) != api_id:
                raise TemplateError(
                    f"{where} is also a route of {served[route.route_key]} (one port offline)"
                )
            routes.setdefault(by_name[function], []).append(route)
    sources: dict[str, list[SqsSource]] = {}
    own = {uuid: lid for lid, uuid in created.ids.items()}
    for mapping in aws.client("lambda").list_event_source_mappings()["EventSourceMappings"]:
        mapping_id = own.get(mapping["UUID"])
        if mapping_id is None:  # another stack's, in the same moto
            continue
        function = by_name[_function_name(mapping["FunctionArn"])]
        if ":sqs:" not in mapping["EventSourceArn"]:
            raise TemplateError(f"Resources.{mapping_id}.EventSourceArn: only SQS sources run offline")
        if int(mapping["BatchSize"]) > SQS_RECEIVE_LIMIT:  # above it, Lambda needs a batching window
            raise TemplateError(f"Resources.{mapping_id}.BatchSize: at most {SQS_RECEIVE_LIMIT} offline")
        sources.setdefault(function, []).append(
            SqsSource(
                name=mapping_id.removeprefix(function) or mapping_id,
                queue_arn=mapping["EventSourceArn"],
                batch_size=int(mapping["BatchSize"]),
                report_batch_item_failures="ReportBatchItemFailures"
                in mapping.get("FunctionResponseTypes", []),
            )
        )
    own_layers = {  # the template's own layers by ARN: their directories go on PYTHONPATH
        created.ids[lid]: _local_dir(
            created.base_dir, created.properties[lid]["Content"], f"Resources.{lid}.Content"
        )
        for lid in created.of_type("AWS::Lambda::LayerVersion")
    }
    return [
        _function(
            created,
            aws,
            fid,
            own_layers,
            routes=tuple(routes.get(fid, ())),
            sources=tuple(sources.get(fid, ())),
        )
        for fid in created.of_type("AWS::Lambda::Function")
    ]


def _function(
    created: OfflineResources,
    aws: AwsEndpoint,
    logical_id: str,
    own_layers: Mapping[str, Path],
    *,
    routes: tuple[HttpRoute, ...],
    sources: tuple[SqsSource, ...],
) -> FunctionSpec:
    where = f"Resources.{logical_id}"
    config = aws.client("lambda").get_function_configuration(FunctionName=created.ids[logical_id])
    props = created.finish(created.properties.get(logical_id, {}), where)  # what moto's model drops
    if props.get("PackageType", "Zip") != "Zip":
        raise TemplateError(f"{where}.PackageType: only Zip functions run offline")
    handler = str(config.get("Handler") or "")
    if "." not in handler:
        raise TemplateError(f"{where}.Handler must look like module.function, got {handler!r}")
    code_dir = _local_dir(created.base_dir, props["Code"], f"{where}.Code")
    layer_dirs, extension = [], False
    for layer in props.get("Layers", []):
        if layer in own_layers:
            layer_dirs.append(own_layers[layer])
        elif is_extension_layer(str(layer)):
            extension = True
        else:
            raise TemplateError(f"{where}.Layers: layer {layer} cannot run offline")
    variables = created.finish(config.get("Environment", {}).get("Variables", {}), f"{where}.Environment")
    if any(isinstance(value, (dict, list)) for value in variables.values()):
        raise TemplateError(f"{where}.Environment.Variables: every value must be a string")
    return FunctionSpec(
        logical_id=logical_id,
        function_name=config["FunctionName"],
        handler=handler,
        runtime=str(config.get("Runtime") or ""),
        handler_file=_module_file(code_dir, handler.rsplit(".", 1)[0], f"{where}.Handler"),
        code_dir=code_dir,
        layer_dirs=tuple(layer_dirs),
        environment={name: _text(value) for name, value in variables.items()},
        timeout_seconds=int(config["Timeout"]),
        memory_mb=int(config["MemorySize"]),
        http_routes=routes,
        sqs_sources=sources,
        secrets_extension=extension,
    )


def _routes(created: OfflineResources, api_id: str) -> Iterator[tuple[str, HttpRoute]]:
    """(function name, route) from an HTTP API's OpenAPI body as SAM wrote it and moto resolved it.
    A version's or alias's ARN names its function: functions run $LATEST offline."""
    where = f"Resources.{api_id}.Body"
    body = created.properties[api_id].get("Body")
    if not isinstance(body, dict) or set(body) - {"openapi", "info", "paths", "tags", "servers", _CORS}:
        raise TemplateError(f"{where}: only paths with Lambda integrations and CORS are served offline")
    if body.get("servers", _ENDPOINT_ONLY) != _ENDPOINT_ONLY and body["servers"] != _ENDPOINT_OFF:
        # DisableExecuteApiEndpoint is all SAM writes there; offline the local API is the only endpoint.
        raise TemplateError(f"{where}.servers: only the execute-api endpoint switch is understood offline")
    cors = _cors(body.get(_CORS), f"{where}.{_CORS}")
    for path, methods in body["paths"].items():
        for method, operation in methods.items():
            integration = operation.get("x-amazon-apigateway-integration", {})
            target = _INVOKE_ARN.fullmatch(str(integration.get("uri", "")))
            extra = set(operation) - {"x-amazon-apigateway-integration", "responses", "parameters"}
            if extra or integration.get("type") != "aws_proxy" or not target:
                raise TemplateError(f"{where}.paths.{path}.{method}: not a plain Lambda proxy route")
            # What template.yaml does not use is refused, not half-served: ANY, greedy and $default
            # routes, payload format 1.0.
            if not _PLAIN_ROUTE.fullmatch(f"{method} {path}") or integration["payloadFormatVersion"] != "2.0":
                raise TemplateError(
                    f"{where}.paths.{path}.{method}: only a method, a path of literal and {{name}} "
                    "segments, and payload format 2.0 are served offline"
                )
            route = HttpRoute(created.ids[api_id], method.upper(), path, cors)
            yield _function_name(target.group(1)), route


def _cors(config: Any, where: str) -> CorsConfig | None:
    """An API's CorsConfiguration as SAM wrote it (None: CORS off, also through AWS::NoValue)."""
    if config is None:
        return None
    if not isinstance(config, dict) or set(config) - set(_CORS_LISTS) - {"maxAge", "allowCredentials"}:
        raise TemplateError(
            f"{where}: only {', '.join(_CORS_LISTS)}, maxAge and allowCredentials are served offline"
        )
    lists = {}
    for key, field_name in _CORS_LISTS.items():
        items = config.get(key, [])
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise TemplateError(f"{where}.{key} must be a list of strings")
        lists[field_name] = tuple(item.strip() for item in items if item.strip())  # !Split of "a," too
    patterns = [origin for origin in lists["allow_origins"] if "*" in origin and origin != "*"]
    if patterns:
        raise TemplateError(
            f"{where}.allowOrigins: {patterns[0]!r}: only exact origins and * are served offline"
        )
    max_age = config.get("maxAge")
    return CorsConfig(
        **lists,
        max_age=None if max_age is None else int(max_age),
        allow_credentials=str(config.get("allowCredentials", False)).lower() == "true",
    )


def _function_name(arn: str) -> str:
    match = _FUNCTION_ARN.fullmatch(arn)
    return match.group(1) if match else arn


def _local_dir(base_dir: Path, code: Mapping[str, Any], where: str) -> Path:
    if code.get("S3Bucket") != LOCAL_CODE_BUCKET or set(code) != {"S3Bucket", "S3Key"}:
        raise TemplateError(f"{where}: only a local directory (CodeUri/ContentUri) runs offline")
    directory = (base_dir / str(code["S3Key"])).resolve()
    if not directory.is_dir():
        raise TemplateError(f"{where}: {directory} is not a directory")
    return directory


def _module_file(code_dir: Path, module: str, where: str) -> Path:
    relative = Path(*module.split("."))
    for candidate in (code_dir / relative.with_suffix(".py"), code_dir / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise TemplateError(f"{where}: no module {module} under {code_dir}")


def _text(value: Any) -> str:
    """A value as Lambda's environment holds it (CloudFormation writes booleans lower-case)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def read_template(
    template_path: Path,
    parameter_overrides: Mapping[str, str] | None = None,
    local_values: Mapping[str, str] | None = None,
    region: str = "us-east-1",
) -> OfflineResources:
    """The template created in moto in this process (``mock_aws``) and read back, for tools and
    tests without a running stack. moto's state is module-wide: this resets any moto server in the
    same process too."""
    from moto import mock_aws  # noqa: PLC0415 - only tools and tests pay for importing moto here

    with mock_aws():
        aws = AwsEndpoint("", region)
        return create_resources(template_path, aws, parameter_overrides, local_values=local_values)
