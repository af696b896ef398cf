"""template.yaml deploys as written: every deploy goes live, any region, any number of stacks, SNS
scoped to its topic with a dead-letter queue, customer managed keys of existing secrets usable.

Read through SAM's translator (``ropguard_offline.template.translate``, with ``AWS::LanguageExtensions``
applied first as CloudFormation applies it), so what is checked is what CloudFormation gets.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ropguard_offline.template import load_yaml, translate
from tests.template.sam_translation import ROOT, with_defaults

DOMAIN = "tenant.example.auth0.com"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
API_FUNCTIONS = ("LoginFunction", "SessionFunction")
#: A valid value other than the default, for each parameter a function's configuration reads.
OTHER_VALUES = {
    "Auth0Domain": "other-tenant.eu.auth0.com",
    "Auth0Audience": "https://api.example.com",
    "Auth0Realm": "Users",
    "Auth0Scopes": "openid",
    "Auth0ClientAuthMethod": "client_secret_basic",
    "ExistingAuth0SecretArn": "arn:aws:secretsmanager:us-east-1:123456789012:secret:auth0-AbCdEf",
    "SecretMaxAgeSeconds": "120",
    "SecretsExtensionLayerArn": (
        "arn:aws:lambda:us-east-1:177933569100:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:12"
    ),
    "Tracing": "Active",
    "SnapStart": "PublishedVersions",
    "ClientAddressSource": "cloudfront",
    "AllowedOrigins": "https://app.example.com",
    "TokenDelivery": "cookie",
    "RefreshTokenLifetimeSeconds": "86400",
    "ShedWindowSeconds": "30",
}
#: Parameters naming secrets the stack does not create.
EXISTING_SECRETS = ("ExistingAuth0SecretArn", "TenantManagementSecretArn", "ResetManagementSecretArn")
#: Properties that name a resource account- or region-wide (two stacks must not write the same).
NAME_KEYS = frozenset(
    [
        "Name",
        "FunctionName",
        "TopicName",
        "QueueName",
        "TableName",
        "AliasName",
        "DashboardName",
        "LogGroupName",
        "LayerName",
        "RoleName",
        "ManagedPolicyName",
        "AlarmName",
    ]
)
#: Names that are scoped by something of the stack's own (an alias by its function, an inline
#: policy by its role), or that refer to a resource rather than name one.
SCOPED_NAMES = {("AWS::Lambda::Alias", "Name"), ("AWS::IAM::Policy", "PolicyName")}


def translated(
    parameters: dict[str, str] | None = None, region: str = "us-east-1", path: Path = ROOT / "template.yaml"
) -> dict[str, Any]:
    document = with_defaults(load_yaml(path), {"Auth0Domain": DOMAIN} | (parameters or {}))
    return translate(document, {}, region)


def with_layer_content(uri: str) -> dict[str, Any]:
    document = with_defaults(load_yaml(ROOT / "template.yaml"), {"Auth0Domain": DOMAIN})
    document["Resources"]["RopguardLayer"]["Properties"]["ContentUri"] = uri
    return translate(document, {}, "us-east-1")


def invoked_versions(template: dict[str, Any]) -> dict[str, str]:
    """Function -> the version API Gateway's integration reaches (through its alias)."""
    resources = template["Resources"]
    body = json.dumps(resources["LoginApi"]["Properties"]["Body"])
    found = {}
    for function in API_FUNCTIONS:
        aliases = [
            name
            for name, resource in resources.items()
            if resource["Type"] == "AWS::Lambda::Alias"
            and resource["Properties"]["FunctionName"] == {"Ref": function}
            and f"${{{name}}}" in body
        ]
        assert len(aliases) == 1, f"the API does not invoke one alias of {function}"
        version = resources[aliases[0]]["Properties"]["FunctionVersion"]
        found[function] = version["Fn::GetAtt"][0]
    return found


def parameters_reaching(document: dict[str, Any], function: str) -> set[str]:
    """Parameters a function's configuration depends on: Refs in its properties and the Globals,
    directly or through the conditions they use."""
    declared = set(document["Parameters"])
    conditions = document.get("Conditions", {})
    properties = document["Resources"][function]["Properties"]
    found: set[str] = set()
    pending = [properties, document["Globals"]["Function"]]
    seen_conditions: set[str] = set()
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "Ref" and value in declared:
                    found.add(value)
                elif key == "Fn::If" and value[0] not in seen_conditions:
                    seen_conditions.add(value[0])
                    pending.append(conditions[value[0]])
                elif key == "Condition" and isinstance(value, str) and value not in seen_conditions:
                    seen_conditions.add(value)
                    pending.append(conditions[value])
                elif key == "Fn::Sub" and isinstance(value, str):
                    found |= set(re.findall(r"\$\{(\w+)\}", value)) & declared
                pending.append(value)
        elif isinstance(node, list):
            pending.extend(node)
    return found


# --- every deploy reaches what API Gateway invokes ------------------------------------------------


def test_a_layer_change_publishes_the_version_api_gateway_invokes() -> None:
    before = invoked_versions(with_layer_content("s3://artifacts/layer-v1.zip"))
    after = invoked_versions(with_layer_content("s3://artifacts/layer-v2.zip"))
    for function in API_FUNCTIONS:
        assert before[function] != after[function], function


@pytest.mark.parametrize("function", API_FUNCTIONS)
def test_each_parameter_a_function_reads_publishes_a_new_version(function: str) -> None:
    document = load_yaml(ROOT / "template.yaml")
    reaching = parameters_reaching(document, function)
    assert {"Auth0Domain", "ClientAddressSource", "Tracing", "SnapStart"} <= reaching
    missing = reaching - set(OTHER_VALUES)
    assert not missing, f"give OTHER_VALUES a value for {sorted(missing)}"
    base = invoked_versions(translated())[function]
    unchanged = [
        name
        for name in sorted(reaching)
        if invoked_versions(translated({name: OTHER_VALUES[name]}))[function] == base
    ]
    assert not unchanged, f"{function}: changing {unchanged} leaves API Gateway on the old version"


# --- CloudFront mode forwards the viewer's address, never Host ---------------------------------


def test_cloudfront_uses_the_stacks_own_policies_forwarding_the_viewer_address() -> None:
    resources = translated({"ClientAddressSource": "cloudfront"})["Resources"]
    behaviour = resources["LoginDistribution"]["Properties"]["DistributionConfig"]["DefaultCacheBehavior"]
    assert behaviour["OriginRequestPolicyId"] == {"Ref": "LoginOriginRequestPolicy"}
    assert behaviour["CachePolicyId"] == {"Ref": "LoginCachePolicy"}
    origin = resources["LoginOriginRequestPolicy"]["Properties"]["OriginRequestPolicyConfig"]
    headers = origin["HeadersConfig"]
    assert headers["HeaderBehavior"] == "whitelist"  # allViewer* would forward Host
    names = {name.lower() for name in headers["Headers"]}
    assert {"cloudfront-viewer-address", "content-type", "origin"} <= names
    assert "host" not in names
    assert "authorization" not in names  # CloudFront refuses it in an origin request policy
    cache = resources["LoginCachePolicy"]["Properties"]["CachePolicyConfig"]
    assert cache["DefaultTTL"] == 0
    assert cache["MinTTL"] == 0
    key = cache["ParametersInCacheKeyAndForwardedToOrigin"]["HeadersConfig"]
    assert [name.lower() for name in key["Headers"]] == ["authorization"]  # GET /login/mfa/authenticators


# --- every region deploys ---------------------------------------------------------------------------


def find_in_maps(node: Any) -> Iterator[list[Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::FindInMap":
                yield value
            yield from find_in_maps(value)
    elif isinstance(node, list):
        for item in node:
            yield from find_in_maps(item)


def test_every_region_keyed_lookup_has_a_default_under_the_language_extensions() -> None:
    document = load_yaml(ROOT / "template.yaml")
    assert document["Transform"] == ["AWS::LanguageExtensions", "AWS::Serverless-2016-10-31"]
    lookups = [args for args in find_in_maps(document) if {"Ref": "AWS::Region"} in args]
    assert lookups
    for args in lookups:
        assert len(args) == 4, args
        assert set(args[3]) == {"DefaultValue"}, args


def test_a_region_missing_from_the_map_translates_without_the_extension() -> None:
    template = translated(region="mx-central-1")
    assert "mx-central-1" not in template["Mappings"]["SecretsExtensionLayers"]
    assert template["Conditions"]["HasMappedSecretsExtensionLayer"] == {
        "Fn::Not": [{"Fn::Equals": ["none", "none"]}]
    }
    assert "Fn::FindInMap" not in json.dumps(template)


# --- two stacks side by side ------------------------------------------------------------------------


def literal_names(resources: dict[str, Any]) -> Iterator[str]:
    def walk(node: Any, kind: str, where: str) -> Iterator[str]:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in NAME_KEYS and (kind, key) not in SCOPED_NAMES and isinstance(value, str):
                    yield f"{where}.{key} = {value!r}"
                elif key in NAME_KEYS and isinstance(value, dict) and "Fn::Sub" in value:
                    if "AWS::StackName" not in json.dumps(value):
                        yield f"{where}.{key} = {value!r}"
                elif isinstance(value, dict):  # a *Config object; lists hold dimensions, tags...
                    yield from walk(value, kind, f"{where}.{key}")

    for name, resource in resources.items():
        yield from walk(resource.get("Properties", {}), resource["Type"], name)


@pytest.mark.parametrize("mode", ["request-context", "cloudfront"])
def test_no_resource_has_a_literal_physical_name(mode: str) -> None:
    parameters = {
        "ClientAddressSource": mode,
        "TenantManagementSecretArn": OTHER_VALUES["ExistingAuth0SecretArn"],
    }
    resources = translated(parameters)["Resources"]
    assert any(resource["Type"] == "AWS::Scheduler::Schedule" for resource in resources.values())
    assert not list(literal_names(resources))


# --- SNS -> SQS: scoped to the topic, failures kept and alarmed ---------------------------------


def test_sns_may_use_the_key_only_for_the_stacks_topic() -> None:
    resources = translated()["Resources"]
    topic_name = resources["SecurityEventsTopic"]["Properties"]["TopicName"]["Fn::Sub"]
    statements = resources["SecurityEventsKey"]["Properties"]["KeyPolicy"]["Statement"]
    (sns,) = [s for s in statements if s["Principal"] == {"Service": "sns.amazonaws.com"}]
    expected = "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:" + topic_name
    assert sns["Condition"]["ArnEquals"]["aws:SourceArn"] == {"Fn::Sub": expected}


def test_failed_deliveries_go_to_an_encrypted_alarmed_dead_letter_queue() -> None:
    resources = translated()["Resources"]
    subscription = resources["PasswordResetSubscription"]["Properties"]
    dlq_arn = subscription["RedrivePolicy"]["deadLetterTargetArn"]
    (dlq,) = dlq_arn["Fn::GetAtt"][:1]
    assert resources[dlq]["Type"] == "AWS::SQS::Queue"
    assert resources[dlq]["Properties"]["KmsMasterKeyId"] == {"Ref": "SecurityEventsKey"}
    policies = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and {"Ref": dlq} in r["Properties"]["Queues"]
    ]
    (policy,) = policies
    (statement,) = policy["PolicyDocument"]["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Action"] == "sqs:SendMessage"
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Ref": "SecurityEventsTopic"}}}
    alarms = [
        name
        for name, r in resources.items()
        if r["Type"] == "AWS::CloudWatch::Alarm"
        and {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}
        in r["Properties"].get("Dimensions", [])  # a metric-math alarm has none of its own
    ]
    assert len(alarms) == 1
    assert f"**{alarms[0]}**" in (ROOT / "docs" / "operations.md").read_text(encoding="utf-8")


# --- customer managed keys of secrets the stack does not create ----------------------------------------


def test_roles_reading_existing_secrets_may_decrypt_only_through_secrets_manager() -> None:
    parameters = {
        "ExistingAuth0SecretArn": OTHER_VALUES["ExistingAuth0SecretArn"],
        "TenantManagementSecretArn": OTHER_VALUES["ExistingAuth0SecretArn"],
        "ResetManagementSecretArn": OTHER_VALUES["ExistingAuth0SecretArn"],
        "ExistingSecretsKmsKeyArn": f"arn:aws:kms:us-east-1:123456789012:key/{KEY_ID}",
    }
    resources = translated(parameters)["Resources"]
    readers = set()
    for name, resource in resources.items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        statements = [s for p in resource["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]
        secrets = json.dumps(
            [s["Resource"] for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
        )
        if any(name in secrets for name in EXISTING_SECRETS):
            readers.add(name)
    assert readers == {f"{f}Role" for f in (*API_FUNCTIONS, "PasswordResetFunction", "TenantCheckFunction")}
    grants = [
        (resource, statement)
        for resource in resources.values()
        if resource["Type"] == "AWS::IAM::Policy"
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
        if statement["Action"] == "kms:Decrypt"
    ]
    ((policy, statement),) = grants
    assert policy["Condition"] == "HasSecretsKmsKey"
    assert statement["Resource"] == {"Ref": "ExistingSecretsKmsKeyArn"}
    assert statement["Condition"] == {
        "StringEquals": {"kms:ViaService": {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}}
    }
    roles = policy["Properties"]["Roles"]["Fn::If"]
    assert roles[0] == "HasTenantCheck"
    assert {r["Ref"] for r in roles[1]} == readers
    assert {r["Ref"] for r in roles[2]} == readers - {"TenantCheckFunctionRole"}
