"""Intrinsic functions resolve as CloudFormation would, against local physical ids."""

from __future__ import annotations

import pytest

from local.intrinsics import NO_VALUE, Physical, PseudoParameters, Resolver, TemplateError, references

TEMPLATE = {
    "Parameters": {
        "Name": {"Type": "String", "Default": "ropguard"},
        "Empty": {"Type": "String", "Default": ""},
        "Required": {"Type": "String"},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a, b"},
        "Count": {"Type": "Number", "Default": 3},
    },
    "Conditions": {
        "IsEmpty": {"Fn::Equals": [{"Ref": "Empty"}, ""]},
        "NotEmpty": {"Fn::Not": [{"Condition": "IsEmpty"}]},
        "Both": {"Fn::And": [{"Condition": "IsEmpty"}, {"Fn::Equals": [{"Ref": "Count"}, "3"]}]},
        "Either": {"Fn::Or": [{"Condition": "NotEmpty"}, {"Condition": "IsEmpty"}]},
    },
    "Mappings": {"Sizes": {"small": {"memory": 128}}},
    "Resources": {
        "Queue": {"Type": "AWS::SQS::Queue"},
        "Conditional": {"Type": "AWS::SQS::Queue", "Condition": "NotEmpty"},
    },
}


@pytest.fixture
def resolver() -> Resolver:
    resolver = Resolver(TEMPLATE, {"Required": "given"}, PseudoParameters(region="eu-west-1"))
    resolver.bind("Queue", Physical(ref="https://queue", attributes={"Arn": "arn:aws:sqs:eu-west-1:1:q"}))
    return resolver


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Ref": "Name"}, "ropguard"),
        ({"Ref": "Required"}, "given"),
        ({"Ref": "Zones"}, ["a", "b"]),
        ({"Ref": "Count"}, "3"),
        ({"Ref": "AWS::Region"}, "eu-west-1"),
        ({"Ref": "AWS::AccountId"}, "123456789012"),
        ({"Ref": "Queue"}, "https://queue"),
        ({"Fn::GetAtt": ["Queue", "Arn"]}, "arn:aws:sqs:eu-west-1:1:q"),
        ({"Fn::GetAtt": "Queue.Arn"}, "arn:aws:sqs:eu-west-1:1:q"),
        (
            {"Fn::Sub": "${Name}-${AWS::Region}-${Queue.Arn}-${!Literal}"},
            "ropguard-eu-west-1-arn:aws:sqs:eu-west-1:1:q-${Literal}",
        ),
        ({"Fn::Sub": ["${Greeting}, ${Name}", {"Greeting": {"Ref": "Required"}}]}, "given, ropguard"),
        ({"Fn::If": ["IsEmpty", "yes", "no"]}, "yes"),
        ({"Fn::If": ["NotEmpty", "yes", "no"]}, "no"),
        ({"Fn::Join": ["/", ["a", {"Ref": "Name"}]]}, "a/ropguard"),
        ({"Fn::Select": [1, {"Ref": "Zones"}]}, "b"),
        ({"Fn::Split": [",", "x,y"]}, ["x", "y"]),
        ({"Fn::FindInMap": ["Sizes", "small", "memory"]}, 128),
        ({"Fn::ToJsonString": {"a": {"Ref": "Name"}}}, '{"a":"ropguard"}'),
        ({"Fn::GetAZs": ""}, ["eu-west-1a", "eu-west-1b", "eu-west-1c"]),
    ],
)
def test_resolves_intrinsic_functions(resolver: Resolver, value: object, expected: object) -> None:
    assert resolver.resolve(value) == expected


def test_conditions_compose(resolver: Resolver) -> None:
    assert resolver.condition("IsEmpty")
    assert not resolver.condition("NotEmpty")
    assert resolver.condition("Both")
    assert resolver.condition("Either")
    assert resolver.is_active("Queue")
    assert not resolver.is_active("Conditional")


def test_no_value_is_dropped_from_maps_and_lists(resolver: Resolver) -> None:
    value = {
        "keep": 1,
        "drop": {"Fn::If": ["NotEmpty", "x", {"Ref": "AWS::NoValue"}]},
        "list": [1, {"Ref": "AWS::NoValue"}, 2],
    }
    assert resolver.resolve(value) == {"keep": 1, "list": [1, 2]}
    assert resolver.resolve({"Ref": "AWS::NoValue"}) is NO_VALUE


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"Ref": "Nothing"}, "names nothing"),
        ({"Fn::GetAtt": ["Queue", "Missing"]}, "Queue.Missing is not known"),
        ({"Ref": "Conditional"}, "referenced before it exists"),
        ({"Fn::ImportValue": "x"}, "Fn::ImportValue is not supported"),
        ({"Fn::FindInMap": ["Sizes", "huge", "memory"]}, "not found"),
    ],
)
def test_unresolvable_values_fail_loudly(resolver: Resolver, value: object, message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        resolver.resolve(value, "Resources.X.Properties")


def test_a_parameter_without_default_needs_an_override() -> None:
    resolver = Resolver(TEMPLATE)
    with pytest.raises(TemplateError, match="Required has no Default"):
        resolver.resolve({"Ref": "Required"})


def test_overrides_must_name_declared_parameters() -> None:
    with pytest.raises(TemplateError, match="undeclared parameters: Typo"):
        Resolver(TEMPLATE, {"Typo": "x"})


def test_references_finds_refs_getatts_and_sub_variables() -> None:
    value = {
        "a": {"Ref": "Topic"},
        "b": [{"Fn::GetAtt": ["Dlq", "Arn"]}, {"Fn::GetAtt": "Table.Arn"}],
        "c": {"Fn::Sub": "${Key}/${Api.ApiEndpoint}/${AWS::Region}/${!NotARef}"},
        "d": {"Fn::Sub": ["${Local}-${Other}", {"Local": {"Ref": "Param"}}]},
    }
    assert references(value) == {"Topic", "Dlq", "Table", "Key", "Api", "Other", "Param"}
