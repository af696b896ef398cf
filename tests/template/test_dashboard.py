"""The dashboard shows only metrics the code emits, and the tenant check is wired as documented.

Metric names are read from the code, not listed here: every ``add_metric(name=...)`` in the
functions, the layer and the doctor (string literals, module constants, enum members), every value
every name the edge can give a route (each route's
``Route.metric`` of each ``outcomes.Outcome`` and each ``edge.ERROR_TABLE`` outcome), and
Powertools' ``ColdStart`` where a handler asks for it. A new route's metrics are therefore known as
soon as its code emits them.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from ropguard.edge import ERROR_TABLE, UNKNOWN_ROUTE
from ropguard.login import BREACH_REPORT_FAILED, LOGIN_ROUTES
from ropguard.outcomes import Outcome
from ropguard.session import SESSION_ROUTES
from ropguard.shedding import TENANT_RATE_LIMITED
from ropguard_doctor.routes import routes_from_template
from ropguard_doctor.scheduled import FINDINGS_METRIC
from tests.template.sam_translation import translated_template
from tests.template.test_cloudfront_template import deployed

ROOT = Path(__file__).resolve().parents[2]
CODE_DIRS = [ROOT / "layers" / "ropguard" / "ropguard", ROOT / "functions", ROOT / "ropguard_doctor"]
CUSTOM_NAMESPACE = "Ropguard"


def _sources() -> Iterator[tuple[Path, ast.Module]]:
    for directory in CODE_DIRS:
        for path in directory.rglob("*.py"):
            if "ropguard_doctor" in path.parts and path.parts[-3:-1] == ("tenant_check", "ropguard_doctor"):
                continue
            yield path, ast.parse(path.read_text(encoding="utf-8"))


def emitted_metrics() -> set[str]:
    constants: dict[str, str] = {}
    enum_members: dict[str, str] = {}
    names: set[str] = edge_metrics()
    trees = list(_sources())
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                for target in node.targets:
                    if isinstance(target, ast.Name) and isinstance(node.value.value, str):
                        constants[target.id] = node.value.value
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant):
                        for target in item.targets:
                            if isinstance(target, ast.Name) and isinstance(item.value.value, str):
                                enum_members[f"{node.name}.{target.id}"] = item.value.value
    for _, tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "add_metric":
                for keyword in node.keywords:
                    if keyword.arg == "name":
                        names.update(_metric_names(keyword.value, constants, enum_members))
            if (
                isinstance(node, ast.keyword)
                and node.arg == "capture_cold_start_metric"
                and isinstance(node.value, ast.Constant)
                and node.value.value is True
            ):
                names.add("ColdStart")
    return names


def edge_metrics() -> set[str]:
    """What ``ropguard.edge.serve`` counts for the API functions: ``route.metric(outcome)``, and the
    extra metrics an answer carries (``Answer.extra_metrics``)."""
    errors = {row.outcome for _, row in ERROR_TABLE}
    routes = [*LOGIN_ROUTES.values(), *SESSION_ROUTES.values()]
    names = {route.metric(outcome) for route in routes for outcome in {*Outcome, *errors}}
    return (
        names
        | {UNKNOWN_ROUTE.metric(outcome) for outcome in errors}
        | {BREACH_REPORT_FAILED, TENANT_RATE_LIMITED}
    )


def _metric_names(value: ast.expr, constants: dict[str, str], members: dict[str, str]) -> set[str]:
    if isinstance(value, ast.Constant) and isinstance(value.value, str):
        return {value.value}
    if isinstance(value, ast.Name) and value.id in constants:
        return {constants[value.id]}
    if isinstance(value, ast.Attribute):  # Outcome.X.value or Outcome.X
        inner = value.value if value.attr == "value" else value
        if isinstance(inner, ast.Attribute) and isinstance(inner.value, ast.Name):
            key = f"{inner.value.id}.{inner.attr}"
            if key in members:
                return {members[key]}
    return set()  # dynamic names (result.outcome.value) are covered by the enums above


class _Loader(yaml.SafeLoader):
    pass


def _construct(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node, deep=True)}
    if isinstance(node, yaml.MappingNode):
        return {suffix: loader.construct_mapping(node, deep=True)}
    return {suffix: loader.construct_scalar(node)}  # type: ignore[arg-type]


_Loader.add_multi_constructor("!", _construct)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506
    return loaded


@pytest.fixture(scope="module")
def dashboard(template) -> dict[str, Any]:
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Sub"][0]
    document: dict[str, Any] = json.loads(re.sub(r"\$\{[^}]+\}", "placeholder", body))
    return document


def shown_metrics(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    shown = []
    for widget in dashboard["widgets"]:
        for line in widget["properties"].get("metrics", []):
            namespace, name = line[0], line[1]
            assert namespace != ".", "write every metric line out in full (no '.' shorthand)"
            shown.append((namespace, name))
    return shown


def test_the_code_emits_what_the_scanner_expects() -> None:
    emitted = emitted_metrics()
    assert {
        "LoginSucceeded",
        "SecurityEventLost",
        "ResetRequested",
        "ResetDeadLettered",
        FINDINGS_METRIC,
        "MfaVerifySucceeded",
        "TokenRefreshInvalidGrant",
        "LogoutOriginNotVerified",
        "RouteNotFound",
    } <= emitted
    assert "ColdStart" in emitted
    assert "RefreshSucceeded" not in emitted  # the refresh route's prefix is TokenRefresh


def test_every_custom_metric_on_the_dashboard_is_emitted_by_the_code(dashboard) -> None:
    custom = {name for namespace, name in shown_metrics(dashboard) if namespace == CUSTOM_NAMESPACE}
    assert custom, "the dashboard shows no custom metric"
    assert custom <= emitted_metrics(), f"not emitted by any code: {sorted(custom - emitted_metrics())}"
    assert {ns for ns, _ in shown_metrics(dashboard)} <= {CUSTOM_NAMESPACE, "AWS/Lambda", "AWS/SQS"}


def test_dashboard_covers_what_operators_asked_for(dashboard) -> None:
    titles = " | ".join(widget["properties"]["title"] for widget in dashboard["widgets"])
    for words in (
        "Login outcomes",
        "Session outcomes",
        "Breach events",
        "Tenant findings",
        "errors",
        "Cold starts",
        "p99",
    ):
        assert words in titles
    names = {name for _, name in shown_metrics(dashboard)}
    assert {
        "LoginSucceeded",
        "LoginInvalidGrant",
        "LoginTooManyAttempts",
        "LoginPasswordLeaked",
        "LoginMfaRequired",
    } <= names
    assert {"ResetRequested", "ResetDeadLettered", "TenantFindings", "Errors", "Duration"} <= names
    assert {
        "MfaVerifySucceeded",
        "MfaVerifyInvalidGrant",
        "TokenRefreshSucceeded",
        "LogoutSucceeded",
    } <= names


def test_dashboard_shows_the_session_function_wherever_it_shows_the_login_function(template) -> None:
    body = template["Resources"]["OperationsDashboard"]["Properties"]["DashboardBody"]["Sub"][0]
    assert body.count("${LoginFunction}") == body.count("${SessionFunction}") > 0
    assert body.count("${LoginFunctionLogGroup}") == body.count("${SessionFunctionLogGroup}") > 0
    assert "ropguard-session" in body


def test_the_tenants_rate_limit_is_alarmed_in_both_api_functions(template) -> None:
    """One alarm over both functions: the metric the shedding hook counts on Auth0's answer."""
    alarm = template["Resources"]["Auth0TenantRateLimitAlarm"]["Properties"]
    variables = {
        name: template["Resources"][name]["Properties"]["Environment"]["Variables"]
        for name in ("LoginFunction", "SessionFunction")
    }
    stats = {query["Id"]: query["MetricStat"] for query in alarm["Metrics"] if "MetricStat" in query}
    watched = {
        (stat["Metric"]["Namespace"], stat["Metric"]["MetricName"], stat["Metric"]["Dimensions"][0]["Value"])
        for stat in stats.values()
    }
    services = {v["POWERTOOLS_SERVICE_NAME"] for v in variables.values()}
    namespace = template["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    assert watched == {(namespace, TENANT_RATE_LIMITED, service) for service in services}
    [expression] = [query for query in alarm["Metrics"] if "Expression" in query]
    assert expression["ReturnData"] is True
    assert set(re.findall(r"FILL\((\w+), 0\)", expression["Expression"])) == set(stats)
    assert (alarm["Threshold"], alarm["ComparisonOperator"], alarm["TreatMissingData"]) == (
        0,
        "GreaterThanThreshold",
        "notBreaching",
    )


def test_dashboard_url_is_an_output(template) -> None:
    assert "OperationsDashboard" in template["Outputs"]["DashboardUrl"]["Value"]["Sub"]


def test_tenant_check_is_deployed_only_with_a_management_secret(template) -> None:
    resources = template["Resources"]
    assert template["Conditions"]["HasTenantCheck"] == {
        "Not": [{"Equals": [{"Ref": "TenantManagementSecretArn"}, ""]}]
    }
    tenant_resources = [name for name in resources if name.startswith("Tenant")]
    assert set(tenant_resources) >= {"TenantCheckFunction", "TenantCheckFunctionRole", "TenantFindingsAlarm"}
    for name in tenant_resources:
        assert resources[name]["Condition"] == "HasTenantCheck", name
    assert template["Parameters"]["TenantCheckSchedule"]["Default"] == "rate(1 day)"


def test_tenant_check_schedule_alarm_and_environment(template) -> None:
    function = template["Resources"]["TenantCheckFunction"]["Properties"]
    event = function["Events"]["Scheduled"]
    assert event["Type"] == "ScheduleV2"
    assert event["Properties"]["ScheduleExpression"] == {"Ref": "TenantCheckSchedule"}
    variables = function["Environment"]["Variables"]
    assert variables["TENANT_CHECK_PROVE"] == {"Ref": "TenantCheckProve"}
    assert variables["ROPGUARD_MANAGEMENT_SECRET_ID"] == {"Ref": "TenantManagementSecretArn"}
    alarm = template["Resources"]["TenantFindingsAlarm"]["Properties"]
    assert (alarm["MetricName"], alarm["Threshold"], alarm["ComparisonOperator"]) == (
        FINDINGS_METRIC,
        0,
        "GreaterThanThreshold",
    )
    assert alarm["Dimensions"] == [{"Name": "service", "Value": variables["POWERTOOLS_SERVICE_NAME"]}]


def test_tenant_check_knows_every_deployed_route(template) -> None:
    """ROPGUARD_ROUTES decides which grant types the scheduled check demands: it must list the
    template's HttpApi routes (add a new route there when you add it to the template)."""
    variables = template["Resources"]["TenantCheckFunction"]["Properties"]["Environment"]["Variables"]
    declared = {" ".join(route.split()) for route in variables["ROPGUARD_ROUTES"].split(",")}
    assert declared == set(routes_from_template(ROOT / "template.yaml"))


MANAGEMENT_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:auth0/management-AbCdEf"


def tenant_check_statements(translated: dict[str, Any], prove: str) -> list[dict[str, Any]]:
    """The role's statements as deployed with a management secret and ``TenantCheckProve=prove``."""
    parameters = {
        "TenantManagementSecretArn": MANAGEMENT_SECRET,
        "TenantCheckProve": prove,
        "Tracing": "Disabled",
    }
    role = deployed(translated, "request-context", parameters)["Resources"]["TenantCheckFunctionRole"]
    statements: list[dict[str, Any]] = role["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    return statements


def test_tenant_check_role_is_least_privilege() -> None:
    translated = translated_template()
    statements = tenant_check_statements(translated, "true")  # the most it may do
    actions = sorted(
        a for s in statements for a in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    )
    assert actions == ["logs:CreateLogStream", "logs:PutLogEvents", "secretsmanager:GetSecretValue"]
    assert "*" not in json.dumps([s["Resource"] for s in statements])
    schedule_role = translated["Resources"]["TenantCheckFunctionScheduledRole"]
    policy = json.dumps(schedule_role["Properties"]["Policies"])
    assert "lambda:InvokeFunction" in policy
    assert '"*"' not in policy


@pytest.mark.parametrize("prove", ["false", "true"])
def test_tenant_check_reads_the_login_secret_only_to_prove(prove: str) -> None:
    statements = tenant_check_statements(translated_template(), prove)
    [readable] = [s["Resource"] for s in statements if s["Action"] == "secretsmanager:GetSecretValue"]
    login_secret = {"Ref": "Auth0ClientSecret"}  # the stack creates it (no ExistingAuth0SecretArn)
    expected = [{"Ref": "TenantManagementSecretArn"}] + ([login_secret] if prove == "true" else [])
    assert readable == expected


def test_the_function_package_holds_the_doctor_and_the_desired_state() -> None:
    code = ROOT / "functions" / "tenant_check"
    assert (code / "ropguard_doctor").resolve() == ROOT / "ropguard_doctor"
    assert (code / "tenant.yaml").resolve() == ROOT / "auth0" / "tenant.yaml"
    assert "PyYAML" in (code / "requirements.txt").read_text()
