"""local.aws_resources: the translated template's resources in moto's real server, through its
CloudFormation where moto honours them and explicit calls where it does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from local.aws_resources import AwsEndpoint, check_types, create_resources
from local.template import StackTemplate, TemplateError

from .conftest import FIXTURE_PARAMETERS, FIXTURE_TEMPLATE

SECRET_VALUE = json.dumps({"client_id": "local-client", "client_secret": "local-secret-value-1234"})


@pytest.fixture
def created(aws: str, secret_registry) -> tuple[StackTemplate, AwsEndpoint]:
    secret_registry.add("client_secret", "local-secret-value-1234")
    template = StackTemplate(FIXTURE_TEMPLATE, FIXTURE_PARAMETERS)
    endpoint = AwsEndpoint(aws, "us-east-1")
    create_resources(template, endpoint, {"ClientSecret": SECRET_VALUE})
    return template, endpoint


@pytest.mark.integration
def test_moto_creates_what_it_honours_through_one_stack(created: tuple[StackTemplate, AwsEndpoint]) -> None:
    template, aws = created
    resources = aws.client("cloudformation").describe_stack_resources(StackName="ropguard-local")
    assert sorted(item["LogicalResourceId"] for item in resources["StackResources"]) == [
        "EventsKey",
        "EventsTopic",
        "JobsDeadLetterQueue",
        "JobsQueue",
        "ProcessedTable",
    ]
    assert aws.client("lambda").list_event_source_mappings()["EventSourceMappings"] == []  # no Docker runs
    topic = aws.client("sns").get_topic_attributes(TopicArn=template.physical("EventsTopic").ref)[
        "Attributes"
    ]
    assert topic["KmsMasterKeyId"] == template.physical("EventsKey").ref
    key = aws.client("kms").describe_key(KeyId=template.physical("EventsKey").ref)["KeyMetadata"]
    assert (key["Arn"], key["Description"]) == (
        template.physical("EventsKey").attributes["Arn"],
        "fixture key",
    )
    dlq = aws.client("sqs").get_queue_attributes(
        QueueUrl=template.physical("JobsDeadLetterQueue").ref, AttributeNames=["MessageRetentionPeriod"]
    )
    assert dlq["Attributes"]["MessageRetentionPeriod"] == "1209600"


@pytest.mark.integration
def test_queues_have_the_templates_settings(created: tuple[StackTemplate, AwsEndpoint]) -> None:
    template, aws = created
    sqs = aws.client("sqs")
    jobs, dlq = template.physical("JobsQueue"), template.physical("JobsDeadLetterQueue")
    assert dlq.attributes["QueueName"] == "ropguard-local-jobs-dlq"
    attributes = sqs.get_queue_attributes(QueueUrl=jobs.ref, AttributeNames=["All"])["Attributes"]
    assert (attributes["VisibilityTimeout"], attributes["QueueArn"]) == ("1", jobs.attributes["Arn"])
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq.attributes["Arn"],
        "maxReceiveCount": 2,
    }
    [statement] = json.loads(attributes["Policy"])["Statement"]  # the QueuePolicy, set explicitly
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": template.physical("EventsTopic").ref}}


@pytest.mark.integration
def test_the_subscription_is_raw_and_filtered(created: tuple[StackTemplate, AwsEndpoint]) -> None:
    template, aws = created
    sns, sqs = aws.client("sns"), aws.client("sqs")
    arn = template.physical("JobsSubscription").ref
    attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert (attributes["RawMessageDelivery"], attributes["FilterPolicyScope"]) == (
        "true",
        "MessageAttributes",
    )
    for kind in ("job.requested", "something.else"):
        sns.publish(
            TopicArn=template.physical("EventsTopic").ref,
            Message=json.dumps({"kind": kind}),
            MessageAttributes={"type": {"DataType": "String", "StringValue": kind}},
        )
    messages = sqs.receive_message(QueueUrl=template.physical("JobsQueue").ref, MaxNumberOfMessages=10)
    assert [json.loads(message["Body"]) for message in messages["Messages"]] == [{"kind": "job.requested"}]


@pytest.mark.integration
def test_the_table_has_its_key_and_ttl(created: tuple[StackTemplate, AwsEndpoint]) -> None:
    template, aws = created
    dynamodb = aws.client("dynamodb")
    name = template.physical("ProcessedTable").ref
    assert dynamodb.describe_table(TableName=name)["Table"]["KeySchema"] == [
        {"AttributeName": "id", "KeyType": "HASH"}
    ]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


@pytest.mark.integration
def test_the_secret_holds_the_given_value_and_conditions_hold(
    created: tuple[StackTemplate, AwsEndpoint],
) -> None:
    template, aws = created
    secrets = aws.client("secretsmanager")
    assert (
        secrets.get_secret_value(SecretId=template.physical("ClientSecret").ref)["SecretString"]
        == SECRET_VALUE
    )
    assert [secret["Name"] for secret in secrets.list_secrets()["SecretList"]] == ["ropguard-local/client"]
    with pytest.raises(TemplateError, match="NeverCreatedSecret"):
        template.physical("NeverCreatedSecret")


@pytest.mark.integration
def test_functions_see_the_physical_ids(created: tuple[StackTemplate, AwsEndpoint]) -> None:
    template, _ = created
    functions = {spec.logical_id: spec for spec in template.functions()}
    assert functions["EchoFunction"].environment["TOPIC_ARN"] == template.physical("EventsTopic").ref
    assert functions["EchoFunction"].environment["SECRET_ID"] == template.physical("ClientSecret").ref
    assert functions["WorkerFunction"].environment["TABLE_NAME"] == template.physical("ProcessedTable").ref
    (source,) = functions["WorkerFunction"].sqs_sources
    assert source.queue_arn == template.physical("JobsQueue").attributes["Arn"]


@pytest.mark.integration
def test_a_generated_secret_follows_its_template(aws: str) -> None:
    template = StackTemplate(FIXTURE_TEMPLATE, FIXTURE_PARAMETERS)
    endpoint = AwsEndpoint(aws, "us-east-1")
    create_resources(template, endpoint)
    value = endpoint.client("secretsmanager").get_secret_value(SecretId=template.physical("ClientSecret").ref)
    generated = json.loads(value["SecretString"])
    assert (generated["client_id"], bool(generated["client_secret"])) == ("placeholder", True)


def template_with(tmp_path: Path, resource: str) -> StackTemplate:
    path = tmp_path / "template.yaml"
    path.write_text("Resources:\n  Thing:\n" + resource)
    return StackTemplate(path)


def test_an_unsupported_type_is_an_error_naming_it(tmp_path: Path) -> None:
    template = template_with(tmp_path, "    Type: AWS::EC2::VPC\n    Properties: {CidrBlock: 10.0.0.0/16}\n")
    with pytest.raises(TemplateError, match=r"Resources.Thing: AWS::EC2::VPC is not supported offline"):
        check_types(template)


def test_an_unsupported_property_of_what_the_stack_runs_is_an_error_naming_it(tmp_path: Path) -> None:
    stage = "    Type: AWS::ApiGatewayV2::Stage\n    Properties: {ApiId: x, StageVariables: {a: b}}\n"
    with pytest.raises(TemplateError, match=r"Resources.Thing.StageVariables: AWS::ApiGatewayV2::Stage"):
        check_types(template_with(tmp_path, stage))


def test_types_without_offline_meaning_are_skipped_by_name(tmp_path: Path) -> None:
    check_types(template_with(tmp_path, "    Type: AWS::CloudFront::Distribution\n    Properties: {}\n"))


@pytest.mark.integration
def test_a_property_moto_does_not_honour_is_an_error_naming_it(aws: str, tmp_path: Path) -> None:
    template = template_with(tmp_path, "    Type: AWS::SQS::Queue\n    Properties: {FifoQueue: true}\n")
    with pytest.raises(TemplateError, match=r"Resources.Thing.FifoQueue: not honoured by moto offline"):
        create_resources(template, AwsEndpoint(aws, "us-east-1"))
