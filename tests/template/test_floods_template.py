"""template.yaml against floods: the window setting, the stage throttle, AWS WAF per address in front
of the login routes (CloudFront mode in us-east-1), and a custom domain that leaves nothing around it.

Conditions and ``Fn::If`` are evaluated here for each case, on the SAM translation, as in
test_cloudfront_template.py.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.template.sam_translation import translated_template
from tests.template.test_cloudfront_template import assert_name_and_certificate_patterns
from tests.template.test_cloudfront_template import deployed as cloudfront_deployed

DOMAIN = "login-origin.example.com"
CERTIFICATE = "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d-1111-2222-3333-444455556666"
BASE = {"WafAccountTakeoverPrevention": "none"}
#: Auth0's published Authentication API limits on the self-service plans (docs/operations.md).
SELF_SERVICE_RATE, SELF_SERVICE_BURST = 25, 25


@pytest.fixture(scope="module")
def translated() -> dict[str, Any]:
    return translated_template()


def deployed(translated: dict[str, Any], mode: str = "request-context", **parameters: str) -> dict[str, Any]:
    """The resources and outputs that exist in ``mode`` with these parameters (``region`` is
    ``AWS::Region``), every Fn::If chosen."""
    region = parameters.pop("region", "us-east-1")
    return cloudfront_deployed(translated, mode, BASE | parameters | {"AWS::Region": region})


def _web_acl_id(resources: dict[str, Any]) -> Any:
    return resources["LoginDistribution"]["Properties"]["DistributionConfig"].get("WebACLId")


# -- the window --------------------------------------------------------------------------------------


def test_both_api_functions_get_the_window_and_a_new_version_when_it_changes(translated) -> None:
    parameter = translated["Parameters"]["ShedWindowSeconds"]
    assert (parameter["Default"], parameter["MinValue"], parameter["MaxValue"]) == (60, 0, 3600)
    resources = deployed(translated)["Resources"]
    for name in ("LoginFunction", "SessionFunction"):
        variables = resources[name]["Properties"]["Environment"]["Variables"]
        assert variables["SHED_WINDOW_SECONDS"] == {"Ref": "ShedWindowSeconds"}, name


def test_the_stage_throttle_defaults_stay_within_auth0s_self_service_limit(translated) -> None:
    parameters = translated["Parameters"]
    assert parameters["ApiThrottlingRateLimit"]["Default"] <= SELF_SERVICE_RATE
    assert parameters["ApiThrottlingBurstLimit"]["Default"] <= SELF_SERVICE_BURST


# -- AWS WAF per client address -----------------------------------------------------------------------


def test_in_us_east_1_cloudfront_mode_a_web_acl_of_the_stacks_own_guards_the_login_routes(translated) -> None:
    resources = deployed(translated, "cloudfront")["Resources"]
    acl = resources["LoginWebAcl"]["Properties"]
    assert acl["Scope"] == "CLOUDFRONT"
    assert acl["DefaultAction"] == {"Allow": {}}
    assert _web_acl_id(resources) == {"Fn::GetAtt": ["LoginWebAcl", "Arn"]}
    (rule,) = acl["Rules"]  # no account takeover prevention unless asked for
    rate = rule["Statement"]["RateBasedStatement"]
    assert (rate["AggregateKeyType"], rate["Limit"]) == ("IP", {"Ref": "WafLoginRateLimit"})
    match = rate["ScopeDownStatement"]["ByteMatchStatement"]
    assert (match["FieldToMatch"], match["PositionalConstraint"], match["SearchString"]) == (
        {"UriPath": {}},
        "STARTS_WITH",
        "/login",
    )
    # Refused in Auth0's dialect, which every client of ropguard already understands.
    block = rule["Action"]["Block"]["CustomResponse"]
    assert block["ResponseCode"] == 429
    body = acl["CustomResponseBodies"][block["CustomResponseBodyKey"]]
    assert body["ContentType"] == "APPLICATION_JSON"
    assert json.loads(body["Content"])["error"] == "too_many_requests"


def test_the_web_acl_keeps_no_sampled_requests(translated) -> None:
    """Sampled requests keep headers for hours, and Authorization can carry an mfa_token."""
    acl = deployed(translated, "cloudfront", WafAccountTakeoverPrevention="block")["Resources"][
        "LoginWebAcl"
    ]["Properties"]
    configs = [acl["VisibilityConfig"], *(rule["VisibilityConfig"] for rule in acl["Rules"])]
    assert len(configs) == 3
    assert {config["SampledRequestsEnabled"] for config in configs} == {False}


def test_the_rate_limit_is_far_above_what_auth0_lets_a_real_user_send(translated) -> None:
    """Auth0: 10 failures per user and address, 20 logins a minute per user and address."""
    parameter = translated["Parameters"]["WafLoginRateLimit"]
    assert parameter["Default"] >= 5 * 20 * 2
    assert parameter["MinValue"] >= 10  # AWS WAF's own minimum


@pytest.mark.parametrize(("choice", "override"), [("count", {"Count": {}}), ("block", {"None": {}})])
def test_account_takeover_prevention_is_opt_in(translated, choice: str, override: dict[str, Any]) -> None:
    resources = deployed(translated, "cloudfront", WafAccountTakeoverPrevention=choice)
    _, atp = resources["Resources"]["LoginWebAcl"]["Properties"]["Rules"]
    assert atp["OverrideAction"] == override
    group = atp["Statement"]["ManagedRuleGroupStatement"]
    assert (group["VendorName"], group["Name"]) == ("AWS", "AWSManagedRulesATPRuleSet")
    (config,) = group["ManagedRuleGroupConfigs"]
    inspection = config["AWSManagedRulesATPRuleSet"]
    assert inspection["LoginPath"] == "/login"
    assert inspection["RequestInspection"]["UsernameField"] == {"Identifier": "/username"}
    assert inspection["RequestInspection"]["PasswordField"] == {"Identifier": "/password"}
    assert translated["Parameters"]["WafAccountTakeoverPrevention"]["Default"] == "none"


@pytest.mark.parametrize(
    "parameters",
    [
        {"region": "eu-west-1"},  # CLOUDFRONT-scope web ACLs live in us-east-1 only
        {"CloudFrontWebAclArn": "arn:aws:wafv2:us-east-1:123456789012:global/webacl/own/1"},
    ],
)
def test_elsewhere_or_with_a_web_acl_of_your_own_the_stack_creates_none(translated, parameters) -> None:
    resources = deployed(translated, "cloudfront", **parameters)["Resources"]
    assert "LoginWebAcl" not in resources
    given = parameters.get("CloudFrontWebAclArn")
    assert _web_acl_id(resources) == ({"Ref": "CloudFrontWebAclArn"} if given else None)


def test_request_context_mode_has_no_web_acl(translated) -> None:
    assert "LoginWebAcl" not in deployed(translated)["Resources"]


# -- a custom domain leaves nothing around it ------------------------------------------------------------


def _endpoint_disabled(resources: dict[str, Any]) -> Any:
    (server,) = resources["LoginApi"]["Properties"]["Body"]["servers"]
    return server["x-amazon-apigateway-endpoint-configuration"]["disableExecuteApiEndpoint"]


@pytest.mark.parametrize("mode", ["request-context", "cloudfront"])
def test_without_a_custom_domain_the_execute_api_endpoint_stays(translated, mode: str) -> None:
    resources = deployed(translated, mode)["Resources"]
    assert _endpoint_disabled(resources) is False
    assert not {"ApiDomain", "ApiDomainMapping"} & set(resources)


@pytest.mark.parametrize("mode", ["request-context", "cloudfront"])
def test_with_a_custom_domain_the_execute_api_endpoint_is_disabled(translated, mode: str) -> None:
    built = deployed(translated, mode, ApiDomainName=DOMAIN, ApiCertificateArn=CERTIFICATE)
    resources, outputs = built["Resources"], built["Outputs"]
    assert _endpoint_disabled(resources) is True
    (configuration,) = resources["ApiDomain"]["Properties"]["DomainNameConfigurations"]
    assert configuration == {
        "CertificateArn": {"Ref": "ApiCertificateArn"},
        "EndpointType": "REGIONAL",
        "SecurityPolicy": "TLS_1_2",
    }
    mapping = resources["ApiDomainMapping"]["Properties"]
    assert (mapping["DomainName"], mapping["ApiId"]) == ({"Ref": "ApiDomain"}, {"Ref": "LoginApi"})
    assert outputs["ApiDomainTarget"]["Value"] == {"Fn::GetAtt": ["ApiDomain", "RegionalDomainName"]}
    if mode == "cloudfront":
        (origin,) = resources["LoginDistribution"]["Properties"]["DistributionConfig"]["Origins"]
        assert origin["DomainName"] == {"Ref": "ApiDomainName"}
        assert outputs["ApiEndpointUrl"]["Value"] == {"Fn::Sub": "https://${ApiDomainName}"}
    else:
        assert outputs["LoginUrl"]["Value"] == {"Fn::Sub": "https://${ApiDomainName}/login"}


def test_the_domain_parameters_refuse_what_is_not_a_name_or_a_certificate(translated) -> None:
    assert_name_and_certificate_patterns(
        translated, ("ApiDomainName", DOMAIN), ("ApiCertificateArn", CERTIFICATE)
    )
