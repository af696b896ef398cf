"""template.yaml is read as SAM reads it: short-form tags, Globals, conditions, typed views."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.aws_resources import bind_stand_ins
from local.intrinsics import Resolver, TemplateError
from local.template import (
    FUNCTION,
    SECRET,
    Template,
    merge_globals,
    read_function,
    read_functions,
    read_queue,
    read_secret,
    read_subscription,
    read_table,
    read_topic,
)

from .conftest import FIXTURE_TEMPLATE


def test_short_form_tags_become_long_form(fixture_template: Template) -> None:
    queue = fixture_template.resources["JobsQueue"]["Properties"]
    assert queue["RedrivePolicy"]["deadLetterTargetArn"] == {"Fn::GetAtt": ["JobsDeadLetterQueue", "Arn"]}
    assert fixture_template.resources["ClientSecret"]["Condition"] == "CreateSecret"
    assert "Globals" not in fixture_template.document


def test_globals_merge_like_sam() -> None:
    document = {
        "Globals": {
            "Function": {"Timeout": 5, "Layers": ["L1"], "Environment": {"Variables": {"A": "g", "B": "g"}}}
        },
        "Resources": {
            "Fn": {
                "Type": FUNCTION,
                "Properties": {"Timeout": 9, "Layers": ["L2"], "Environment": {"Variables": {"B": "own"}}},
            },
            "Other": {"Type": "AWS::SQS::Queue", "Properties": {"VisibilityTimeout": 1}},
        },
    }
    merged = merge_globals(document)["Resources"]
    assert merged["Fn"]["Properties"] == {
        "Timeout": 9,
        "Layers": ["L1", "L2"],
        "Environment": {"Variables": {"A": "g", "B": "own"}},
    }
    assert merged["Other"]["Properties"] == {"VisibilityTimeout": 1}


def test_reads_functions_with_their_settings(fixture_template: Template, stand_in_resolver: Resolver) -> None:
    functions = {spec.logical_id: spec for spec in read_functions(fixture_template, stand_in_resolver)}
    assert set(functions) == {"EchoFunction", "ShapesFunction", "WorkerFunction", "RuntimeFunction"}
    echo = functions["EchoFunction"]
    app_dir = FIXTURE_TEMPLATE.parent
    assert echo.handler_file == app_dir / "functions" / "echo" / "app.py"
    assert echo.handler_name == "lambda_handler"
    assert echo.layer_dirs == (app_dir / "layer",)
    assert (echo.timeout_seconds, echo.memory_mb) == (7, 256)
    assert functions["WorkerFunction"].timeout_seconds == 5  # from Globals
    assert functions["WorkerFunction"].memory_mb == 128
    assert echo.environment["SERVICE_NAME"] == "echo"
    assert echo.environment["SHARED_GREETING"] == "hello"
    assert echo.environment["DOMAIN"] == "example.test"
    assert echo.environment["FIRST_ZONE"] == "a"
    assert echo.environment["ESCAPED"] == "${Literal}"
    assert echo.environment["SECRET_ID"] == stand_in_resolver.physical("ClientSecret").ref
    assert "TABLE_NAME" not in echo.environment


def test_reads_http_routes_with_their_api(fixture_template: Template, stand_in_resolver: Resolver) -> None:
    echo = read_function(fixture_template, stand_in_resolver, "EchoFunction")
    api_id = stand_in_resolver.physical("EchoApi").ref
    assert {(r.route_key, r.api_id, r.payload_format_version) for r in echo.http_routes} == {
        ("POST /echo", api_id, "2.0"),
        ("GET /items/{id}", api_id, "2.0"),
        ("ANY /files/{proxy+}", api_id, "2.0"),
    }
    shapes = read_function(fixture_template, stand_in_resolver, "ShapesFunction")
    assert [r.api_id for r in shapes.http_routes] == [stand_in_resolver.physical("ServerlessHttpApi").ref]


def test_reads_sqs_sources(fixture_template: Template, stand_in_resolver: Resolver) -> None:
    worker = read_function(fixture_template, stand_in_resolver, "WorkerFunction")
    (source,) = worker.sqs_sources
    assert source.name == "Jobs"
    assert source.queue_arn == stand_in_resolver.physical("JobsQueue").attributes["Arn"]
    assert (source.batch_size, source.report_batch_item_failures, source.enabled) == (5, True, True)


def test_reads_resources(fixture_template: Template, stand_in_resolver: Resolver) -> None:
    queue = read_queue(fixture_template, stand_in_resolver, "JobsQueue")
    assert queue.name is None
    assert queue.attributes["VisibilityTimeout"] == "1"
    assert queue.max_receive_count == 2
    assert queue.redrive_target_arn == stand_in_resolver.physical("JobsDeadLetterQueue").attributes["Arn"]
    assert (
        read_queue(fixture_template, stand_in_resolver, "JobsDeadLetterQueue").name
        == "ropguard-local-jobs-dlq"
    )

    topic = read_topic(fixture_template, stand_in_resolver, "EventsTopic")
    assert topic.name == "ropguard-local-events"
    assert topic.attributes == {"KmsMasterKeyId": stand_in_resolver.physical("EventsKey").ref}

    subscription = read_subscription(fixture_template, stand_in_resolver, "JobsSubscription")
    assert subscription.protocol == "sqs"
    assert subscription.raw_message_delivery
    assert subscription.filter_policy == {"type": ["job.requested"]}

    table = read_table(fixture_template, stand_in_resolver, "ProcessedTable")
    assert table.key_schema == ({"AttributeName": "id", "KeyType": "HASH"},)
    assert table.ttl_attribute == "expires_at"
    assert table.billing_mode == "PAY_PER_REQUEST"

    secret = read_secret(fixture_template, stand_in_resolver, "ClientSecret")
    assert secret.name == "ropguard-local/client"


def test_conditions_decide_which_resources_exist(fixture_template: Template) -> None:
    default = Resolver(fixture_template.document, {"RequiredDomain": "x"})
    assert list(fixture_template.of_type(SECRET, default)) == ["ClientSecret"]
    existing = Resolver(fixture_template.document, {"RequiredDomain": "x", "ExistingSecretArn": "arn:given"})
    assert list(fixture_template.of_type(SECRET, existing)) == ["NeverCreatedSecret"]


def test_a_missing_handler_module_is_reported(tmp_path: Path) -> None:
    (tmp_path / "fn").mkdir()
    (tmp_path / "template.yaml").write_text(
        "Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn/, Handler: missing.handler}\n"
    )
    template = Template.load(tmp_path / "template.yaml")
    resolver = Resolver(template.document)
    bind_stand_ins(template, resolver, exclude=set())
    with pytest.raises(TemplateError, match="no module missing"):
        read_functions(template, resolver)


def test_not_a_template_is_refused(tmp_path: Path) -> None:
    (tmp_path / "x.yaml").write_text("just: a mapping\n")
    with pytest.raises(TemplateError, match="no Resources"):
        Template.load(tmp_path / "x.yaml")
