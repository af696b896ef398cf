"""template.yaml's cookie mode (TokenDelivery=cookie, docs/browser.md): the key generated in Secrets
Manager and readable by the two API functions only, CORS with credentials for exact origins only,
and the rules that refuse what cannot work."""

from __future__ import annotations

import json

from tests.template.sam_translation import decoded_template

TEMPLATE = decoded_template()
RESOURCES = TEMPLATE["Resources"]
KEY_REF = {"Ref": "CookieKeySecret"}


def test_token_delivery_is_body_unless_asked() -> None:
    parameter = TEMPLATE["Parameters"]["TokenDelivery"]
    assert (parameter["Default"], parameter["AllowedValues"]) == ("body", ["body", "cookie"])
    assert TEMPLATE["Conditions"]["CookieDelivery"] == {"Fn::Equals": [{"Ref": "TokenDelivery"}, "cookie"]}
    lifetime = TEMPLATE["Parameters"]["RefreshTokenLifetimeSeconds"]
    assert (lifetime["Default"], lifetime["MinValue"]) == (2592000, 60)


def test_the_cookie_key_is_generated_in_cookie_mode_only() -> None:
    secret = RESOURCES["CookieKeySecret"]
    assert secret["Type"] == "AWS::SecretsManager::Secret"
    assert secret["Condition"] == "CookieDelivery"
    generated = secret["Properties"]["GenerateSecretString"]
    assert (generated["SecretStringTemplate"], generated["GenerateStringKey"]) == ("{}", "current")
    assert generated["PasswordLength"] >= 32
    assert "SecretString" not in secret["Properties"]  # never a value in the template


def test_only_the_login_and_session_roles_may_read_the_key() -> None:
    readers = {}
    for name, resource in RESOURCES.items():
        if name == "CookieKeySecret" or json.dumps(KEY_REF) not in json.dumps(resource):
            continue
        readers[name] = resource
    assert set(readers) == {"LoginFunctionCookieKeyPolicy", "SessionFunctionCookieKeyPolicy"}
    for name, role in (("LoginFunctionCookieKeyPolicy", "LoginFunctionRole"),
                       ("SessionFunctionCookieKeyPolicy", "SessionFunctionRole")):  # fmt: skip
        policy = readers[name]
        assert policy["Condition"] == "CookieDelivery"
        assert policy["Properties"]["RoleName"] == {"Ref": role}
        (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert statement == {
            "Sid": "ReadCookieKey",
            "Effect": "Allow",
            "Action": "secretsmanager:GetSecretValue",
            "Resource": KEY_REF,
        }


def test_the_functions_learn_the_mode_from_the_globals() -> None:
    variables = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["TOKEN_DELIVERY"] == {"Ref": "TokenDelivery"}
    assert variables["COOKIE_KEY_SECRET_ID"] == {"Fn::If": ["CookieDelivery", KEY_REF, ""]}
    assert variables["REFRESH_TOKEN_LIFETIME_SECONDS"] == {"Ref": "RefreshTokenLifetimeSeconds"}
    assert variables["ALLOWED_ORIGINS"] == {"Ref": "AllowedOrigins"}


def test_cors_sends_credentials_and_allows_x_csrf_in_cookie_mode_only() -> None:
    _, when_set, _ = RESOURCES["LoginApi"]["Properties"]["CorsConfiguration"]["Fn::If"]
    assert when_set["AllowCredentials"] == {"Fn::If": ["CookieDelivery", True, {"Ref": "AWS::NoValue"}]}
    assert when_set["AllowHeaders"] == {
        "Fn::If": [
            "CookieDelivery",
            ["authorization", "content-type", "x-csrf"],
            ["authorization", "content-type"],
        ]
    }


def test_cookie_mode_is_refused_without_exact_origins() -> None:
    rule = TEMPLATE["Rules"]["CookieDeliveryNeedsExactOrigins"]
    assert rule["RuleCondition"] == {"Fn::Equals": [{"Ref": "TokenDelivery"}, "cookie"]}
    asserted = [assertion["Assert"] for assertion in rule["Assertions"]]
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "AllowedOrigins"}, ""]}]} in asserted
    assert {"Fn::Not": [{"Fn::Equals": [{"Ref": "AllowedOrigins"}, "*"]}]} in asserted
    # ...and the parameter's pattern refuses a wildcard anywhere, in every mode.
    pattern = TEMPLATE["Parameters"]["AllowedOrigins"]["AllowedPattern"]
    assert "*" not in pattern.replace("]*", "").replace(")*", "")


def test_a_domain_needs_its_certificate() -> None:
    rule = TEMPLATE["Rules"]["ApiDomainNeedsCertificate"]
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ApiCertificateArn"}, ""]}]
    }
