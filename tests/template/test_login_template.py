"""template.yaml: the login function, its API, secret and IAM are as the design says."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ropguard_offline.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return load_yaml(ROOT / "template.yaml")


@pytest.fixture(scope="module")
def resources(template) -> dict[str, Any]:
    found: dict[str, Any] = template["Resources"]
    return found


@pytest.fixture(scope="module")
def login(resources) -> dict[str, Any]:
    function = resources["LoginFunction"]
    assert function["Type"] == "AWS::Serverless::Function"
    properties: dict[str, Any] = function["Properties"]
    return properties


SECRET_ARN = {
    "Fn::If": ["CreateAuth0Secret", {"Ref": "Auth0ClientSecret"}, {"Ref": "ExistingAuth0SecretArn"}]
}


def test_runtime_handler_and_layer(template, resources, login) -> None:
    function_globals = template["Globals"]["Function"]
    assert function_globals["Runtime"] == "python3.13"
    assert login["CodeUri"] == "functions/login/"
    assert login["Handler"] == "app.lambda_handler"
    assert (ROOT / "functions/login/app.py").is_file()
    assert {"Ref": "RopguardLayer"} in function_globals["Layers"] + login.get("Layers", [])
    layer = resources["RopguardLayer"]
    assert layer["Type"] == "AWS::Serverless::LayerVersion"
    assert layer["Properties"]["ContentUri"] == "layers/ropguard/"
    # layers/ropguard/Makefile: the python3.13 builder's arm64 wheels plus our bytecode (issue 10).
    assert layer["Metadata"]["BuildMethod"] == "makefile"
    assert layer["Metadata"]["BuildArchitecture"] == "arm64"
    makefile = (ROOT / "layers/ropguard/Makefile").read_text()
    assert "build-RopguardLayer:" in makefile
    assert "--platform manylinux2014_aarch64" in makefile
    assert "--python-version 3.13" in makefile
    assert "compileall -q --invalidation-mode unchecked-hash" in makefile
    assert (ROOT / "layers/ropguard/requirements.txt").is_file()
    # Tracing is a parameter (issue 10), off by default: see test_cold_start_template.py.
    assert function_globals["Tracing"] == {"Fn::If": ["TracingOn", "Active", "PassThrough"]}


def test_environment_names_every_setting(template, login) -> None:
    variables = {
        **template["Globals"]["Function"]["Environment"]["Variables"],
        **login["Environment"]["Variables"],
    }
    for name in (
        "AUTH0_DOMAIN",
        "AUTH0_SECRET_ID",
        "AUTH0_AUDIENCE",
        "AUTH0_REALM",
        "AUTH0_SCOPES",
        "AUTH0_CONNECT_TIMEOUT_SECONDS",
        "AUTH0_READ_TIMEOUT_SECONDS",
        "AUTH0_INSECURE_HTTP_HOSTS",
        "SECRET_MAX_AGE_SECONDS",
        "MAX_BODY_BYTES",
        "POWERTOOLS_SERVICE_NAME",
        "POWERTOOLS_METRICS_NAMESPACE",
        "POWERTOOLS_LOG_LEVEL",
    ):
        assert name in variables, name
    assert variables["AUTH0_SECRET_ID"] == SECRET_ARN
    assert variables["AUTH0_INSECURE_HTTP_HOSTS"] == ""


def test_post_login_route_on_the_http_api(resources, login) -> None:
    events = [event for event in login["Events"].values() if event["Type"] == "HttpApi"]
    assert len(events) == 1
    route = events[0]["Properties"]
    assert (route["Method"], route["Path"], route["ApiId"]) == ("POST", "/login", {"Ref": "LoginApi"})
    assert route["PayloadFormatVersion"] == "2.0"
    assert resources["LoginApi"]["Type"] == "AWS::Serverless::HttpApi"


def test_http_api_is_throttled_and_access_logged(resources) -> None:
    api = resources["LoginApi"]["Properties"]
    assert api["DefaultRouteSettings"]["ThrottlingBurstLimit"]
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"]
    destination = api["AccessLogSettings"]["DestinationArn"]
    assert destination == {"Fn::GetAtt": ["LoginApiAccessLogGroup", "Arn"]}
    assert "$context.requestId" in api["AccessLogSettings"]["Format"]
    assert "body" not in api["AccessLogSettings"]["Format"].lower()
    log_group = resources["LoginApiAccessLogGroup"]
    assert log_group["Type"] == "AWS::Logs::LogGroup"
    assert log_group["Properties"]["RetentionInDays"]


def test_secret_is_created_or_passed_in(template, resources) -> None:
    assert template["Parameters"]["ExistingAuth0SecretArn"]["Default"] == ""
    assert template["Conditions"]["CreateAuth0Secret"] == {
        "Fn::Equals": [{"Ref": "ExistingAuth0SecretArn"}, ""]
    }
    secret = resources["Auth0ClientSecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Condition"] == "CreateAuth0Secret"


def test_login_iam_reads_exactly_that_one_secret(resources, login) -> None:
    assert login["Role"] == {"Fn::GetAtt": ["LoginFunctionRole", "Arn"]}
    assert "Policies" not in login, "SAM policies would come with a generated role"
    role = resources["LoginFunctionRole"]["Properties"]
    statements = [s for policy in role["Policies"] for s in policy["PolicyDocument"]["Statement"]]
    secret_reads = [s for s in statements if "secretsmanager" in str(s["Action"])]
    assert secret_reads == [
        {
            "Sid": "ReadAuth0ClientSecret",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": SECRET_ARN,
        }
    ]
    assert role["ManagedPolicyArns"] == {
        "Fn::If": [
            "TracingOn",
            [{"Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/AWSXrayWriteOnlyAccess"}],
            {"Ref": "AWS::NoValue"},
        ]
    }, "no broad managed policy beyond X-Ray's (no resource-level permissions), and that only when tracing"


def policy_statements(resources: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every identity and resource policy statement (KMS key policies excepted: there "*" is the key)."""
    for name, resource in resources.items():
        props = resource.get("Properties", {})
        kind = resource["Type"]
        if kind == "AWS::Serverless::Function":
            for policy in props.get("Policies", []):
                if isinstance(policy, dict) and "Statement" in policy:
                    yield from ((name, s) for s in policy["Statement"])
        elif kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield from ((name, s) for s in policy["PolicyDocument"]["Statement"])
        elif kind in (
            "AWS::IAM::Policy",
            "AWS::IAM::ManagedPolicy",
            "AWS::SQS::QueuePolicy",
            "AWS::SNS::TopicPolicy",
        ):
            yield from ((name, s) for s in props["PolicyDocument"]["Statement"])


def test_no_wildcard_resources(resources) -> None:
    checked = 0
    for name, statement in policy_statements(resources):
        targets = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for target in targets:
            checked += 1
            assert not (isinstance(target, str) and target.endswith("*")), f"{name}: {statement.get('Sid')}"
    assert checked


def test_outputs(template) -> None:
    outputs = template["Outputs"]
    # The API's own URL in request-context mode (the CloudFront branch: test_cloudfront_template.py).
    condition, _, direct = outputs["LoginUrl"]["Value"]["Fn::If"]
    assert condition == "UseCloudFront"
    # Without a custom domain (with one: test_floods_template.py).
    domain, _, direct = direct["Fn::If"]
    assert domain == "HasApiDomain"
    assert "${LoginApi}" in direct["Fn::Sub"]
    assert direct["Fn::Sub"].endswith("/login")
    assert outputs["Auth0SecretArn"]["Value"] == SECRET_ARN


def test_function_log_group_has_retention(resources) -> None:
    group = resources["LoginFunctionLogGroup"]["Properties"]
    assert resources["LoginFunction"]["Properties"]["LoggingConfig"] == {
        "LogGroup": {"Ref": "LoginFunctionLogGroup"}
    }
    assert group["RetentionInDays"]
