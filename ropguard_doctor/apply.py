"""``apply``: PATCH the login client and the three attack-protection settings to tenant.yaml.

The plan is the drift itself: only fields that differ are sent, so a second ``apply`` finds
nothing to change and sends nothing. A mapping field (``refresh_token``, ``stage``) is sent whole,
as the tenant has it with tenant.yaml's values laid over it, so fields tenant.yaml does not name
are kept.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ropguard_doctor.check import TenantState, drift
from ropguard_doctor.desired import DesiredState, ProtectionKind
from ropguard_doctor.management import ManagementApi


@dataclass(frozen=True)
class Change:
    field: str
    before: Any
    after: Any


@dataclass(frozen=True)
class Plan:
    client_id: str
    client_patch: Mapping[str, Any]
    protection_patches: Mapping[ProtectionKind, Mapping[str, Any]]
    changes: tuple[Change, ...] = field(default_factory=tuple)

    @property
    def empty(self) -> bool:
        return not self.client_patch and not self.protection_patches

    def render_diff(self) -> str:
        if self.empty:
            return "nothing to change: the tenant matches tenant.yaml"
        lines = []
        for change in self.changes:
            lines += [
                f"- {change.field}: {json.dumps(change.before)}",
                f"+ {change.field}: {json.dumps(change.after)}",
            ]
        calls = []
        if self.client_patch:
            calls.append(f"PATCH /api/v2/clients/{self.client_id} {json.dumps(self.client_patch)}")
        calls += [
            f"PATCH /api/v2/attack-protection/{kind} {json.dumps(body)}"
            for kind, body in self.protection_patches.items()
        ]
        return "\n".join([*lines, "", "will send:", *(f"  {call}" for call in calls)])

    def to_json(self) -> dict[str, Any]:
        return {
            "changes": [{"field": c.field, "before": c.before, "after": c.after} for c in self.changes],
            "client_patch": dict(self.client_patch),
            "protection_patches": {kind: dict(body) for kind, body in self.protection_patches.items()},
        }


def plan(state: TenantState, desired: DesiredState) -> Plan:
    client_patch: dict[str, Any] = {}
    protection_patches: dict[ProtectionKind, dict[str, Any]] = {}
    changes = []
    for finding in drift(state, desired):
        changes.append(Change(finding.field, finding.actual, finding.expected))
        target, key = finding.field.split(".")[:2]
        if target == "client":
            client_patch[key] = _merged(state.client.get(key), desired.client[key])
        else:
            kind = _kind(target, desired)
            protection_patches.setdefault(kind, {})[key] = _merged(
                state.protections.get(kind, {}).get(key), desired.protections[kind][key]
            )
    return Plan(desired.client_id, client_patch, protection_patches, tuple(changes))


def execute(api: ManagementApi, chosen: Plan) -> None:
    if chosen.client_patch:
        api.patch_client(chosen.client_id, chosen.client_patch)
    for kind, body in chosen.protection_patches.items():
        api.patch_protection(kind, body)


def _kind(name: str, desired: DesiredState) -> ProtectionKind:
    for kind in desired.protections:
        if kind == name:
            return kind
    raise KeyError(name)


def _merged(actual: Any, wanted: Any) -> Any:
    """``wanted`` laid over ``actual`` for mappings (recursively); otherwise ``wanted``."""
    if isinstance(actual, Mapping) and isinstance(wanted, Mapping):
        merged = dict(actual)
        for key, value in wanted.items():
            merged[key] = _merged(actual.get(key), value)
        return merged
    return wanted
