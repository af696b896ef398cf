"""template.yaml through aws-sam-translator's public API (parameter overrides applied), as
``sam deploy`` would, and the shapes the offline stack runs from the result.

This module does not interpret CloudFormation: ``ropguard_offline.aws_resources`` hands the translated
document to moto's CloudFormation and reads every value back from moto.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import yaml
from samtranslator.public.exceptions import InvalidDocumentException  # type: ignore[import-untyped]
from samtranslator.public.parser import Parser  # type: ignore[import-untyped]
from samtranslator.public.translator import Translator  # type: ignore[import-untyped]
from samtranslator.yaml_helper import intrinsics_multi_constructor  # type: ignore[import-untyped]

from ropguard_offline import language_extensions

#: Local CodeUri/ContentUri become s3://<this bucket>/<path> for the translator (as `sam validate`
#: does); a function's code is then the directory named by the key. Other buckets cannot run here.
LOCAL_CODE_BUCKET = "ropguard-local-code"
STACK_NAME = "ropguard-local"
ACCOUNT_ID = "123456789012"  # moto's default account
EXTENSION_LAYER = "AWS-Parameters-and-Secrets-Lambda-Extension"  # served by the stack (issue 10)


def is_extension_layer(arn: str) -> bool:
    """Whether a layer ARN is AWS's Parameters and Secrets extension (its name in every region)."""
    return f":layer:{EXTENSION_LAYER}" in arn  # -Arm64 for arm64


class TemplateError(ValueError):
    """template.yaml asks for something the offline stack cannot give; the message says what."""


class _Loader(yaml.SafeLoader):
    """YAML with CloudFormation's short-form tags (!Ref, !GetAtt, !Sub...) in long form."""


_Loader.add_multi_constructor("!", intrinsics_multi_constructor)


def load_yaml(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506
    return document


def translate(
    document: dict[str, Any], parameter_values: Mapping[str, str], region: str, stack_name: str = STACK_NAME
) -> dict[str, Any]:
    """The SAM template as CloudFormation, through the translator's public API (no AWS calls:
    managed policy names come from the translator's own bundled list; defaults fill the rest).
    ``AWS::LanguageExtensions`` is applied first, as CloudFormation does (``language_extensions``)."""
    try:
        document = language_extensions.resolve(
            document, _known_values(document, parameter_values, region, stack_name)
        )
    except language_extensions.LanguageExtensionError as exc:
        raise TemplateError(str(exc)) from None
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


def _known_values(
    document: Mapping[str, Any], given: Mapping[str, str], region: str, stack_name: str
) -> dict[str, str]:
    """Every parameter's value (given, else its default) and the pseudo parameters'."""
    defaults = {
        name: str(declared["Default"])
        for name, declared in document.get("Parameters", {}).items()
        if "Default" in declared
    }
    pseudo = {
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::URLSuffix": "amazonaws.com",
    }
    return defaults | dict(given) | pseudo


def parameter_values(
    declared: Mapping[str, Any], overrides: Mapping[str, str], local_values: Mapping[str, str]
) -> dict[str, str]:
    """The values given for declared parameters (moto fills in defaults and checks none is missing,
    but neither refuses an undeclared name nor checks AllowedValues). AllowedPattern is not checked
    here: the offline stack and its tests give Auth0Domain the emulator's plain-http URL, which the
    template's pattern (a host and a port, as CloudFormation will require) refuses."""
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        raise TemplateError(f"parameter overrides for undeclared parameters: {', '.join(unknown)}")
    values = {name: value for name, value in local_values.items() if name in declared} | dict(overrides)
    for name, value in values.items():
        allowed = [str(item) for item in declared[name].get("AllowedValues", [])]
        if allowed and value not in allowed:
            raise TemplateError(f"parameter {name}={value!r} is not one of {', '.join(allowed)}")
    return values


@dataclass(frozen=True)
class CorsConfig:
    """An HTTP API's ``CorsConfiguration`` (``x-amazon-apigateway-cors``): API Gateway answers
    preflights itself and puts these on the answers to requests that carry an ``Origin``."""

    allow_origins: tuple[str, ...]  # exact origins, or "*"
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class HttpRoute:
    """One route of an HTTP API that invokes a function with payload format 2.0 events."""

    api_id: str  # the API's id (its !Ref)
    method: str  # upper case
    path: str  # "/login" or "/users/{id}"
    cors: CorsConfig | None = None  # its API's

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsSource:
    """One SQS event source mapping (``name``: the SAM event's name)."""

    name: str
    queue_arn: str
    batch_size: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class FunctionSpec:
    """What the local runtime needs to run one function as Lambda would."""

    logical_id: str
    function_name: str
    handler: str
    runtime: str  # python3.13: what Lambda names in AWS_EXECUTION_ENV (workers run the host's Python)
    handler_file: Path
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: Mapping[str, str]
    timeout_seconds: int
    memory_mb: int
    http_routes: tuple[HttpRoute, ...]
    sqs_sources: tuple[SqsSource, ...]
    secrets_extension: bool = False  # attaches the Parameters and Secrets extension (the stack serves it)
