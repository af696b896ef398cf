"""template.yaml read once, the way AWS reads it: aws-sam-translator's public API turns it into
CloudFormation (parameter overrides applied), and this module reads that document only.

Functions, layers, routes and SQS event sources are the translator's ``AWS::Lambda::*`` and
``AWS::ApiGatewayV2::Api`` resources; values are resolved with the few intrinsic functions the
translated template uses. Anything the offline stack cannot honour is a ``TemplateError`` naming
the resource and property: a wrong local value is worse than no stack.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.public.exceptions import InvalidDocumentException  # type: ignore[import-untyped]
from samtranslator.public.parser import Parser  # type: ignore[import-untyped]
from samtranslator.public.translator import Translator  # type: ignore[import-untyped]
from samtranslator.yaml_helper import intrinsics_multi_constructor  # type: ignore[import-untyped]

#: Local CodeUri/ContentUri become s3://<this bucket>/<path> for the translator (as `sam validate`
#: does); a function's code is then the directory named by the key. Other buckets cannot run here.
LOCAL_CODE_BUCKET = "ropguard-local-code"
STACK_NAME = "ropguard-local"
ACCOUNT_ID = "123456789012"  # moto's default account
EXTENSION_LAYER = "AWS-Parameters-and-Secrets-Lambda-Extension"  # served by the stack (issue 10)


def is_extension_layer(arn: str) -> bool:
    """Whether a layer ARN is AWS's Parameters and Secrets extension (its name in every region)."""
    return f":layer:{EXTENSION_LAYER}" in arn  # -Arm64 for arm64


def names(text: str) -> frozenset[str]:
    return frozenset(text.split())


#: Properties that change nothing offline, so they are never read (nor resolved): no IAM, X-Ray,
#: CloudWatch Logs, snapshots, throttling or point-in-time recovery on a laptop.
NO_OFFLINE_MEANING = names(
    "Role Tags Description TracingConfig LoggingConfig SnapStart CompatibleRuntimes CompatibleArchitectures "
    "LicenseInfo DefaultRouteSettings AccessLogSettings PointInTimeRecoverySpecification"
)
#: Properties each resource type the stack runs itself may have; any other is an error.
#: (Architectures and Runtime are read, but workers run on the host's Python.)
LOCAL_PROPERTIES: Mapping[str, frozenset[str]] = {
    "AWS::Lambda::Function": names(
        "Code Handler Runtime Timeout MemorySize Environment Layers Role Description Tags TracingConfig "
        "LoggingConfig FunctionName PackageType Architectures SnapStart"
    ),
    "AWS::Lambda::LayerVersion": names(
        "Content Description LayerName CompatibleRuntimes CompatibleArchitectures LicenseInfo"
    ),
    "AWS::Lambda::EventSourceMapping": names(
        "EventSourceArn FunctionName BatchSize FunctionResponseTypes Enabled ScalingConfig"
    ),
    "AWS::ApiGatewayV2::Api": frozenset({"Body"}),  # its routes; served by the local HTTP API
    # SnapStart's published version and alias (AutoPublishAlias, issue 10): offline both are the
    # function itself, so an API that invokes the alias invokes the function.
    "AWS::Lambda::Version": names("FunctionName Description"),
    "AWS::Lambda::Alias": names("FunctionName FunctionVersion Name Description"),
    # throttling and access logs have no offline meaning
    "AWS::ApiGatewayV2::Stage": names(
        "ApiId StageName AutoDeploy DefaultRouteSettings AccessLogSettings Tags"
    ),
}
#: A published version and its alias (SAM's AutoPublishAlias output, which SnapStart needs) have
#: no offline meaning: functions run $LATEST offline, so nothing is created for them and a Ref to
#: either is its function's unqualified ARN (the HTTP API's integration and the event source
#: mapping then reach the function itself).
RUN_AS_LATEST = ("AWS::Lambda::Version", "AWS::Lambda::Alias")
DEFAULT_TIMEOUT_SECONDS = 3
DEFAULT_MEMORY_MB = 128
DEFAULT_SQS_BATCH_SIZE = 10


class TemplateError(ValueError):
    """template.yaml asks for something the offline stack cannot give; the message says what."""


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !GetAtt, !Sub...) in long form."""


_Loader.add_multi_constructor("!", intrinsics_multi_constructor)


def load_yaml(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    return document


def translate(document: dict[str, Any], parameter_values: Mapping[str, str], region: str) -> dict[str, Any]:
    """The SAM template as CloudFormation, through the translator's public API (no AWS calls:
    managed policy names come from the translator's own bundled list; defaults fill the rest)."""
    for resource in document.get("Resources", {}).values():
        properties = resource.get("Properties") or {}
        for key in ("CodeUri", "ContentUri"):
            if isinstance(properties.get(key), str) and not properties[key].startswith("s3://"):
                properties[key] = f"s3://{LOCAL_CODE_BUCKET}/{properties[key]}"
    translator = Translator(None, Parser(), boto_session=boto3.session.Session(region_name=region))
    try:
        translated: dict[str, Any] = translator.translate(
            document, dict(parameter_values), get_managed_policy_map=dict
        )
    except InvalidDocumentException as exc:
        raise TemplateError("; ".join(error.message for error in exc.causes)) from None
    return translated


@dataclass(frozen=True)
class HttpRoute:
    """One route of an HTTP API that invokes a function."""

    api_id: str  # the API's id (its !Ref)
    method: str  # upper case; ANY matches every method
    path: str  # "/login", "/users/{id}" or "$default"
    payload_format_version: str

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsSource:
    """One SQS event source mapping (``name``: the SAM event's name)."""

    name: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool
    enabled: bool
    maximum_concurrency: int | None = None


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
    layer_arns: tuple[str, ...] = ()  # only the Parameters and Secrets extension's (issue 10)
    architectures: tuple[str, ...] = ("x86_64",)  # workers run on the host's architecture

    @property
    def handler_name(self) -> str:
        return self.handler.rsplit(".", 1)[1]


@dataclass
class Physical:
    """A resource of the running stack: what ``Ref`` returns and what ``GetAtt`` can read."""

    ref: str
    attributes: dict[str, str] = field(default_factory=dict)


_SUB_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_NO_VALUE: Any = object()


class StackTemplate:
    """The translated template of one local stack: parameters, conditions, physical resources."""

    def __init__(
        self,
        path: Path,
        parameter_overrides: Mapping[str, str] | None = None,
        region: str = "us-east-1",
        *,
        local_values: Mapping[str, str] | None = None,
    ) -> None:
        """``local_values``: for declared parameters the overrides leave out (the Auth0 domain of
        the stack's emulator, say), as ``sam deploy --parameter-overrides`` gives a real stack."""
        self.path, self.region, self.base_dir = path, region, path.resolve().parent
        sam = load_yaml(path)
        declared = sam.get("Parameters", {})
        local = {name: value for name, value in (local_values or {}).items() if name in declared}
        self.parameters = _parameter_values(declared, {**local, **(parameter_overrides or {})})
        given = {name: value for name, value in self.parameters.items() if value is not None}
        self.document = translate(sam, given, region)
        self.resources: Mapping[str, Mapping[str, Any]] = self.document["Resources"]
        self._physical: dict[str, Physical] = {}
        self._pseudo: dict[str, Any] = {
            "AWS::Region": region,
            "AWS::AccountId": ACCOUNT_ID,
            "AWS::StackName": STACK_NAME,
            "AWS::StackId": f"arn:aws:cloudformation:{region}:{ACCOUNT_ID}:stack/{STACK_NAME}/local",
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::NoValue": _NO_VALUE,
        }

    # -- resources ----------------------------------------------------------------------------

    def of_type(self, *types: str) -> list[str]:
        """Logical ids of the resources of these types that CloudFormation would create."""
        return [
            logical_id
            for logical_id, resource in self.resources.items()
            if resource["Type"] in types
            and ("Condition" not in resource or self.condition(resource["Condition"]))
        ]

    def properties(self, logical_id: str, allowed: frozenset[str] | None = None) -> dict[str, Any]:
        """A resource's properties, resolved; with ``allowed``, any other property is an error."""
        raw = self.resources[logical_id].get("Properties", {})
        unknown = sorted(set(raw) - allowed) if allowed is not None else []
        if unknown:
            kind = self.resources[logical_id]["Type"]
            raise TemplateError(f"Resources.{logical_id}.{unknown[0]}: {kind} property not supported offline")
        used = {key: value for key, value in raw.items() if key not in NO_OFFLINE_MEANING}
        resolved: dict[str, Any] = self.resolve(used, f"Resources.{logical_id}")
        return resolved

    def bind(self, logical_id: str, physical: Physical) -> None:
        self._physical[logical_id] = physical

    def physical(self, logical_id: str, where: str = "") -> Physical:
        if logical_id not in self._physical:
            kind = self.resources.get(logical_id, {}).get("Type", "unknown")
            raise TemplateError(f"{where}{': ' if where else ''}{logical_id} ({kind}) does not exist offline")
        return self._physical[logical_id]

    # -- intrinsic functions ------------------------------------------------------------------

    def condition(self, name: str) -> bool:
        if name not in self.document.get("Conditions", {}):
            raise TemplateError(f"Conditions.{name} is not declared")
        return bool(self.resolve(self.document["Conditions"][name], f"Conditions.{name}"))

    def resolve(self, value: Any, where: str) -> Any:
        """The value as CloudFormation would pass it: intrinsics evaluated, AWS::NoValue dropped."""
        if isinstance(value, list):
            items = [self.resolve(item, f"{where}[{index}]") for index, item in enumerate(value)]
            return [item for item in items if item is not _NO_VALUE]
        if isinstance(value, str) and "${" in value:
            raise TemplateError(f"{where}: {value!r} keeps a ${{...}} outside !Sub")
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, argument),) = value.items()
            if key in ("Ref", "Condition") or key.startswith("Fn::"):
                return self._function(key, argument, where)
        resolved = {key: self.resolve(item, f"{where}.{key}") for key, item in value.items()}
        return {key: item for key, item in resolved.items() if item is not _NO_VALUE}

    def _function(self, key: str, argument: Any, where: str) -> Any:
        if key == "Ref":
            return self._ref(argument, where)
        if key == "Condition":
            return self.condition(argument)
        if key == "Fn::GetAtt":
            return self._get_att(*argument, where=where)
        if key == "Fn::Sub":
            return self._sub(argument, where)
        if key == "Fn::If":
            name, when_true, when_false = argument
            return self.resolve(when_true if self.condition(name) else when_false, where)
        if key == "Fn::Equals":
            left, right = (self.resolve(item, where) for item in argument)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self.resolve(argument[0], where)
        if key == "Fn::And":
            return all(self.resolve(item, where) for item in argument)
        if key == "Fn::FindInMap":
            name, top, second = (self.resolve(item, where) for item in argument)
            try:
                return self.document["Mappings"][name][top][second]
            except KeyError:
                raise TemplateError(
                    f"{where}: !FindInMap [{name}, {top}, {second}] is not in Mappings"
                ) from None
        raise TemplateError(f"{where}: {key} is not supported offline")

    def _ref(self, name: str, where: str) -> Any:
        if name in self._pseudo:
            return self._pseudo[name]
        if name in self.parameters:
            if self.parameters[name] is None:
                raise TemplateError(f"{where}: parameter {name} has no Default; give it an override")
            return self.parameters[name]
        if name in self.resources and self.resources[name]["Type"] in RUN_AS_LATEST:
            return self._latest(name, where)
        if name in self.resources:
            return self.physical(name, where).ref
        raise TemplateError(f"{where}: !Ref {name} names nothing in the template")

    def _latest(self, logical_id: str, where: str) -> str:
        """A version's or alias's function, unqualified: $LATEST is what runs offline."""
        function = self.resolve(
            self.resources[logical_id].get("Properties", {}).get("FunctionName"),
            f"Resources.{logical_id}.FunctionName",
        )
        if not isinstance(function, str) or not function:
            raise TemplateError(f"{where}: {logical_id} names no function")
        if function.startswith("arn:"):
            return function
        return f"arn:aws:lambda:{self.region}:{ACCOUNT_ID}:function:{function}"

    def _get_att(self, logical_id: str, attribute: str, *, where: str) -> str:
        attributes = self.physical(logical_id, where).attributes
        if attribute not in attributes:
            raise TemplateError(f"{where}: !GetAtt {logical_id}.{attribute} is not known offline")
        return attributes[attribute]

    def _sub(self, argument: Any, where: str) -> str:
        text, variables = (argument[0], argument[1]) if isinstance(argument, list) else (argument, {})
        values = {name: self.resolve(item, where) for name, item in variables.items()}

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in values:
                return str(values[name])
            if "." in name:
                return self._get_att(*name.split(".", 1), where=where)
            return str(self._ref(name, where))

        return _SUB_VARIABLE.sub(replace, text)

    # -- functions ----------------------------------------------------------------------------

    def functions(self) -> list[FunctionSpec]:
        """Every function, with its routes and SQS sources (resources must be bound first)."""
        routes = self._routes()
        sources = self._sqs_sources()
        return [
            self._function_spec(logical_id, routes.get(logical_id, ()), sources.get(logical_id, ()))
            for logical_id in self.of_type("AWS::Lambda::Function")
        ]

    def _function_spec(
        self, logical_id: str, routes: tuple[HttpRoute, ...], sources: tuple[SqsSource, ...]
    ) -> FunctionSpec:
        where = f"Resources.{logical_id}"
        props = self.properties(logical_id, LOCAL_PROPERTIES["AWS::Lambda::Function"])
        if props.get("PackageType", "Zip") != "Zip":
            raise TemplateError(f"{where}.PackageType: only Zip functions run offline")
        code_dir = self._local_dir(props.get("Code", {}), f"{where}.Code")
        handler = str(props.get("Handler", ""))
        if "." not in handler:
            raise TemplateError(f"{where}.Handler must look like module.function, got {handler!r}")
        layer_dirs, layer_arns, own_layers = [], [], self._layer_dirs()
        for layer in props.get("Layers", []):
            if layer in own_layers:
                layer_dirs.append(own_layers[layer])
            elif is_extension_layer(str(layer)):
                layer_arns.append(str(layer))
            else:
                raise TemplateError(f"{where}.Layers: layer {layer} cannot run offline")
        variables = props.get("Environment", {}).get("Variables", {})
        if any(isinstance(value, (dict, list)) for value in variables.values()):
            raise TemplateError(f"{where}.Environment.Variables: every value must be a string")
        return FunctionSpec(
            logical_id=logical_id,
            function_name=self.physical(logical_id).ref,
            handler=handler,
            handler_file=_module_file(code_dir, handler.rsplit(".", 1)[0], f"{where}.Handler"),
            code_dir=code_dir,
            layer_dirs=tuple(layer_dirs),
            environment={name: _text(value) for name, value in variables.items()},
            timeout_seconds=int(props.get("Timeout", DEFAULT_TIMEOUT_SECONDS)),
            memory_mb=int(props.get("MemorySize", DEFAULT_MEMORY_MB)),
            http_routes=routes,
            sqs_sources=sources,
            layer_arns=tuple(layer_arns),
            architectures=tuple(props.get("Architectures", ["x86_64"])),
        )

    def _local_dir(self, code: Mapping[str, Any], where: str) -> Path:
        if code.get("S3Bucket") != LOCAL_CODE_BUCKET or set(code) != {"S3Bucket", "S3Key"}:
            raise TemplateError(f"{where}: only a local directory (CodeUri/ContentUri) runs offline")
        directory = (self.base_dir / str(code["S3Key"])).resolve()
        if not directory.is_dir():
            raise TemplateError(f"{where}: {directory} is not a directory")
        return directory

    def _layer_dirs(self) -> dict[str, Path]:
        """The template's own layers by their ARN (the Python layer's ContentUri is importable)."""
        return {
            self.physical(logical_id).ref: self._local_dir(
                self.properties(logical_id, LOCAL_PROPERTIES["AWS::Lambda::LayerVersion"])["Content"],
                f"Resources.{logical_id}.Content",
            )
            for logical_id in self.of_type("AWS::Lambda::LayerVersion")
        }

    def _routes(self) -> dict[str, tuple[HttpRoute, ...]]:
        """Routes by function, from each HTTP API's OpenAPI body as SAM wrote it."""
        by_arn = {self.physical(fid).attributes["Arn"]: fid for fid in self.of_type("AWS::Lambda::Function")}
        routes: dict[str, list[HttpRoute]] = {}
        for api_id in self.of_type("AWS::ApiGatewayV2::Api"):
            where = f"Resources.{api_id}.Body"
            body = self.properties(api_id, LOCAL_PROPERTIES["AWS::ApiGatewayV2::Api"]).get("Body")
            if not isinstance(body, dict) or set(body) - {"openapi", "info", "paths", "tags"}:
                raise TemplateError(f"{where}: only paths with Lambda integrations are served offline")
            for path, methods in body["paths"].items():
                for method, operation in methods.items():
                    integration = operation.get("x-amazon-apigateway-integration", {})
                    target = _INVOKE_ARN.fullmatch(str(integration.get("uri", "")))
                    extra = set(operation) - {"x-amazon-apigateway-integration", "responses", "parameters"}
                    if extra or integration.get("type") != "aws_proxy" or not target:
                        raise TemplateError(f"{where}.paths.{path}.{method}: not a plain Lambda proxy route")
                    name = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                    route = HttpRoute(
                        self.physical(api_id).ref, name, path, str(integration["payloadFormatVersion"])
                    )
                    if target.group(1) not in by_arn:
                        raise TemplateError(
                            f"{where}.paths.{path}.{method}: {target.group(1)} is no function"
                        )
                    routes.setdefault(by_arn[target.group(1)], []).append(route)
        return {function: tuple(items) for function, items in routes.items()}

    def _sqs_sources(self) -> dict[str, tuple[SqsSource, ...]]:
        by_name = {
            key: fid
            for fid in self.of_type("AWS::Lambda::Function")
            for key in (self.physical(fid).ref, self.physical(fid).attributes["Arn"])
        }  # FunctionName takes a name or an ARN
        sources: dict[str, list[SqsSource]] = {}
        for mapping_id in self.of_type("AWS::Lambda::EventSourceMapping"):
            props = self.properties(mapping_id, LOCAL_PROPERTIES["AWS::Lambda::EventSourceMapping"])
            function = by_name[props["FunctionName"]]
            if ":sqs:" not in props["EventSourceArn"]:
                raise TemplateError(f"Resources.{mapping_id}.EventSourceArn: only SQS sources run offline")
            sources.setdefault(function, []).append(
                SqsSource(
                    name=mapping_id.removeprefix(function) or mapping_id,
                    queue_arn=props["EventSourceArn"],
                    batch_size=int(props.get("BatchSize", DEFAULT_SQS_BATCH_SIZE)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in props.get("FunctionResponseTypes", []),
                    enabled=_text(props.get("Enabled", True)).lower() == "true",
                    maximum_concurrency=props.get("ScalingConfig", {}).get("MaximumConcurrency"),
                )
            )
        return {function: tuple(items) for function, items in sources.items()}


_INVOKE_ARN = re.compile(r"arn:[\w-]+:apigateway:[\w-]+:lambda:path/2015-03-31/functions/(.+)/invocations")


def _parameter_values(declared: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, str | None]:
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"parameter overrides for undeclared parameters: {', '.join(unknown)}")
    values: dict[str, str | None] = {}
    for name, spec in declared.items():
        if spec.get("Type", "String") not in ("String", "Number"):
            raise TemplateError(f"Parameters.{name}.Type: only String and Number parameters run offline")
        value = overrides.get(name, spec.get("Default"))
        allowed = [str(item) for item in spec.get("AllowedValues", [])]
        if value is not None and allowed and str(value) not in allowed:
            raise TemplateError(f"parameter {name}={value!r} is not one of {', '.join(allowed)}")
        values[name] = None if value is None else str(value)
    return values


def _module_file(code_dir: Path, module: str, where: str) -> Path:
    relative = Path(*module.split("."))
    for candidate in (code_dir / relative.with_suffix(".py"), code_dir / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    raise TemplateError(f"{where}: no module {module} under {code_dir}")


def _text(value: Any) -> str:
    """A value as Lambda's environment holds it (CloudFormation writes booleans lower-case)."""
    return ("true" if value else "false") if isinstance(value, bool) else str(value)
