"""template.yaml: the breached-password half (issue 4) is wired, encrypted, alarmed and least-privilege,
and agrees with the code that reads it (env names, metric names, attribute names, timeouts)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ropguard.security_events import (
    FALLBACK_METRIC,
    LOST_METRIC,
    PASSWORD_BREACHED,
    TYPE_ATTRIBUTE,
    PublishPolicy,
)
from ropguard.settings import ResetSettings, SecurityEventSettings
from ropguard_offline.template import FunctionSpec, load_yaml, translate
from tests.offline.conftest import read, spec_of

ROOT = Path(__file__).resolve().parents[2]
KEY = {"Ref": "SecurityEventsKey"}
KEY_ARN = {"Fn::GetAtt": ["SecurityEventsKey", "Arn"]}
DOMAIN = {"Auth0Domain": "tenant.example.auth0.com"}


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """The SAM translation (functions are AWS::Lambda::Function with Globals merged in)."""
    return translate(load_yaml(ROOT / "template.yaml"), DOMAIN, "us-east-1")


@pytest.fixture(scope="module")
def resources(template: dict[str, Any]) -> Any:
    return template["Resources"]


def function(overrides: dict[str, str], logical_id: str) -> FunctionSpec:
    """The function as moto resolved the template with these overrides."""
    return spec_of(read(ROOT / "template.yaml", **DOMAIN, **overrides), logical_id)


def props(resources: Any, logical_id: str) -> dict[str, Any]:
    return dict(resources[logical_id]["Properties"])


def statements(policy_documents: Iterator[dict[str, Any]]) -> list[dict[str, Any]]:
    return [statement for document in policy_documents for statement in document["Statement"]]


def test_topic_and_queues_are_encrypted_with_the_stack_key(resources: Any) -> None:
    assert resources["SecurityEventsKey"]["Type"] == "AWS::KMS::Key"
    assert props(resources, "SecurityEventsKey")["EnableKeyRotation"] is True
    assert props(resources, "SecurityEventsTopic")["KmsMasterKeyId"] == KEY
    for queue in ("PasswordResetQueue", "PasswordResetDeadLetterQueue"):
        assert props(resources, queue)["KmsMasterKeyId"] == KEY
    table = props(resources, "IdempotencyTable")
    assert table["SSESpecification"] == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": KEY}


def test_key_policy_trusts_only_the_account_and_sns_from_it(resources: Any) -> None:
    policy = props(resources, "SecurityEventsKey")["KeyPolicy"]["Statement"]
    principals = [statement["Principal"] for statement in policy]
    assert {"Service": "sns.amazonaws.com"} in principals
    for statement in policy:
        assert statement["Principal"] != "*"
        if statement["Principal"] == {"Service": "sns.amazonaws.com"}:
            topic = (
                "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:${AWS::StackName}-security-events"
            )
            assert statement["Condition"] == {
                "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
                "ArnEquals": {"aws:SourceArn": {"Fn::Sub": topic}},
            }
            assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey"]


def test_subscription_is_raw_and_filters_on_the_event_type(resources: Any) -> None:
    subscription = props(resources, "PasswordResetSubscription")
    assert subscription["TopicArn"] == {"Ref": "SecurityEventsTopic"}
    assert subscription["Protocol"] == "sqs"
    assert subscription["Endpoint"] == {"Fn::GetAtt": ["PasswordResetQueue", "Arn"]}
    assert subscription["RawMessageDelivery"] is True
    assert subscription["FilterPolicyScope"] == "MessageAttributes"
    assert subscription["FilterPolicy"] == {TYPE_ATTRIBUTE: [PASSWORD_BREACHED]}


def test_only_the_topic_may_send_to_the_queue(resources: Any) -> None:
    policy = props(resources, "PasswordResetQueuePolicy")
    assert policy["Queues"] == [{"Ref": "PasswordResetQueue"}]
    [statement] = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "SecurityEventsTopic"}}}


def test_visibility_timeout_is_six_times_the_function_timeout(resources: Any) -> None:
    timeout = props(resources, "PasswordResetFunction")["Timeout"]
    assert props(resources, "PasswordResetQueue")["VisibilityTimeout"] >= 6 * timeout


def test_a_full_batch_fits_in_the_function_timeout(resources: Any) -> None:
    function = props(resources, "PasswordResetFunction")
    variables = function["Environment"]["Variables"]  # Globals merged in
    per_call = float(variables["AUTH0_CONNECT_TIMEOUT_SECONDS"]) + float(
        variables["AUTH0_READ_TIMEOUT_SECONDS"]
    )
    batch = props(resources, "PasswordResetFunctionBreachedPasswords")["BatchSize"]
    assert batch * per_call < function["Timeout"]


def test_dead_letter_queue_and_the_function_agree_on_max_receives(resources: Any) -> None:
    redrive = props(resources, "PasswordResetQueue")["RedrivePolicy"]
    assert redrive["deadLetterTargetArn"] == {"Fn::GetAtt": ["PasswordResetDeadLetterQueue", "Arn"]}
    assert redrive["maxReceiveCount"] == {"Ref": "PasswordResetMaxReceiveCount"}
    variables = props(resources, "PasswordResetFunction")["Environment"]["Variables"]
    assert variables["PASSWORD_RESET_MAX_RECEIVE_COUNT"] == {"Ref": "PasswordResetMaxReceiveCount"}
    assert variables["PASSWORD_RESET_DLQ_URL"] == {"Ref": "PasswordResetDeadLetterQueue"}
    queue_retention = props(resources, "PasswordResetQueue")["MessageRetentionPeriod"]
    assert props(resources, "PasswordResetDeadLetterQueue")["MessageRetentionPeriod"] > queue_retention


def test_reset_function_consumes_its_queue_with_partial_batch_failures(resources: Any) -> None:
    function = props(resources, "PasswordResetFunction")
    assert function["Code"]["S3Key"] == "functions/password_reset/"
    assert function["Handler"] == "app.lambda_handler"
    assert (ROOT / "functions/password_reset/app.py").is_file()
    mapping = props(resources, "PasswordResetFunctionBreachedPasswords")
    assert mapping["FunctionName"] == {"Ref": "PasswordResetFunction"}
    assert mapping["EventSourceArn"] == {"Fn::GetAtt": ["PasswordResetQueue", "Arn"]}
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_idempotency_table_matches_the_powertools_persistence_layer(resources: Any) -> None:
    table = props(resources, "IdempotencyTable")
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    # DynamoDBPersistenceLayer's defaults: key_attr="id", expiry_attr="expiration".
    assert table["KeySchema"] == [{"AttributeName": "id", "KeyType": "HASH"}]
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiration", "Enabled": True}
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_environments_satisfy_the_settings_the_code_reads() -> None:
    reset = ResetSettings.from_env(function({}, "PasswordResetFunction").environment)
    assert reset.connection == "Username-Password-Authentication"
    assert reset.window_seconds == 3600
    assert reset.max_receive_count == 5
    created = read(ROOT / "template.yaml", **DOMAIN)
    events = SecurityEventSettings.from_env(spec_of(created, "LoginFunction").environment)
    assert events.topic_arn == created.physical("SecurityEventsTopic")
    assert events.fallback_queue_url == created.physical("PasswordResetQueue")


def test_reset_connection_is_the_realm_when_one_is_set() -> None:
    env = function({"Auth0Realm": "customers"}, "PasswordResetFunction").environment
    assert env["AUTH0_CONNECTION"] == "customers"


def test_login_may_only_publish_to_the_topic_and_send_to_the_fallback(resources: Any) -> None:
    login = props(resources, "LoginFunction")
    role = props(resources, "LoginFunctionRole")
    granted = {
        (action, json.dumps(statement["Resource"], sort_keys=True))
        for statement in statements(policy["PolicyDocument"] for policy in role["Policies"])
        for action in ([statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"])
    }
    assert ("sns:Publish", json.dumps({"Ref": "SecurityEventsTopic"})) in granted
    assert ("sqs:SendMessage", json.dumps({"Fn::GetAtt": ["PasswordResetQueue", "Arn"]})) in granted
    assert ("kms:GenerateDataKey", json.dumps(KEY_ARN, sort_keys=True)) in granted
    assert not any(
        action.startswith(("sns:", "sqs:")) and action not in ("sns:Publish", "sqs:SendMessage")
        for action, _ in granted
    )
    variables = login["Environment"]["Variables"]
    assert variables["SECURITY_EVENTS_TOPIC_ARN"] == {"Ref": "SecurityEventsTopic"}
    assert variables["PASSWORD_RESET_QUEUE_URL"] == {"Ref": "PasswordResetQueue"}


def test_reset_role_is_scoped_to_its_own_resources(resources: Any) -> None:
    function = props(resources, "PasswordResetFunction")
    assert function["Role"] == {"Fn::GetAtt": ["PasswordResetFunctionRole", "Arn"]}
    role = props(resources, "PasswordResetFunctionRole")
    granted = statements(policy["PolicyDocument"] for policy in role["Policies"])
    for statement in granted:
        assert statement["Resource"] != "*", statement["Sid"]
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        assert not any(action.endswith("*") for action in actions), statement["Sid"]
    by_sid = {statement["Sid"]: statement for statement in granted}
    assert by_sid["ConsumeResetQueue"]["Resource"] == {"Fn::GetAtt": ["PasswordResetQueue", "Arn"]}
    assert by_sid["DeadLetterPermanentFailures"]["Resource"] == {
        "Fn::GetAtt": ["PasswordResetDeadLetterQueue", "Arn"]
    }
    assert by_sid["IdempotencyRecords"]["Resource"] == {"Fn::GetAtt": ["IdempotencyTable", "Arn"]}
    assert by_sid["UseSecurityEventsKey"]["Resource"] == KEY_ARN
    assert by_sid["WriteOwnLogs"]["Resource"] == {"Fn::GetAtt": ["PasswordResetFunctionLogGroup", "Arn"]}
    assert function["LoggingConfig"] == {"LogGroup": {"Ref": "PasswordResetFunctionLogGroup"}}


def test_alarms_watch_the_dlq_and_the_metrics_the_code_emits(resources: Any) -> None:
    dlq_alarm = props(resources, "PasswordResetDeadLetterAlarm")
    assert (dlq_alarm["Namespace"], dlq_alarm["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert dlq_alarm["Dimensions"] == [
        {"Name": "QueueName", "Value": {"Fn::GetAtt": ["PasswordResetDeadLetterQueue", "QueueName"]}}
    ]
    login_variables = props(resources, "LoginFunction")["Environment"]["Variables"]  # Globals merged in
    namespace = login_variables["POWERTOOLS_METRICS_NAMESPACE"]
    service = login_variables["POWERTOOLS_SERVICE_NAME"]
    for alarm_id, metric in (
        ("SecurityEventFallbackAlarm", FALLBACK_METRIC),
        ("SecurityEventLostAlarm", LOST_METRIC),
    ):
        alarm = props(resources, alarm_id)
        assert (alarm["Namespace"], alarm["MetricName"]) == (namespace, metric)
        # Powertools adds the service name as a dimension; an alarm without it would never fire.
        assert alarm["Dimensions"] == [{"Name": "service", "Value": service}]
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (0, "GreaterThanThreshold")


def test_outputs_name_the_event_resources(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    assert outputs["SecurityEventsTopicArn"]["Value"] == {"Ref": "SecurityEventsTopic"}
    assert outputs["PasswordResetQueueUrl"]["Value"] == {"Ref": "PasswordResetQueue"}
    assert outputs["PasswordResetDeadLetterQueueUrl"]["Value"] == {"Ref": "PasswordResetDeadLetterQueue"}
    assert outputs["IdempotencyTableName"]["Value"] == {"Ref": "IdempotencyTable"}


def test_publish_budget_fits_far_inside_the_login_timeout(resources: Any) -> None:
    policy = PublishPolicy()
    worst = policy.sns_budget_seconds + policy.fallback_attempts * policy.call_seconds
    assert worst < props(resources, "LoginFunction")["Timeout"] / 2
