"""template.yaml: the cold-start options (issue 10): secrets extension layer, tracing, SnapStart."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml  # type: ignore[import-untyped]

from tests.template.sam_translation import translated_template

ROOT = Path(__file__).resolve().parents[2]
EXTENSION_ARN = re.compile(
    r"^arn:aws:lambda:(?P<region>[a-z0-9-]+):\d{12}:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:\d+$"
)
NO_VALUE = {"Ref": "AWS::NoValue"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.load(str(ROOT / "template.yaml"))
    return loaded


@pytest.fixture(scope="module")
def function_globals(template: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = template["Globals"]["Function"]
    return found


def test_parameters_default_to_the_fast_cold_start(template: dict[str, Any]) -> None:
    parameters = template["Parameters"]
    assert parameters["Tracing"]["Default"] == "Disabled"
    assert parameters["Tracing"]["AllowedValues"] == ["Active", "Disabled"]
    assert parameters["SnapStart"]["Default"] == "None"
    assert parameters["SnapStart"]["AllowedValues"] == ["None", "PublishedVersions"]
    assert parameters["SecretsExtensionLayerArn"]["Default"] == ""
    assert parameters["SecretMaxAgeSeconds"]["Default"] == 300


def test_the_extension_and_snapstart_are_never_combined(template: dict[str, Any]) -> None:
    conditions = template["Conditions"]
    assert conditions["SnapStartOn"] == {"Fn::Equals": [{"Ref": "SnapStart"}, "PublishedVersions"]}
    assert conditions["UseSecretsExtension"] == {
        "Fn::And": [
            {"Fn::Not": [{"Condition": "SnapStartOn"}]},
            {
                "Fn::Or": [
                    {"Condition": "HasSecretsExtensionLayerArn"},
                    {"Condition": "HasMappedSecretsExtensionLayer"},
                ]
            },
        ]
    }


def test_every_function_gets_the_extension_layer_for_its_region_or_the_override(
    function_globals: dict[str, Any],
) -> None:
    assert function_globals["Architectures"] == ["arm64"]  # the map holds the arm64 layers
    assert {"Ref": "RopguardLayer"} in function_globals["Layers"]
    assert {
        "Fn::If": [
            "UseSecretsExtension",
            {
                "Fn::If": [
                    "HasSecretsExtensionLayerArn",
                    {"Ref": "SecretsExtensionLayerArn"},
                    {
                        "Fn::FindInMap": [
                            "SecretsExtensionLayers",
                            {"Ref": "AWS::Region"},
                            "arm64",
                            {"DefaultValue": "none"},
                        ]
                    },
                ]
            },
            NO_VALUE,
        ]
    } in function_globals["Layers"]


def test_the_layer_map_holds_aws_published_arm64_arns_of_their_own_region(template: dict[str, Any]) -> None:
    layers = template["Mappings"]["SecretsExtensionLayers"]
    assert "us-east-1" in layers
    for region, by_architecture in layers.items():
        match = EXTENSION_ARN.match(by_architecture["arm64"])
        assert match, (region, by_architecture)
        assert match["region"] == region


def test_extension_variables_only_with_the_extension_and_ttls_aligned(
    function_globals: dict[str, Any],
) -> None:
    variables = function_globals["Environment"]["Variables"]
    assert variables["SECRET_MAX_AGE_SECONDS"] == {"Ref": "SecretMaxAgeSeconds"}
    assert variables["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] == {
        "Fn::If": ["UseSecretsExtension", "2773", NO_VALUE]
    }
    for ttl in ("SECRETS_MANAGER_TTL",):
        assert variables[ttl] == {"Fn::If": ["UseSecretsExtension", {"Ref": "SecretMaxAgeSeconds"}, NO_VALUE]}


def test_tracing_parameter_drives_lambda_and_powertools(function_globals: dict[str, Any]) -> None:
    assert function_globals["Tracing"] == {"Fn::If": ["TracingOn", "Active", "PassThrough"]}
    assert function_globals["Environment"]["Variables"]["POWERTOOLS_TRACE_DISABLED"] == {
        "Fn::If": ["TracingOn", "false", "true"]
    }


def test_login_function_can_use_snapstart_through_an_alias(template: dict[str, Any]) -> None:
    login = template["Resources"]["LoginFunction"]["Properties"]
    assert login["SnapStart"] == {"ApplyOn": {"Ref": "SnapStart"}}
    assert login["AutoPublishAlias"] == "live"


def test_the_http_api_invokes_the_published_alias() -> None:
    resources = translated_template()["Resources"]
    assert resources["LoginFunctionAliaslive"]["Type"] == "AWS::Lambda::Alias"
    permission = resources["LoginFunctionLoginPermission"]["Properties"]
    assert permission["FunctionName"] == {"Ref": "LoginFunctionAliaslive"}
