"""``check``: the tenant as read from the Management API, judged rule by rule and against tenant.yaml.

The rules name what each problem breaks for ropguard: Auth0 silently ignores
``auth0-forwarded-for`` unless the client is confidential and trusts it, and an allowlist that is
too wide exempts the very traffic attack protection should count. Drift reports every other field
of tenant.yaml that differs; a field a rule already reported is not reported twice.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ropguard.settings import CLIENT_SECRET_POST
from ropguard_doctor.desired import DesiredState, ProtectionKind
from ropguard_doctor.findings import Finding, FindingKind, Severity
from ropguard_doctor.management import ManagementApi
from ropguard_doctor.routes import required_grants

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
#: Widest allowlist entries that are still one site (a /24 of IPv4, a /48 of IPv6).
MAX_IPV4_PREFIX = 24
MAX_IPV6_PREFIX = 48
#: Client fields the rules read besides those tenant.yaml names.
RULE_CLIENT_FIELDS = (
    "client_id",
    "token_endpoint_auth_method",
    "is_token_endpoint_ip_header_trusted",
    "grant_types",
    "refresh_token",
)
_WITH_ALLOWLIST: tuple[ProtectionKind, ...] = ("brute-force-protection", "suspicious-ip-throttling")
_NAMES: Mapping[ProtectionKind, str] = {
    "brute-force-protection": "brute-force protection",
    "suspicious-ip-throttling": "suspicious-IP throttling",
    "breached-password-detection": "breached-password detection",
}
_BLOCK_BREAKS: Mapping[ProtectionKind, str] = {
    "brute-force-protection": "password guessing against one user from one address is never stopped",
    "suspicious-ip-throttling": "one address trying many users is never throttled",
    "breached-password-detection": "logins with passwords known from data breaches succeed",
}


@dataclass(frozen=True)
class TenantState:
    """What the Management API returned for the login client and the three settings."""

    client: Mapping[str, Any]
    protections: Mapping[ProtectionKind, Mapping[str, Any]]


@dataclass(frozen=True)
class CheckContext:
    """What the tenant alone cannot say: the deployment's routes, realm and egress addresses."""

    routes: tuple[str, ...] = ()
    realm: str | None = None
    egress: tuple[IpAddress, ...] = field(default_factory=tuple)
    #: How the deployment authenticates the login client (``AUTH0_CLIENT_AUTH_METHOD``).
    client_auth_method: str = CLIENT_SECRET_POST


def read_tenant(api: ManagementApi, desired: DesiredState) -> TenantState:
    fields = tuple(dict.fromkeys((*RULE_CLIENT_FIELDS, *desired.client)))
    client = api.client(desired.client_id, fields)
    protections = {kind: api.protection(kind) for kind in desired.protections}
    return TenantState(client=client, protections=protections)


def check(state: TenantState, desired: DesiredState, context: CheckContext) -> list[Finding]:
    client_id = desired.client_id
    findings = [
        *_client_rules(state.client, client_id, context),
        *(finding for kind, value in state.protections.items() for finding in _protection_rules(kind, value)),
        *(finding for kind in _WITH_ALLOWLIST for finding in _allowlist_rules(kind, state, context)),
    ]
    # The auth method is judged against the deployment's setting, never tenant.yaml's copy of it.
    reported = {finding.field for finding in findings} | {"client.token_endpoint_auth_method"}
    findings += [
        finding
        for finding in drift(state, desired)
        if not any(finding.field == path or finding.field.startswith(f"{path}.") for path in reported)
    ]
    return findings


# -- the login client ----------------------------------------------------------------------------


def _patch_client(client_id: str, body: Mapping[str, Any]) -> str:
    return f"PATCH /api/v2/clients/{client_id} {json.dumps(body)} (or `ropguard-doctor apply`)"


def _auth_method_rules(method: Any, client_id: str, context: CheckContext) -> list[Finding]:
    """The client must be confidential, and authenticate the way the deployment sends its secret."""
    configured = context.client_auth_method
    fix = _patch_client(client_id, {"token_endpoint_auth_method": configured}) + (
        "; Dashboard: Applications > the login application > Credentials > Authentication Method: "
        + ("Client Secret (Basic)" if configured == "client_secret_basic" else "Client Secret (Post)")
        + "; or set AUTH0_CLIENT_AUTH_METHOD to the tenant's method"
    )
    if method == "none" or method is None:
        return [
            Finding(
                FindingKind.AUTH_METHOD_NONE,
                Severity.CRITICAL,
                "client.token_endpoint_auth_method",
                method,
                configured,
                "a public client cannot be trusted with auth0-forwarded-for: Auth0 ignores the header "
                "and counts this server's address; ropguard's secret is not checked",
                fix,
            )
        ]
    if method != configured:
        return [
            Finding(
                FindingKind.AUTH_METHOD_MISMATCH,
                Severity.CRITICAL,
                "client.token_endpoint_auth_method",
                method,
                configured,
                f"ropguard sends the client secret as {configured} and Auth0 expects {method}: "
                "every call to Auth0 fails with invalid_client",
                fix,
            )
        ]
    return []


def _client_rules(client: Mapping[str, Any], client_id: str, context: CheckContext) -> list[Finding]:
    findings = []
    trusted = client.get("is_token_endpoint_ip_header_trusted")
    if trusted is not True:
        findings.append(
            Finding(
                FindingKind.HEADER_NOT_TRUSTED,
                Severity.CRITICAL,
                "client.is_token_endpoint_ip_header_trusted",
                trusted,
                True,
                "Auth0 ignores auth0-forwarded-for without an error and counts this server's address for "
                "every user: one attacker gets everyone blocked, or an allowlisted server exempts everyone",
                _patch_client(client_id, {"is_token_endpoint_ip_header_trusted": True})
                + "; Dashboard: Applications > the login application > Settings > Advanced Settings > "
                "OAuth > Trust Token Endpoint IP Header: on",
            )
        )
    findings += _auth_method_rules(client.get("token_endpoint_auth_method"), client_id, context)
    grants = client.get("grant_types")
    granted = set(grants) if isinstance(grants, list) else set()
    for route in context.routes:
        missing = [grant for grant in required_grants(route, context.realm) if grant not in granted]
        if missing:
            findings.append(
                Finding(
                    FindingKind.GRANT_TYPE_MISSING,
                    Severity.HIGH,
                    "client.grant_types",
                    grants,
                    sorted(granted | set(missing)),
                    f"{route} fails: Auth0 answers unauthorized_client for {', '.join(missing)}, "
                    "which ropguard turns into 502 server_error",
                    _patch_client(client_id, {"grant_types": sorted(granted | set(missing))})
                    + "; Dashboard: Applications > the login application > Advanced Settings > Grant Types",
                )
            )
    refresh = client.get("refresh_token")
    if isinstance(refresh, Mapping) and refresh.get("rotation_type") == "rotating":
        leeway = refresh.get("leeway")
        if not isinstance(leeway, int) or leeway <= 0:
            findings.append(
                Finding(
                    FindingKind.REFRESH_ROTATION_WITHOUT_LEEWAY,
                    Severity.MEDIUM,
                    "client.refresh_token.leeway",
                    leeway,
                    "> 0",
                    "two concurrent refreshes of one token (two tabs, two Lambda invocations) look like "
                    "reuse: Auth0 revokes the whole token family and the user is logged out",
                    _patch_client(client_id, {"refresh_token": {**refresh, "leeway": 5}})
                    + "; Dashboard: Applications > the login application > Refresh Token Rotation > "
                    "Reuse Interval",
                )
            )
    return findings


# -- attack protection -----------------------------------------------------------------------------


def _patch_protection(kind: ProtectionKind, body: Mapping[str, Any]) -> str:
    return f"PATCH /api/v2/attack-protection/{kind} {json.dumps(body)} (or `ropguard-doctor apply`)"


def _protection_rules(kind: ProtectionKind, setting: Mapping[str, Any]) -> list[Finding]:
    name = _NAMES[kind]
    if setting.get("enabled") is not True:
        return [
            Finding(
                FindingKind.PROTECTION_DISABLED,
                Severity.HIGH,
                f"{kind}.enabled",
                setting.get("enabled"),
                True,
                f"{name} is off: {_BLOCK_BREAKS[kind]}",
                _patch_protection(kind, {"enabled": True}) + "; Dashboard: Security > Attack Protection",
            )
        ]
    shields = setting.get("shields")
    shield_list = list(shields) if isinstance(shields, list) else []
    if "block" not in shield_list:
        return [
            Finding(
                FindingKind.PROTECTION_NOT_BLOCKING,
                Severity.HIGH,
                f"{kind}.shields",
                shields,
                sorted({*shield_list, "block"}),
                f"{name} only notifies: {_BLOCK_BREAKS[kind]}",
                _patch_protection(kind, {"shields": sorted({*shield_list, "block"})})
                + "; Dashboard: Security > Attack Protection",
            )
        ]
    return []


def _allowlist_rules(kind: ProtectionKind, state: TenantState, context: CheckContext) -> list[Finding]:
    setting = state.protections.get(kind)
    if setting is None:
        return []
    entries = setting.get("allowlist")
    if not isinstance(entries, list):
        return []
    trusted = state.client.get("is_token_endpoint_ip_header_trusted") is True
    findings = []
    for entry in entries:
        problem = _allowlist_problem(str(entry), context.egress, trusted)
        if problem is None:
            continue
        finding_kind, severity, breaks = problem
        kept = [item for item in entries if item != entry]
        findings.append(
            Finding(
                finding_kind,
                severity,
                f"{kind}.allowlist",
                entries,
                kept,
                f"{entry}: {breaks}",
                _patch_protection(kind, {"allowlist": kept})
                + "; Dashboard: Security > Attack Protection > "
                + _NAMES[kind]
                + " > Allowlist; keep only single sites' addresses",
            )
        )
    return findings


def _allowlist_problem(
    entry: str, egress: Sequence[IpAddress], trusted: bool
) -> tuple[FindingKind, Severity, str] | None:
    try:
        network = ipaddress.ip_network(entry.strip(), strict=False)
    except ValueError:
        return None
    if network.prefixlen == 0:
        return (
            FindingKind.ALLOWLIST_EVERYONE,
            Severity.CRITICAL,
            "allowlists every address: the protection never counts or blocks anyone",
        )
    widest = MAX_IPV4_PREFIX if network.version == 4 else MAX_IPV6_PREFIX
    if network.prefixlen < widest:
        return (
            FindingKind.ALLOWLIST_TOO_WIDE,
            Severity.HIGH,
            f"wider than /{widest} ({network.num_addresses} addresses): whole networks of strangers "
            "are never counted or blocked",
        )
    own = [str(address) for address in egress if address in network]
    if own:
        consequence = (
            "pointless now that the header is trusted (Auth0 checks the forwarded address), and an "
            "exemption for every user the day it is not"
            if trusted
            else "the header is NOT trusted, so Auth0 sees this address for every login: everyone is exempt"
        )
        return (
            FindingKind.ALLOWLIST_EGRESS_ADDRESS,
            Severity.HIGH,
            f"holds this deployment's own egress address {', '.join(own)}: {consequence}",
        )
    return None


# -- drift from tenant.yaml ------------------------------------------------------------------------


def drift(state: TenantState, desired: DesiredState) -> list[Finding]:
    client_id = desired.client_id
    findings = []
    for key, expected in desired.client_fields.items():
        fix = _patch_client(client_id, {key: expected})
        findings += _compare(expected, state.client.get(key), f"client.{key}", fix)
    for kind, wanted in desired.protections.items():
        actual = state.protections.get(kind, {})
        for key, expected in wanted.items():
            fix = _patch_protection(kind, {key: expected})
            findings += _compare(expected, actual.get(key), f"{kind}.{key}", fix)
    return findings


def _compare(expected: Any, actual: Any, path: str, fix: str) -> list[Finding]:
    """Field by field: nested mappings are compared key by key, each difference its own finding."""
    if isinstance(expected, Mapping) and isinstance(actual, Mapping):
        return [
            finding
            for key, value in expected.items()
            for finding in _compare(value, actual.get(key), f"{path}.{key}", fix)
        ]
    if same(expected, actual):
        return []
    return [
        Finding(
            FindingKind.DRIFT,
            Severity.MEDIUM,
            path,
            actual,
            expected,
            "the tenant differs from auth0/tenant.yaml: what was reviewed is not what runs",
            fix,
        )
    ]


def same(expected: Any, actual: Any) -> bool:
    """Lists compare as sets (order and repetition carry no meaning in grants, shields or allowlists)."""
    if isinstance(expected, list) and isinstance(actual, list):
        return set(map(json.dumps, expected)) == set(map(json.dumps, actual))
    if isinstance(expected, Mapping) or isinstance(actual, Mapping):
        return bool(expected == actual)
    return bool(expected == actual) and type(expected) is type(actual)
