"""ropguard_offline.aws_resources: the translated template created by moto's CloudFormation and read back,
in an in-process moto (reading) and in moto's real server (what the stack creates)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from moto.cloudformation.parsing import get_model_map

from ropguard_offline.aws_resources import (
    EXPLICIT,
    HONOURED,
    AwsEndpoint,
    OfflineResources,
    create_resources,
    read_template,
)
from ropguard_offline.template import CorsConfig, TemplateError

from .conftest import FIXTURE_PARAMETERS, FIXTURE_TEMPLATE, read, spec_of

ROOT = Path(__file__).resolve().parents[2]
#: Properties naming a resource account- or region-wide.
PHYSICAL_NAMES = frozenset(
    {"Name", "LayerName", "TopicName", "QueueName", "TableName", "AliasName", "DashboardName"}
)
SECRET_VALUE = json.dumps({"client_id": "local-client", "client_secret": "local-secret-value-1234"})


def test_what_moto_creates_has_a_model_in_its_cloudformation_and_the_explicit_ones_have_none() -> None:
    models = get_model_map()
    assert {kind for kind in HONOURED if kind not in EXPLICIT} <= set(models)
    # moto 5.2.5 has a layer model, but its Ref answers the model object, not the ARN
    assert not {kind for kind in EXPLICIT if kind != "AWS::Lambda::LayerVersion"} & set(models)


def test_functions_are_read_back_from_moto(fixture_template: OfflineResources) -> None:
    functions = {spec.logical_id: spec for spec in fixture_template.functions}
    assert set(functions) == {"EchoFunction", "ShapesFunction", "WorkerFunction", "RuntimeFunction"}
    echo = functions["EchoFunction"]
    app_dir = FIXTURE_TEMPLATE.parent
    assert echo.function_name == fixture_template.physical("EchoFunction")
    assert echo.handler_file == app_dir / "functions" / "echo" / "app.py"
    assert (echo.handler, echo.code_dir) == ("app.lambda_handler", app_dir / "functions" / "echo")
    assert echo.layer_dirs == (app_dir / "layer",)
    assert (echo.timeout_seconds, echo.memory_mb) == (7, 256)  # MemorySize through !FindInMap
    assert (functions["WorkerFunction"].timeout_seconds, functions["WorkerFunction"].memory_mb) == (5, 128)
    assert echo.environment["SHARED_GREETING"] == "hello"  # Globals, merged by the translator
    assert echo.environment["DOMAIN"] == "example.test"
    assert echo.environment["SECRET_ID"] == fixture_template.physical("ClientSecret")  # !If, explicit
    assert echo.environment["TOPIC_ARN"] == fixture_template.physical("EventsTopic")
    api = fixture_template.physical("EchoApi")
    assert echo.environment["API_URL"] == f"https://{api}.execute-api.us-east-1.amazonaws.com"  # !Sub


def test_a_variable_set_on_one_function_is_in_that_functions_spec_only() -> None:
    functions = {spec.logical_id: spec for spec in read(ROOT / "template.yaml", Auth0Domain="x").functions}
    assert functions["LoginFunction"].environment["POWERTOOLS_SERVICE_NAME"] == "ropguard-login"
    assert (
        functions["PasswordResetFunction"].environment["POWERTOOLS_SERVICE_NAME"] == "ropguard-password-reset"
    )
    assert "PASSWORD_RESET_QUEUE_URL" in functions["LoginFunction"].environment
    assert "PASSWORD_RESET_QUEUE_URL" not in functions["PasswordResetFunction"].environment
    assert "IDEMPOTENCY_TABLE_NAME" not in functions["LoginFunction"].environment


def test_routes_come_from_each_apis_openapi_body(fixture_template: OfflineResources) -> None:
    echo = spec_of(fixture_template, "EchoFunction")
    api = fixture_template.physical("EchoApi")
    assert {(r.route_key, r.api_id) for r in echo.http_routes} == {
        ("POST /echo", api),
        ("GET /items/{id}", api),
        ("PUT /files/{name}", api),
    }
    (shapes,) = spec_of(fixture_template, "ShapesFunction").http_routes
    assert (shapes.route_key, shapes.api_id) == (
        "GET /shapes/{shape}",
        fixture_template.physical("ServerlessHttpApi"),
    )


def test_sqs_sources_come_from_the_event_source_mappings(fixture_template: OfflineResources) -> None:
    (source,) = spec_of(fixture_template, "WorkerFunction").sqs_sources
    assert (source.name, source.queue_arn.rsplit(":", 1)[1]) == (
        "Jobs",
        fixture_template.physical("JobsQueue").rsplit("/", 1)[1],
    )
    assert (source.batch_size, source.report_batch_item_failures) == (5, True)


def test_parameter_overrides_reach_values_and_conditions() -> None:
    assert read(FIXTURE_TEMPLATE, **FIXTURE_PARAMETERS).of_type("AWS::SecretsManager::Secret") == [
        "ClientSecret"
    ]
    given = read(FIXTURE_TEMPLATE, **FIXTURE_PARAMETERS, ExistingSecretArn="arn:given", Greeting="hi")
    assert given.of_type("AWS::SecretsManager::Secret") == ["NeverCreatedSecret"]
    echo = spec_of(given, "EchoFunction")
    assert (echo.environment["SECRET_ID"], echo.environment["SHARED_GREETING"]) == ("arn:given", "hi")
    with pytest.raises(TemplateError, match="ClientSecret does not exist offline"):
        given.physical("ClientSecret")


def test_a_parameter_without_a_value_is_named() -> None:
    with pytest.raises(TemplateError, match="RequiredDomain"):
        read(FIXTURE_TEMPLATE)


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
            r"Resources.Fn.Environment.A: .* \$\{...\}",
        ),
        (
            "      Environment: {Variables: {A: !Cidr [10.0.0.0/16, 1, 8]}}\n",
            "Fn::Cidr is not supported offline",
        ),
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
            "      Environment: {Variables: {D: !Ref Board}}\n"
            "  Board:\n    Type: AWS::CloudWatch::Dashboard\n    Properties: {DashboardBody: '{}'}\n",
            r"Resources.Fn.Environment.D: Board \(AWS::CloudWatch::Dashboard\) does not exist offline",
        ),
        (
            "  Thing:\n    Type: AWS::EC2::VPC\n    Properties: {CidrBlock: 10.0.0.0/16}\n",
            "Resources.Thing: AWS::EC2::VPC is not supported",
        ),
        (
            "  Q:\n    Type: AWS::SQS::Queue\n    Properties: {FifoQueue: true}\n",
            "Resources.Q.FifoQueue: AWS::SQS::Queue property",
        ),
        *(
            (
                f"      Events: {{Jobs: {{Type: SQS, Properties: {{Queue: !GetAtt Q.Arn, {extra}}}}}}}\n"
                "  Q:\n    Type: AWS::SQS::Queue\n",
                message,
            )
            for extra, message in [
                ("BatchSize: 20", "Resources.FnJobs.BatchSize: at most 10 offline"),
                ("Enabled: false", "Resources.FnJobs.Enabled: AWS::Lambda::EventSourceMapping property"),
            ]
        ),
        *(
            (
                f"      Events: {{Api: {{Type: HttpApi, Properties: {{{route}}}}}}}\n",
                re.escape(f"Resources.ServerlessHttpApi.Body.paths.{path}.{method}: only a method, a path"),
            )
            for route, path, method in [
                ("Path: '/f/{p+}', Method: get", "/f/{p+}", "get"),
                ("Path: /f, Method: any", "/f", "x-amazon-apigateway-any-method"),
                ("Path: /f, Method: get, PayloadFormatVersion: '1.0'", "/f", "get"),
            ]
        ),
        (
            "      Events: {Api: {Type: HttpApi, Properties: {Path: /x, Method: post, ApiId: !Ref Api}}}\n"
            "  Api:\n    Type: AWS::Serverless::HttpApi\n"
            "    Properties: {CorsConfiguration: {AllowOrigins: ['https://*.example.com']}}\n",
            re.escape("x-amazon-apigateway-cors.allowOrigins: 'https://*.example.com': only exact origins"),
        ),
        (
            "      Events:\n        A: {Type: HttpApi, Properties: {Path: /x, Method: post}}\n"
            "        B: {Type: HttpApi, Properties: {Path: /x, Method: post, ApiId: !Ref Other}}\n"
            "  Other:\n    Type: AWS::Serverless::HttpApi\n",
            r"Resources.(Other|ServerlessHttpApi).Body: POST /x is also a route of (Other|ServerlessHttpApi)",
        ),
    ],
)
def test_what_cannot_run_offline_is_an_error_naming_it(tmp_path: Path, extra: str, message: str) -> None:
    source = FUNCTION.replace("      Handler: app.handler\n", "") if "Handler:" in extra else FUNCTION
    with pytest.raises(TemplateError, match=message):
        read(write(tmp_path, source + extra))


def test_the_extension_layer_is_recognised_by_its_arn(tmp_path: Path) -> None:
    arn = "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:12"
    (spec,) = read(write(tmp_path, FUNCTION + f"      Layers: [{arn}]\n")).functions
    assert (spec.secrets_extension, spec.layer_dirs) == (True, ())


def test_an_alias_is_its_function_offline(tmp_path: Path) -> None:
    """SAM's AutoPublishAlias (which SnapStart needs) adds a version and an alias, and points the
    route and the event source mapping at the alias: offline they reach the function itself."""
    events = (
        "      AutoPublishAlias: live\n      SnapStart: {ApplyOn: PublishedVersions}\n"
        "      Events:\n"
        "        Api: {Type: HttpApi, Properties: {Path: /x, Method: post}}\n"
        "        Jobs: {Type: SQS, Properties: {Queue: !GetAtt Q.Arn}}\n"
        "  Q:\n    Type: AWS::SQS::Queue\n"
    )
    created = read(write(tmp_path, FUNCTION + events))
    assert "AWS::Lambda::Alias" not in created.types.values()
    (spec,) = created.functions
    assert [route.route_key for route in spec.http_routes] == ["POST /x"]
    (source,) = spec.sqs_sources
    assert source.queue_arn.endswith(created.physical("Q").rsplit("/", 1)[1])


# -- in moto's real server ----------------------------------------------------------------------


@pytest.fixture
def created(aws: str, secret_registry) -> tuple[OfflineResources, AwsEndpoint]:
    secret_registry.add("client_secret", "local-secret-value-1234")
    endpoint = AwsEndpoint(aws, "us-east-1")
    resources = create_resources(
        FIXTURE_TEMPLATE, endpoint, FIXTURE_PARAMETERS, lambda _: {"ClientSecret": SECRET_VALUE}
    )
    return resources, endpoint


@pytest.mark.integration
def test_moto_creates_the_stack_and_runs_nothing(created: tuple[OfflineResources, AwsEndpoint]) -> None:
    resources, aws = created
    (mapping,) = aws.client("lambda").list_event_source_mappings()["EventSourceMappings"]
    assert mapping["State"] == "Disabled"  # moto never runs a function in Docker
    topic = aws.client("sns").get_topic_attributes(TopicArn=resources.physical("EventsTopic"))["Attributes"]
    assert topic["KmsMasterKeyId"] == resources.physical("EventsKey")
    key = aws.client("kms").describe_key(KeyId=resources.physical("EventsKey"))["KeyMetadata"]
    assert key["Description"] == "fixture key"


@pytest.mark.integration
def test_queues_have_the_templates_settings(created: tuple[OfflineResources, AwsEndpoint]) -> None:
    resources, aws = created
    sqs = aws.client("sqs")
    jobs, dlq = resources.physical("JobsQueue"), resources.physical("JobsDeadLetterQueue")
    assert dlq.endswith("/ropguard-local-jobs-dlq")
    attributes = sqs.get_queue_attributes(QueueUrl=jobs, AttributeNames=["All"])["Attributes"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert attributes["VisibilityTimeout"] == "1"
    assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    [statement] = json.loads(attributes["Policy"])["Statement"]  # the QueuePolicy, set explicitly
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": resources.physical("EventsTopic")}}


@pytest.mark.integration
def test_the_subscription_is_raw_and_filtered(created: tuple[OfflineResources, AwsEndpoint]) -> None:
    resources, aws = created
    sns, sqs = aws.client("sns"), aws.client("sqs")
    attributes = sns.get_subscription_attributes(SubscriptionArn=resources.physical("JobsSubscription"))
    assert attributes["Attributes"]["RawMessageDelivery"] == "true"
    for kind in ("job.requested", "something.else"):
        sns.publish(
            TopicArn=resources.physical("EventsTopic"),
            Message=json.dumps({"kind": kind}),
            MessageAttributes={"type": {"DataType": "String", "StringValue": kind}},
        )
    messages = sqs.receive_message(QueueUrl=resources.physical("JobsQueue"), MaxNumberOfMessages=10)
    assert [json.loads(message["Body"]) for message in messages["Messages"]] == [{"kind": "job.requested"}]


@pytest.mark.integration
def test_the_table_has_its_key_and_ttl(created: tuple[OfflineResources, AwsEndpoint]) -> None:
    resources, aws = created
    name = resources.physical("ProcessedTable")
    ttl = aws.client("dynamodb").describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


@pytest.mark.integration
def test_the_secret_holds_the_given_value(created: tuple[OfflineResources, AwsEndpoint]) -> None:
    resources, aws = created
    secrets = aws.client("secretsmanager")
    assert (
        secrets.get_secret_value(SecretId=resources.physical("ClientSecret"))["SecretString"] == SECRET_VALUE
    )
    [secret] = secrets.list_secrets()["SecretList"]
    assert (secret["Name"], secret["KmsKeyId"]) == ("ropguard-local/client", resources.physical("EventsKey"))


@pytest.mark.integration
def test_a_generated_secret_follows_its_template(aws: str) -> None:
    endpoint = AwsEndpoint(aws, "us-east-1")
    resources = create_resources(FIXTURE_TEMPLATE, endpoint, FIXTURE_PARAMETERS)
    value = endpoint.client("secretsmanager").get_secret_value(SecretId=resources.physical("ClientSecret"))
    generated = json.loads(value["SecretString"])
    assert (generated["client_id"], bool(generated["client_secret"])) == ("placeholder", True)


@pytest.mark.parametrize(
    ("snap_start", "extension"),
    [
        (
            "None",
            (
                "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:4",
            ),
        ),
        ("PublishedVersions", ()),  # !If [..., !Ref AWS::NoValue] in a list: moto leaves a null there
    ],
)
def test_dropped_properties_come_back_resolved_inside_to_json_string(
    snap_start: str, extension: tuple[str]
) -> None:
    """Layers: !If, !FindInMap and AWS::NoValue resolved by moto inside Fn::ToJsonString."""
    login = spec_of(read(ROOT / "template.yaml", Auth0Domain="x", SnapStart=snap_start), "LoginFunction")
    assert (login.layer_dirs, login.secrets_extension) == ((ROOT / "layers" / "ropguard",), bool(extension))
    assert ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT" in login.environment) is bool(extension)


def test_an_apis_cors_configuration_reaches_its_routes(tmp_path: Path) -> None:
    cors = (
        "{AllowOrigins: [https://a.example, https://b.example], AllowMethods: [POST], "
        "AllowHeaders: [content-type], ExposeHeaders: [x-id], MaxAge: 60, AllowCredentials: true}"
    )
    template = FUNCTION + (
        "      Events: {Api: {Type: HttpApi, Properties: {Path: /x, Method: post, ApiId: !Ref Api}}}\n"
        f"  Api:\n    Type: AWS::Serverless::HttpApi\n    Properties: {{CorsConfiguration: {cors}}}\n"
    )
    ((route,),) = (spec.http_routes for spec in read(write(tmp_path, template)).functions)
    assert route.cors == CorsConfig(
        ("https://a.example", "https://b.example"), ("POST",), ("content-type",), ("x-id",), 60, True
    )


def test_the_templates_allowed_origins_turn_cors_on_for_every_route() -> None:
    """make run PARAMS="AllowedOrigins=..." (off by default: AWS::NoValue)."""
    origins = "https://app.example.com,https://admin.example.com"
    on = read(ROOT / "template.yaml", Auth0Domain="x", AllowedOrigins=origins).functions
    assert {route.cors for spec in on for route in spec.http_routes} == {
        CorsConfig(tuple(origins.split(",")), ("GET", "POST"), ("authorization", "content-type"), max_age=600)
    }
    off = read(ROOT / "template.yaml", Auth0Domain="x").functions
    assert {route.cors for spec in off for route in spec.http_routes} == {None}


def test_two_stacks_of_the_template_live_side_by_side() -> None:
    """No physical name is fixed by the template: a second stack in the same account and region
    creates everything the first one has, under names of its own."""
    from moto import mock_aws  # noqa: PLC0415

    overrides = {
        "Auth0Domain": "tenant.example.auth0.com",
        "TenantManagementSecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:doctor-AbCdEf",
        "ClientAddressSource": "cloudfront",
    }
    with mock_aws():
        aws = AwsEndpoint("", "us-east-1")
        first = create_resources(ROOT / "template.yaml", aws, overrides, stack_name="ropguard-blue")
        second = create_resources(ROOT / "template.yaml", aws, overrides, stack_name="ropguard-green")
    assert set(first.ids) == set(second.ids)
    shared = {lid: pid for lid, pid in first.ids.items() if second.ids[lid] == pid}
    assert not shared
    # what is not created offline (the schedule, CloudFront's policies, the layer's name) as resolved
    names = {lid: _names(props) for lid, props in first.properties.items()}
    assert _schedule(first) in names
    same = {lid: found for lid, found in names.items() if found & _names(second.properties[lid])}
    assert not same
    assert "ropguard-green" in second.physical("SecurityEventsTopic")


def test_a_region_missing_from_the_extension_map_runs_without_the_extension() -> None:
    """AWS::LanguageExtensions' DefaultValue, applied before moto (which cannot read it)."""
    region = "mx-central-1"
    created = read_template(
        ROOT / "template.yaml", {"Auth0Domain": "tenant.example.auth0.com"}, region=region
    )
    login = spec_of(created, "LoginFunction")
    assert not login.secrets_extension
    assert "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT" not in login.environment
    assert f":{region}:" in created.physical("SecurityEventsTopic")
    assert spec_of(read(ROOT / "template.yaml", Auth0Domain="x"), "LoginFunction").secrets_extension


def _names(properties: object) -> set[str]:
    """Every physical name in a resource's properties (in nested objects, not lists)."""
    if not isinstance(properties, dict):
        return set()
    found = {value for key, value in properties.items() if key in PHYSICAL_NAMES and isinstance(value, str)}
    for value in properties.values():
        found |= _names(value)
    return found


def _schedule(created: OfflineResources) -> str:
    (schedule,) = created.of_type("AWS::Scheduler::Schedule")
    return schedule
