"""local.template: template.yaml through the SAM translator, and the reader of its output."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.aws_resources import bind_stand_ins, check_types
from local.template import RUN_AS_LATEST, StackTemplate, TemplateError

from .conftest import FIXTURE_PARAMETERS, FIXTURE_TEMPLATE, spec_of

ROOT = Path(__file__).resolve().parents[2]


def read(path: Path, overrides: dict[str, str] | None = None) -> StackTemplate:
    template = StackTemplate(path, overrides)
    bind_stand_ins(template)
    return template


def test_functions_come_from_the_translation(fixture_template: StackTemplate) -> None:
    functions = {spec.logical_id: spec for spec in fixture_template.functions()}
    assert set(functions) == {"EchoFunction", "ShapesFunction", "WorkerFunction", "RuntimeFunction"}
    echo = functions["EchoFunction"]
    app_dir = FIXTURE_TEMPLATE.parent
    assert echo.handler_file == app_dir / "functions" / "echo" / "app.py"
    assert (echo.handler_name, echo.code_dir) == ("lambda_handler", app_dir / "functions" / "echo")
    assert echo.layer_dirs == (app_dir / "layer",)
    assert (echo.timeout_seconds, echo.memory_mb) == (7, 256)  # MemorySize through !FindInMap
    assert (functions["WorkerFunction"].timeout_seconds, functions["WorkerFunction"].memory_mb) == (5, 128)
    assert echo.environment["SHARED_GREETING"] == "hello"  # Globals, merged by the translator
    assert echo.environment["DOMAIN"] == "example.test"
    assert echo.environment["SECRET_ID"] == fixture_template.physical("ClientSecret").ref  # !If
    api = fixture_template.physical("EchoApi").ref
    assert echo.environment["API_URL"] == f"https://{api}.execute-api.us-east-1.amazonaws.com"  # !Sub


def test_a_variable_set_on_one_function_is_in_that_functions_spec_only() -> None:
    functions = {
        spec.logical_id: spec for spec in read(ROOT / "template.yaml", {"Auth0Domain": "x"}).functions()
    }
    assert functions["LoginFunction"].environment["POWERTOOLS_SERVICE_NAME"] == "ropguard-login"
    assert (
        functions["PasswordResetFunction"].environment["POWERTOOLS_SERVICE_NAME"] == "ropguard-password-reset"
    )
    assert "PASSWORD_RESET_QUEUE_URL" in functions["LoginFunction"].environment
    assert "PASSWORD_RESET_QUEUE_URL" not in functions["PasswordResetFunction"].environment
    assert "IDEMPOTENCY_TABLE_NAME" not in functions["LoginFunction"].environment


def test_routes_come_from_each_apis_openapi_body(fixture_template: StackTemplate) -> None:
    echo = spec_of(fixture_template, "EchoFunction")
    api = fixture_template.physical("EchoApi").ref
    assert {(r.route_key, r.api_id, r.payload_format_version) for r in echo.http_routes} == {
        ("POST /echo", api, "2.0"),
        ("GET /items/{id}", api, "2.0"),
        ("ANY /files/{proxy+}", api, "2.0"),
    }
    (shapes,) = spec_of(fixture_template, "ShapesFunction").http_routes
    assert (shapes.route_key, shapes.api_id) == (
        "GET /shapes/{shape}",
        fixture_template.physical("ServerlessHttpApi").ref,
    )


def test_sqs_sources_come_from_the_event_source_mappings(fixture_template: StackTemplate) -> None:
    (source,) = spec_of(fixture_template, "WorkerFunction").sqs_sources
    assert source.name == "Jobs"
    assert source.queue_arn == fixture_template.physical("JobsQueue").attributes["Arn"]
    assert (source.batch_size, source.report_batch_item_failures, source.enabled) == (5, True, True)


def test_parameter_overrides_reach_values_and_conditions() -> None:
    default = read(FIXTURE_TEMPLATE, FIXTURE_PARAMETERS)
    assert default.of_type("AWS::SecretsManager::Secret") == ["ClientSecret"]
    given = read(FIXTURE_TEMPLATE, {**FIXTURE_PARAMETERS, "ExistingSecretArn": "arn:given", "Greeting": "hi"})
    assert given.of_type("AWS::SecretsManager::Secret") == ["NeverCreatedSecret"]
    echo = spec_of(given, "EchoFunction")
    assert (echo.environment["SECRET_ID"], echo.environment["SHARED_GREETING"]) == ("arn:given", "hi")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"Nope": "x"}, "undeclared parameters: Nope"),
        ({"LogRetentionDays": "2"}, "LogRetentionDays='2' is not one of"),
    ],
)
def test_bad_parameter_overrides_are_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        StackTemplate(ROOT / "template.yaml", {"Auth0Domain": "x", **overrides})


def test_a_parameter_without_a_value_is_named_when_used() -> None:
    with pytest.raises(TemplateError, match="parameter RequiredDomain has no Default"):
        read(FIXTURE_TEMPLATE).functions()


def write(tmp_path: Path, resources: str) -> Path:
    (tmp_path / "fn").mkdir()
    (tmp_path / "fn" / "app.py").write_text("def handler(event, context):\n    return event\n")
    path = tmp_path / "template.yaml"
    path.write_text("Transform: AWS::Serverless-2016-10-31\nResources:\n" + resources)
    return path


FUNCTION = (
    "  Fn:\n    Type: AWS::Serverless::Function\n"
    "    Properties:\n      CodeUri: fn/\n      Runtime: python3.13\n      Handler: app.handler\n"
)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "      Environment: {Variables: {A: 'plain ${NotSub}'}}\n",
            r"Resources.Fn.Environment.Variables.A: .* \$\{...\}",
        ),
        ("      Environment: {Variables: {A: !Select [0, [a]]}}\n", "Fn::Select is not supported offline"),
        (
            "      ReservedConcurrentExecutions: 1\n",
            "Resources.Fn.ReservedConcurrentExecutions: AWS::Lambda::Function",
        ),
        (
            "      Layers: [arn:aws:lambda:us-east-1:1:layer:other:1]\n",
            "Resources.Fn.Layers: layer arn:aws:lambda:",
        ),
        ("      Handler: missing.handler\n", "no module missing"),
        (
            "      Environment: {Variables: {R: !GetAtt Role.Arn}}\n"
            "  Role:\n    Type: AWS::IAM::Role\n    Properties: {AssumeRolePolicyDocument: {}}\n",
            r"Resources.Fn.Environment.Variables.R: Role \(AWS::IAM::Role\) does not exist offline",
        ),
    ],
)
def test_what_cannot_run_offline_is_an_error_naming_it(tmp_path: Path, extra: str, message: str) -> None:
    source = FUNCTION.replace("      Handler: app.handler\n", "") if "Handler:" in extra else FUNCTION
    template = read(write(tmp_path, source + extra))
    with pytest.raises(TemplateError, match=message):
        template.functions()


def test_the_extension_layer_is_passed_on_by_arn(tmp_path: Path) -> None:
    arn = "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:12"
    (spec,) = read(write(tmp_path, FUNCTION + f"      Layers: [{arn}]\n")).functions()
    assert (spec.layer_arns, spec.layer_dirs) == ((arn,), ())


def test_versions_and_aliases_have_no_offline_meaning_functions_run_latest(tmp_path: Path) -> None:
    """SAM's AutoPublishAlias (which SnapStart needs) adds a version and an alias, and points the
    route and the event source mapping at the alias: offline they reach the function itself."""
    events = (
        "      AutoPublishAlias: live\n      SnapStart: {ApplyOn: PublishedVersions}\n"
        "      Events:\n"
        "        Api: {Type: HttpApi, Properties: {Path: /x, Method: post}}\n"
        "        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}\n"
        "  Q:\n    Type: AWS::SQS::Queue\n"
    )
    template = read(write(tmp_path, FUNCTION + events))
    check_types(template)  # skipped by name, nothing created
    assert {template.resources[name]["Type"] for name in template.of_type(*RUN_AS_LATEST)} == set(
        RUN_AS_LATEST
    )
    (spec,) = template.functions()
    assert [route.route_key for route in spec.http_routes] == ["POST /x"]
    (source,) = spec.sqs_sources
    assert source.queue_arn == template.physical("Q").attributes["Arn"]
    # A reference to the alias (or version) is the function itself offline: its ARN, unqualified.
    assert template.physical("FnAliaslive").ref.endswith(":function:ropguard-local-Fn")


def test_a_translator_error_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="Fn"):
        StackTemplate(write(tmp_path, FUNCTION + "      Events: {E: {Type: Nonsense}}\n"))
