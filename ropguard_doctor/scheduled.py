"""The scheduled tenant check: what ``TenantCheckFunction`` runs, and ``python -m`` runs locally.

``run_tenant_check`` reads the tenant (and, when enabled, proves the forwarded address), and
returns the findings; the handler turns them into log lines and the ``TenantFindings`` metric.
A failed proof counts as one finding. Could-not-check is not a finding: it raises, the handler
emits ``TenantCheckFailed`` and the invocation fails (so Lambda's ``Errors`` counts it too).

``python -m ropguard_doctor.scheduled`` runs the same function against the offline stack's tenant
(or the one the environment names, as for ``ropguard-doctor``) and prints what the handler would
log and emit, for ``make tenant-check``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ropguard.errors import RopguardError
from ropguard_doctor.check import check, read_tenant
from ropguard_doctor.config import Options, resolve
from ropguard_doctor.desired import load_desired_state
from ropguard_doctor.findings import Finding, sort_findings
from ropguard_doctor.management import ManagementApi
from ropguard_doctor.prove import LogReader, Proof, Prover

#: The metrics the handler emits (the dashboard and the alarms read them).
FINDINGS_METRIC = "TenantFindings"
CHECK_FAILED_METRIC = "TenantCheckFailed"
PROVE_VARIABLE = "TENANT_CHECK_PROVE"
#: The function waits less for Auth0's logs than the CLI: its timeout bounds the whole run.
SCHEDULED_LOG_WAIT_SECONDS = 45.0


@dataclass(frozen=True)
class TenantCheckResult:
    base_url: str
    findings: tuple[Finding, ...]
    proof: Proof | None = None
    notice: str | None = None

    @property
    def finding_count(self) -> int:
        return len(self.findings) + (1 if self.proof is not None and not self.proof.passed else 0)

    def summary(self) -> dict[str, Any]:
        return {
            "tenant": self.base_url,
            FINDINGS_METRIC: self.finding_count,
            "findings": [finding.to_json() for finding in sort_findings(self.findings)],
            "proof": self.proof.to_json() if self.proof else None,
        }


def prove_enabled(env: Mapping[str, str]) -> bool:
    return env.get(PROVE_VARIABLE, "").strip().lower() == "true"


def run_tenant_check(env: Mapping[str, str], tenant_file: Path | None = None) -> TenantCheckResult:
    """Check (and prove, when ``TENANT_CHECK_PROVE=true``); raises ``RopguardError`` when it cannot."""
    proving = prove_enabled(env)
    # the login client's secret only for the proof; the check takes its id from AUTH0_CLIENT_ID
    options = Options(tenant_file=tenant_file, need_login_secret=proving, read_login_secret=proving)
    target = resolve(options, env)
    with ManagementApi(target.base_url, target.management) as api:
        desired = load_desired_state(target.tenant_file, target.variables)
        findings = tuple(check(read_tenant(api, desired), desired, target.context))
        proof = None
        if proving and target.login is not None:
            logs = LogReader(api, wait_seconds=SCHEDULED_LOG_WAIT_SECONDS)
            prover = Prover.for_target(target, target.login, api, logs)
            try:
                proof = prover.prove()
            finally:
                prover.http.close()
    return TenantCheckResult(target.base_url, findings, proof, target.notice)


def main() -> int:
    """Run the scheduled check once, here, and print its log lines and metric as JSON lines."""
    try:
        result = run_tenant_check(os.environ)
    except RopguardError as exc:
        print(json.dumps({"message": "tenant check failed", "error": str(exc), CHECK_FAILED_METRIC: 1}))
        return 2
    if result.notice:
        print(json.dumps({"message": "tenant check notice", "notice": result.notice}))
    for finding in sort_findings(result.findings):
        print(json.dumps({"message": "tenant finding", **finding.to_json()}))
    if result.proof is not None:
        print(json.dumps({"message": "tenant proof", **result.proof.to_json()}))
    print(
        json.dumps(
            {"message": "tenant check done", "tenant": result.base_url, FINDINGS_METRIC: result.finding_count}
        )
    )
    return 1 if result.finding_count else 0


if __name__ == "__main__":
    sys.exit(main())
