"""The template's resources are created in moto's real server with the template's settings."""

from __future__ import annotations

import json

import pytest

from local.aws_resources import AwsEndpoint, create_resources
from local.intrinsics import Resolver
from local.template import Template

from .conftest import FIXTURE_PARAMETERS

pytestmark = pytest.mark.integration

SECRET_VALUE = json.dumps({"client_id": "local-client", "client_secret": "local-secret-value-1234"})


@pytest.fixture
def created(aws: str, fixture_template: Template, secret_registry) -> tuple[Resolver, AwsEndpoint]:
    secret_registry.add("client_secret", "local-secret-value-1234")
    resolver = Resolver(fixture_template.document, FIXTURE_PARAMETERS)
    endpoint = AwsEndpoint(aws, "us-east-1")
    create_resources(fixture_template, resolver, endpoint, {"ClientSecret": SECRET_VALUE})
    return resolver, endpoint


def test_queues_get_the_templates_names_and_settings(created: tuple[Resolver, AwsEndpoint]) -> None:
    resolver, aws = created
    sqs = aws.client("sqs")
    jobs = resolver.physical("JobsQueue")
    dlq = resolver.physical("JobsDeadLetterQueue")
    assert jobs.attributes["QueueName"] == "ropguard-local-JobsQueue"
    assert dlq.attributes["QueueName"] == "ropguard-local-jobs-dlq"
    attributes = sqs.get_queue_attributes(QueueUrl=jobs.ref, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == "1"
    assert attributes["QueueArn"] == jobs.attributes["Arn"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": dlq.attributes["Arn"],
        "maxReceiveCount": 2,
    }
    dlq_attributes = sqs.get_queue_attributes(QueueUrl=dlq.ref, AttributeNames=["MessageRetentionPeriod"])
    assert dlq_attributes["Attributes"]["MessageRetentionPeriod"] == "1209600"


def test_subscription_is_raw_and_filtered(created: tuple[Resolver, AwsEndpoint]) -> None:
    resolver, aws = created
    sns, sqs = aws.client("sns"), aws.client("sqs")
    attributes = sns.get_subscription_attributes(SubscriptionArn=resolver.physical("JobsSubscription").ref)[
        "Attributes"
    ]
    assert attributes["RawMessageDelivery"] == "true"
    assert json.loads(attributes["FilterPolicy"]) == {"type": ["job.requested"]}
    topic = resolver.physical("EventsTopic").ref
    for kind in ("job.requested", "something.else"):
        sns.publish(
            TopicArn=topic,
            Message=json.dumps({"kind": kind}),
            MessageAttributes={"type": {"DataType": "String", "StringValue": kind}},
        )
    messages = sqs.receive_message(QueueUrl=resolver.physical("JobsQueue").ref, MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert [json.loads(message["Body"]) for message in messages] == [{"kind": "job.requested"}]


def test_table_has_its_key_and_ttl(created: tuple[Resolver, AwsEndpoint]) -> None:
    resolver, aws = created
    dynamodb = aws.client("dynamodb")
    name = resolver.physical("ProcessedTable").ref
    assert name == "ropguard-local-ProcessedTable"
    table = dynamodb.describe_table(TableName=name)["Table"]
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    ttl = dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")


def test_secret_holds_the_local_value(created: tuple[Resolver, AwsEndpoint]) -> None:
    resolver, aws = created
    arn = resolver.physical("ClientSecret").ref
    assert ":secret:ropguard-local/client-" in arn
    assert aws.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"] == SECRET_VALUE


def test_conditional_resources_are_not_created(created: tuple[Resolver, AwsEndpoint]) -> None:
    resolver, aws = created
    assert not resolver.is_bound("NeverCreatedSecret")
    names = [secret["Name"] for secret in aws.client("secretsmanager").list_secrets()["SecretList"]]
    assert names == ["ropguard-local/client"]


def test_other_resources_get_stand_ins(created: tuple[Resolver, AwsEndpoint]) -> None:
    resolver, _ = created
    assert resolver.physical("EchoFunction").ref == "ropguard-local-EchoFunction"
    assert len(resolver.physical("EchoApi").ref) == 10
    assert resolver.physical("ServerlessHttpApi").ref != resolver.physical("EchoApi").ref


def test_a_generated_secret_follows_its_template(aws: str, fixture_template: Template) -> None:
    resolver = Resolver(fixture_template.document, FIXTURE_PARAMETERS)
    endpoint = AwsEndpoint(aws, "us-east-1")
    create_resources(fixture_template, resolver, endpoint)
    value = endpoint.client("secretsmanager").get_secret_value(SecretId=resolver.physical("ClientSecret").ref)
    generated = json.loads(value["SecretString"])
    assert generated["client_id"] == "placeholder"
    assert generated["client_secret"]
