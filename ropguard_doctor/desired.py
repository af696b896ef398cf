"""auth0/tenant.yaml: the tenant's desired state, with ``${VAR}`` substituted, validated.

The file uses the Management API's field names, so the same mapping is compared with what
``GET`` returns and sent as the ``PATCH`` body; this module only reads and substitutes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from ropguard_doctor.errors import TenantFileError

ProtectionKind = Literal["brute-force-protection", "suspicious-ip-throttling", "breached-password-detection"]

#: auth0-deploy-cli's ``attackProtection:`` keys and the Management API path each one lives at.
PROTECTION_KEYS: Mapping[str, ProtectionKind] = {
    "bruteForceProtection": "brute-force-protection",
    "suspiciousIpThrottling": "suspicious-ip-throttling",
    "breachedPasswordDetection": "breached-password-detection",
}

#: The only variables ``${VAR}`` may name (docs/operations.md): none holds a secret, so no value a
#: finding prints can come from one. Any other name is an error, even with a default.
TENANT_FILE_VARIABLES = (
    "AUTH0_CLIENT_ID",
    "ROPGUARD_BRUTE_FORCE_ALLOWLIST",
    "ROPGUARD_SUSPICIOUS_IP_ALLOWLIST",
)
#: Client fields that hold secrets: the doctor never reads them, so a drift finding cannot print one.
SECRET_CLIENT_FIELDS = frozenset({"client_secret", "signing_keys", "encryption_key"})

_VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}")
_WHOLE_VARIABLE = re.compile(r"\A" + _VARIABLE.pattern + r"\Z")


@dataclass(frozen=True)
class DesiredState:
    """The login client's fields and the three attack-protection settings, as the API spells them."""

    client: Mapping[str, Any]
    protections: Mapping[ProtectionKind, Mapping[str, Any]]
    source: str

    @property
    def client_id(self) -> str:
        return str(self.client["client_id"])

    @property
    def client_fields(self) -> dict[str, Any]:
        """The client's fields without its identity (what is compared and PATCHed)."""
        return {key: value for key, value in self.client.items() if key != "client_id"}


def load_desired_state(path: Path, variables: Mapping[str, str]) -> DesiredState:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TenantFileError(f"{path}: cannot read ({exc.strerror})") from None
    return parse_desired_state(text, variables, str(path))


def parse_desired_state(text: str, variables: Mapping[str, str], source: str = "tenant.yaml") -> DesiredState:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise TenantFileError(f"{source}: not valid YAML ({exc})") from None
    if not isinstance(document, dict):
        raise TenantFileError(f"{source}: must be a mapping with clients and attackProtection")
    unknown = sorted(set(document) - {"clients", "attackProtection"})
    if unknown:
        raise TenantFileError(f"{source}: unknown top-level key(s) {', '.join(unknown)}")
    document = substitute(document, variables, source)
    clients = document.get("clients")
    if not isinstance(clients, list) or len(clients) != 1 or not isinstance(clients[0], dict):
        raise TenantFileError(f"{source}: clients must be a list holding exactly the login client")
    client = clients[0]
    if not isinstance(client.get("client_id"), str) or not client["client_id"]:
        raise TenantFileError(f"{source}: clients[0].client_id must be a non-empty string")
    secret = sorted(SECRET_CLIENT_FIELDS & set(client))
    if secret:
        raise TenantFileError(
            f"{source}: clients[0]: {', '.join(secret)} holds a secret; the doctor never reads one"
        )
    attack = document.get("attackProtection")
    if not isinstance(attack, dict):
        raise TenantFileError(f"{source}: attackProtection must be a mapping")
    unknown = sorted(set(attack) - set(PROTECTION_KEYS))
    if unknown:
        raise TenantFileError(
            f"{source}: attackProtection: unknown key(s) {', '.join(unknown)} "
            f"(expected {', '.join(PROTECTION_KEYS)})"
        )
    protections: dict[ProtectionKind, Mapping[str, Any]] = {}
    for key, kind in PROTECTION_KEYS.items():
        setting = attack.get(key)
        if not isinstance(setting, dict):
            raise TenantFileError(f"{source}: attackProtection.{key} must be a mapping")
        protections[kind] = setting
    return DesiredState(client=client, protections=protections, source=source)


def substitute(value: Any, variables: Mapping[str, str], where: str) -> Any:
    """Replace ``${VAR}``/``${VAR:-default}`` in every string; a list item that is exactly one
    variable expands into the comma-separated entries of its value."""
    if isinstance(value, dict):
        return {key: substitute(item, variables, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, list):
        items: list[Any] = []
        for index, item in enumerate(value):
            if isinstance(item, str) and _WHOLE_VARIABLE.match(item.strip()):
                expanded = _replace(item.strip(), variables, f"{where}[{index}]")
                items.extend(entry.strip() for entry in expanded.split(",") if entry.strip())
            else:
                items.append(substitute(item, variables, f"{where}[{index}]"))
        return items
    if isinstance(value, str):
        return _replace(value, variables, where)
    return value


def _replace(text: str, variables: Mapping[str, str], where: str) -> str:
    def one(match: re.Match[str]) -> str:
        name, default = match["name"], match["default"]
        if name not in TENANT_FILE_VARIABLES:
            raise TenantFileError(
                f"{where}: ${{{name}}} is not a variable tenant.yaml may use "
                f"(only {', '.join(TENANT_FILE_VARIABLES)}; see docs/operations.md)"
            )
        if name in variables:
            return variables[name]
        if default is not None:
            return default
        raise TenantFileError(
            f"{where}: ${{{name}}} is not set (export {name}=... or give ${{{name}:-default}})"
        )

    return _VARIABLE.sub(one, text)
