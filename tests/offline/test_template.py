"""ropguard_offline.template: template.yaml through the SAM translator, and the parameter values
it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from ropguard_offline.template import (
    TemplateError,
    is_extension_layer,
    load_yaml,
    parameter_values,
    translate,
)

ROOT = Path(__file__).resolve().parents[2]
DECLARED = {"Domain": {"Type": "String"}, "Days": {"Type": "Number", "AllowedValues": [1, 30]}}


def test_local_values_fill_declared_parameters_and_overrides_win() -> None:
    values = parameter_values(DECLARED, {"Days": "30"}, {"Domain": "local", "Undeclared": "x"})
    assert values == {"Domain": "local", "Days": "30"}
    assert parameter_values(DECLARED, {"Domain": "given"}, {"Domain": "local"}) == {"Domain": "given"}


@pytest.mark.parametrize(
    ("overrides", "message"),
    [({"Nope": "x"}, "undeclared parameters: Nope"), ({"Days": "2"}, "Days='2' is not one of 1, 30")],
)
def test_bad_parameter_overrides_are_refused(overrides: dict[str, str], message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        parameter_values(DECLARED, overrides, {})


def test_local_code_reaches_the_translation_as_the_local_bucket() -> None:
    document = translate(load_yaml(ROOT / "template.yaml"), {"Auth0Domain": "x"}, "us-east-1")
    code = document["Resources"]["LoginFunction"]["Properties"]["Code"]
    assert code == {"S3Bucket": "ropguard-local-code", "S3Key": "functions/login/"}


def test_a_translator_error_is_a_template_error(tmp_path: Path) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties: {CodeUri: fn/, Runtime: python3.13, Handler: app.handler,"
        " Events: {E: {Type: Nonsense}}}\n"
    )
    with pytest.raises(TemplateError, match="Fn"):
        translate(load_yaml(path), {}, "us-east-1")


def test_the_extension_layer_is_known_by_its_name_in_any_region() -> None:
    assert is_extension_layer(
        "arn:aws:lambda:eu-west-1:1:layer:AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:4"
    )
    assert not is_extension_layer("arn:aws:lambda:eu-west-1:1:layer:other:4")
