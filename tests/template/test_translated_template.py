"""Least privilege and encryption, checked on the CloudFormation that SAM generates."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.template.sam_translation import translated_template

#: AWS managed policies a role may carry, and why each is acceptable.
ALLOWED_MANAGED_POLICIES = {
    # X-Ray's PutTraceSegments/PutTelemetryRecords have no resource-level permissions.
    "AWSXrayWriteOnlyAccess",
}


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    found: dict[str, Any] = translated_template()["Resources"]
    return found


def either_branch(value: Any) -> list[Any]:
    """A list, or both branches of an ``Fn::If`` choosing between lists (NoValue counts as none)."""
    if isinstance(value, dict) and "Fn::If" in value:
        return [item for branch in value["Fn::If"][1:] for item in either_branch(branch)]
    if isinstance(value, dict) and value.get("Ref") == "AWS::NoValue":
        return []
    return list(value)


def of_type(resources: dict[str, Any], kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for name, resource in resources.items():
        if resource["Type"] == kind:
            yield name, resource.get("Properties", {})


def test_every_function_has_its_own_scoped_role(resources) -> None:
    functions = dict(of_type(resources, "AWS::Lambda::Function"))
    assert set(functions) == {"LoginFunction", "PasswordResetFunction", "TenantCheckFunction"}
    for name, props in functions.items():
        assert props["Role"] == {"Fn::GetAtt": [f"{name}Role", "Arn"]}


def test_roles_carry_no_managed_policy_beyond_xray(resources) -> None:
    roles = dict(of_type(resources, "AWS::IAM::Role"))
    assert roles
    for name, props in roles.items():
        for arn in either_branch(props.get("ManagedPolicyArns", [])):
            policy = str(arn.get("Fn::Sub", arn) if isinstance(arn, dict) else arn).rsplit("/", 1)[-1]
            assert policy in ALLOWED_MANAGED_POLICIES, f"{name} attaches {arn}"


def test_no_identity_or_resource_policy_grants_a_wildcard_resource(resources) -> None:
    checked = 0
    for kind, document_path in (
        ("AWS::IAM::Role", ("Policies",)),
        ("AWS::SQS::QueuePolicy", ("PolicyDocument",)),
        ("AWS::SNS::TopicPolicy", ("PolicyDocument",)),
    ):
        for name, props in of_type(resources, kind):
            documents = (
                [policy["PolicyDocument"] for policy in props.get("Policies", [])]
                if document_path == ("Policies",)
                else [props["PolicyDocument"]]
            )
            for document in documents:
                for statement in document["Statement"]:
                    targets = statement["Resource"]
                    for target in targets if isinstance(targets, list) else [targets]:
                        checked += 1
                        assert not (isinstance(target, str) and "*" in target), f"{name}: {statement}"
    assert checked >= 10


def test_data_at_rest_is_encrypted(resources) -> None:
    for name, props in of_type(resources, "AWS::SQS::Queue"):
        assert props.get("KmsMasterKeyId") or props.get("SqsManagedSseEnabled"), name
    for name, props in of_type(resources, "AWS::SNS::Topic"):
        assert props.get("KmsMasterKeyId"), name
    for name, props in of_type(resources, "AWS::DynamoDB::Table"):
        assert props["SSESpecification"]["SSEEnabled"] is True, name
    keys = dict(of_type(resources, "AWS::KMS::Key"))
    assert keys
    assert all(props.get("EnableKeyRotation") is True for props in keys.values())
    # Secrets Manager always encrypts (AWS managed key unless a CMK is given).
    assert dict(of_type(resources, "AWS::SecretsManager::Secret"))


def test_api_stage_is_throttled_and_access_logged(resources) -> None:
    stages = dict(of_type(resources, "AWS::ApiGatewayV2::Stage"))
    assert len(stages) == 1
    (stage,) = stages.values()
    assert stage["DefaultRouteSettings"]["ThrottlingBurstLimit"]
    assert stage["DefaultRouteSettings"]["ThrottlingRateLimit"]
    assert stage["AccessLogSettings"]["DestinationArn"]
    assert "$context.identity.sourceIp" in stage["AccessLogSettings"]["Format"]


def test_only_api_gateway_may_invoke_login(resources) -> None:
    permissions = dict(of_type(resources, "AWS::Lambda::Permission"))
    assert permissions
    for name, props in permissions.items():
        assert props["Principal"] == "apigateway.amazonaws.com", name
        assert props["SourceArn"], name


def test_every_log_group_has_retention(resources) -> None:
    groups = dict(of_type(resources, "AWS::Logs::LogGroup"))
    assert len(groups) >= 3
    assert all(props.get("RetentionInDays") for props in groups.values())
