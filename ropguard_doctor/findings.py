"""What ``check`` reports: one finding per problem, with its severity, what it breaks and the fix."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class FindingKind(StrEnum):
    HEADER_NOT_TRUSTED = "header_not_trusted"
    AUTH_METHOD_NONE = "auth_method_none"
    AUTH_METHOD_MISMATCH = "auth_method_mismatch"
    GRANT_TYPE_MISSING = "grant_type_missing"
    PROTECTION_DISABLED = "protection_disabled"
    PROTECTION_NOT_BLOCKING = "protection_not_blocking"
    ALLOWLIST_EVERYONE = "allowlist_everyone"
    ALLOWLIST_TOO_WIDE = "allowlist_too_wide"
    ALLOWLIST_EGRESS_ADDRESS = "allowlist_egress_address"
    REFRESH_ROTATION_WITHOUT_LEEWAY = "refresh_rotation_without_leeway"
    DRIFT = "drift"


@dataclass(frozen=True)
class Finding:
    """One problem; ``field`` is a dotted path such as ``client.grant_types`` or
    ``brute-force-protection.allowlist``; ``actual``/``expected`` are the API's values."""

    kind: FindingKind
    severity: Severity
    field: str
    actual: Any
    expected: Any
    breaks: str
    fix: str

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "severity": self.severity.value,
            "field": self.field,
            "actual": self.actual,
            "expected": self.expected,
            "breaks": self.breaks,
            "fix": self.fix,
        }


_ORDER = list(Severity)


def sort_findings(findings: Sequence[Finding]) -> list[Finding]:
    return sorted(findings, key=lambda finding: (_ORDER.index(finding.severity), finding.field))


def summary(findings: Sequence[Finding]) -> str:
    if not findings:
        return "clean: no findings"
    counts = Counter(finding.severity for finding in findings)
    parts = ", ".join(f"{counts[severity]} {severity.value}" for severity in Severity if counts[severity])
    return f"{len(findings)} finding{'s' if len(findings) != 1 else ''} ({parts})"


def render_text(findings: Sequence[Finding], heading: str) -> str:
    lines = [heading]
    for finding in sort_findings(findings):
        lines += [
            f"[{finding.severity.value.upper()}] {finding.kind.value}: {finding.field} = "
            f"{json.dumps(finding.actual)}"
            + ("" if finding.expected is None else f" (expected {json.dumps(finding.expected)})"),
            f"    breaks: {finding.breaks}",
            f"    fix:    {finding.fix}",
        ]
    lines.append(summary(findings))
    return "\n".join(lines)
