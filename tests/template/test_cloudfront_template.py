"""template.yaml in both ClientAddressSource modes: what exists, what functions see, who reads the secret.

Conditions and ``Fn::If`` are evaluated here for each mode (on the SAM translation, so the
functions' environment and roles are checked as CloudFormation gets them).
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.template.sam_translation import translated_template

MODES = ("request-context", "cloudfront")
CLOUDFRONT_ONLY = {
    "LoginDistribution",
    "LoginOriginRequestPolicy",
    "LoginCachePolicy",
    "OriginVerifySecret",
    "LoginFunctionOriginSecretPolicy",
    "SessionFunctionOriginSecretPolicy",
}


def _condition(template: dict[str, Any], name: str, parameters: dict[str, str]) -> bool:
    return bool(_value(template["Conditions"][name], template, parameters))


def _value(node: Any, template: dict[str, Any], parameters: dict[str, str]) -> Any:
    """Evaluate the intrinsics conditions use; anything else is returned as is."""
    if isinstance(node, dict) and len(node) == 1:
        ((key, args),) = node.items()
        if key == "Ref" and args in parameters:
            return parameters[args]
        if key == "Fn::Equals":
            return _value(args[0], template, parameters) == _value(args[1], template, parameters)
        if key == "Fn::Not":
            return not _value(args[0], template, parameters)
        if key == "Fn::And":
            return all(_value(arg, template, parameters) for arg in args)
        if key == "Fn::Or":
            return any(_value(arg, template, parameters) for arg in args)
        if key == "Condition":
            return _condition(template, args, parameters)
    return node


def _resolve_ifs(node: Any, template: dict[str, Any], parameters: dict[str, str]) -> Any:
    """``node`` with every ``Fn::If`` chosen for these parameters and ``AWS::NoValue`` dropped."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, when_true, when_false = node["Fn::If"]
            chosen = when_true if _condition(template, name, parameters) else when_false
            return _resolve_ifs(chosen, template, parameters)
        return {
            key: _resolve_ifs(value, template, parameters)
            for key, value in node.items()
            if _resolve_ifs(value, template, parameters) != {"Ref": "AWS::NoValue"}
        }
    if isinstance(node, list):
        items = [_resolve_ifs(item, template, parameters) for item in node]
        return [item for item in items if item != {"Ref": "AWS::NoValue"}]
    return node


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translated_template()


def deployed(translated: dict[str, Any], mode: str, other: dict[str, str] | None = None) -> dict[str, Any]:
    """The resources and outputs that exist in ``mode`` (and ``other`` parameter values, pseudo
    parameters such as ``AWS::Region`` included), with every Fn::If chosen."""
    parameters = {"ClientAddressSource": mode, "CloudFrontWebAclArn": "", "ExistingAuth0SecretArn": ""}
    parameters |= {"Auth0Realm": "", "AlarmTopicArn": "", "ApiDomainName": "", "ApiCertificateArn": ""}
    parameters |= {"DistributionDomainName": "", "DistributionCertificateArn": ""}
    parameters |= other or {}
    return {
        section: {
            name: _resolve_ifs(body, translated, parameters)
            for name, body in translated[section].items()
            if "Condition" not in body or _condition(translated, body["Condition"], parameters)
        }
        for section in ("Resources", "Outputs")
    }


def test_parameter_offers_exactly_the_two_modes(translated) -> None:
    parameter = translated["Parameters"]["ClientAddressSource"]
    assert parameter["Default"] == "request-context"
    assert parameter["AllowedValues"] == list(MODES)


@pytest.mark.parametrize("mode", MODES)
def test_cloudfront_resources_exist_only_in_cloudfront_mode(translated, mode) -> None:
    resources = deployed(translated, mode)["Resources"]
    assert (set(resources) >= CLOUDFRONT_ONLY) is (mode == "cloudfront")
    assert not (CLOUDFRONT_ONLY & set(resources)) or mode == "cloudfront"


@pytest.mark.parametrize("mode", MODES)
def test_functions_are_told_the_mode_and_the_secret(translated, mode) -> None:
    resources = deployed(translated, mode)["Resources"]
    functions = {name: body for name, body in resources.items() if body["Type"] == "AWS::Lambda::Function"}
    assert functions
    for name, function in functions.items():
        variables = function["Properties"]["Environment"]["Variables"]
        assert variables["CLIENT_ADDRESS_SOURCE"] == {"Ref": "ClientAddressSource"}, name
        expected = {"Ref": "OriginVerifySecret"} if mode == "cloudfront" else ""
        assert variables["ORIGIN_VERIFY_SECRET_ID"] == expected, name


@pytest.mark.parametrize("mode", MODES)
def test_only_the_api_roles_read_the_origin_secret_and_only_in_cloudfront_mode(translated, mode) -> None:
    resources = deployed(translated, mode)["Resources"]
    readers = set()
    for body in resources.values():
        if body["Type"] == "AWS::IAM::RolePolicy":
            documents = [body["Properties"]]
        elif body["Type"] == "AWS::IAM::Role":
            documents = body["Properties"].get("Policies", [])
        else:
            continue
        for policy in documents:
            for statement in policy["PolicyDocument"]["Statement"]:
                if statement.get("Resource") == {"Ref": "OriginVerifySecret"}:
                    assert statement["Action"] == "secretsmanager:GetSecretValue"
                    assert statement["Effect"] == "Allow"
                    role = body["Properties"].get("RoleName", {"Ref": None})["Ref"] or "inline"
                    readers.add(role)
    api_roles = {"LoginFunctionRole", "SessionFunctionRole"}
    assert readers == (api_roles if mode == "cloudfront" else set())


def test_distribution_is_https_only_uncached_and_forwards_the_viewer_address(translated) -> None:
    config = deployed(translated, "cloudfront")["Resources"]["LoginDistribution"]["Properties"][
        "DistributionConfig"
    ]
    (origin,) = config["Origins"]
    assert origin["DomainName"] == {"Fn::Sub": "${LoginApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}"}
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    assert origin["CustomOriginConfig"]["OriginSSLProtocols"] == ["TLSv1.2"]
    (header,) = origin["OriginCustomHeaders"]
    assert header["HeaderName"] == "X-Origin-Verify"
    reference = (
        "{{resolve:secretsmanager:${OriginVerifySecret}:SecretString:::${OriginVerifySecretVersionId}}}"
    )
    assert header["HeaderValue"] == {"Fn::Sub": reference}
    behaviour = config["DefaultCacheBehavior"]
    assert behaviour["TargetOriginId"] == origin["Id"]
    assert behaviour["ViewerProtocolPolicy"] in ("https-only", "redirect-to-https")
    assert behaviour["CachePolicyId"] == {"Ref": "LoginCachePolicy"}
    assert behaviour["OriginRequestPolicyId"] == {"Ref": "LoginOriginRequestPolicy"}
    assert "POST" in behaviour["AllowedMethods"]
    assert "ForwardedValues" not in behaviour  # legacy settings would bypass the policies


def test_origin_secret_is_generated_header_safe(translated) -> None:
    secret = deployed(translated, "cloudfront")["Resources"]["OriginVerifySecret"]["Properties"]
    generated = secret["GenerateSecretString"]
    assert generated["PasswordLength"] >= 32
    assert generated["ExcludePunctuation"] is True
    assert "SecretString" not in secret  # never a value in the template


def test_web_acl_is_attached_only_when_given(translated) -> None:
    distribution = translated["Resources"]["LoginDistribution"]["Properties"]["DistributionConfig"]
    parameters = {"ClientAddressSource": "cloudfront", "CloudFrontWebAclArn": ""}
    assert "WebACLId" not in _resolve_ifs(distribution, translated, parameters)
    parameters["CloudFrontWebAclArn"] = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/x/1"
    assert _resolve_ifs(distribution, translated, parameters)["WebACLId"] == {"Ref": "CloudFrontWebAclArn"}


@pytest.mark.parametrize("mode", MODES)
def test_login_url_is_the_distribution_in_cloudfront_mode(translated, mode) -> None:
    outputs = deployed(translated, mode)["Outputs"]
    login_url = outputs["LoginUrl"]["Value"]["Fn::Sub"]
    if mode == "cloudfront":
        assert login_url == "https://${LoginDistribution.DomainName}/login"
        assert {"ApiEndpointUrl", "CloudFrontDistributionId", "OriginVerifySecretArn"} <= set(outputs)
    else:
        assert login_url == "https://${LoginApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/login"
        assert not {"ApiEndpointUrl", "CloudFrontDistributionId", "OriginVerifySecretArn"} & set(outputs)


# -- the distribution on the app's own host name (cookie mode behind CloudFront, docs/browser.md) --------

ALIAS = "login.example.com"
ALIAS_CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"
WITH_ALIAS = {"DistributionDomainName": ALIAS, "DistributionCertificateArn": ALIAS_CERTIFICATE}


def _distribution_config(built: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = built["Resources"]["LoginDistribution"]["Properties"]["DistributionConfig"]
    return config


def test_without_an_alias_the_distribution_keeps_its_cloudfront_net_name(translated) -> None:
    built = deployed(translated, "cloudfront")
    config = _distribution_config(built)
    assert "Aliases" not in config
    assert config["ViewerCertificate"] == {"CloudFrontDefaultCertificate": True}
    assert "DistributionDomainTarget" not in built["Outputs"]


def test_an_alias_gets_its_certificate_and_becomes_the_login_url(translated) -> None:
    built = deployed(translated, "cloudfront", WITH_ALIAS)
    config = _distribution_config(built)
    assert config["Aliases"] == [{"Ref": "DistributionDomainName"}]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": {"Ref": "DistributionCertificateArn"},
        "SslSupportMethod": "sni-only",
        "MinimumProtocolVersion": "TLSv1.2_2021",
    }
    outputs = built["Outputs"]
    assert outputs["LoginUrl"]["Value"] == {"Fn::Sub": "https://${DistributionDomainName}/login"}
    assert outputs["DistributionDomainTarget"]["Value"] == {"Fn::GetAtt": ["LoginDistribution", "DomainName"]}


def test_an_alias_changes_nothing_in_request_context_mode(translated) -> None:
    built = deployed(translated, "request-context", WITH_ALIAS)
    assert "LoginDistribution" not in built["Resources"]
    assert "DistributionDomainTarget" not in built["Outputs"]
    login_url = built["Outputs"]["LoginUrl"]["Value"]["Fn::Sub"]
    assert login_url == "https://${LoginApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/login"


def _is_set(parameter: str) -> dict[str, Any]:
    return {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, ""]}]}


def test_an_alias_and_its_certificate_come_together_in_cloudfront_mode(translated) -> None:
    rules = translated["Rules"]
    name_rule = rules["DistributionDomainNeedsCertificate"]
    assert name_rule["RuleCondition"] == _is_set("DistributionDomainName")
    asserted = [assertion["Assert"] for assertion in name_rule["Assertions"]]
    assert asserted == [
        _is_set("DistributionCertificateArn"),
        {"Fn::Equals": [{"Ref": "ClientAddressSource"}, "cloudfront"]},
    ]
    certificate_rule = rules["DistributionCertificateNeedsDomain"]
    assert certificate_rule["RuleCondition"] == _is_set("DistributionCertificateArn")
    (assertion,) = certificate_rule["Assertions"]
    assert assertion["Assert"] == _is_set("DistributionDomainName")


def assert_name_and_certificate_patterns(
    translated: dict[str, Any], name: tuple[str, str], certificate: tuple[str, str]
) -> tuple[re.Pattern[str], re.Pattern[str]]:
    """A host name parameter and its certificate's (each with a good value): both accept it and
    empty, and refuse a URL, a bare label, another service's ARN. The patterns, for more checks."""
    (name_parameter, good_name), (certificate_parameter, good_certificate) = name, certificate
    name_pattern = re.compile(translated["Parameters"][name_parameter]["AllowedPattern"])
    certificate_pattern = re.compile(translated["Parameters"][certificate_parameter]["AllowedPattern"])
    assert name_pattern.fullmatch(good_name)
    assert name_pattern.fullmatch("")
    assert not name_pattern.fullmatch("https://login.example.com")
    assert not name_pattern.fullmatch("example")
    assert certificate_pattern.fullmatch(good_certificate)
    assert certificate_pattern.fullmatch("")
    assert not certificate_pattern.fullmatch("arn:aws:iam::123456789012:role/x")
    return name_pattern, certificate_pattern


def test_the_alias_parameters_refuse_what_is_not_a_name_or_a_us_east_1_certificate(translated) -> None:
    domain, certificate = assert_name_and_certificate_patterns(
        translated, ("DistributionDomainName", ALIAS), ("DistributionCertificateArn", ALIAS_CERTIFICATE)
    )
    assert not domain.fullmatch("*.example.com")
    assert not certificate.fullmatch(ALIAS_CERTIFICATE.replace("us-east-1", "eu-west-1"))
