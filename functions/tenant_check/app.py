"""Scheduled tenant check: decorators plus one call to ``ropguard_doctor.scheduled.run_tenant_check``.

EventBridge Scheduler invokes it (daily by default). Each finding becomes one warning log line
(field, values, what it breaks, the fix: never a secret), ``TenantFindings`` is emitted every run
(0 when clean, so the alarm sees data), and a run that could not check emits ``TenantCheckFailed``
and fails. ``ropguard_doctor`` and ``tenant.yaml`` are symlinks that ``sam build`` copies in. Like
every function, its service (the check bound to its environment and tenant file) is built once per
container by ``ropguard.snapstart.per_container``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from ropguard.errors import RopguardError
from ropguard.settings import environment
from ropguard.snapstart import per_container
from ropguard_doctor.findings import sort_findings
from ropguard_doctor.scheduled import (
    CHECK_FAILED_METRIC,
    FINDINGS_METRIC,
    TenantCheckResult,
    run_tenant_check,
)

logger = Logger()
metrics = Metrics()

TENANT_FILE = Path(__file__).resolve().parent / "tenant.yaml"
service = per_container(lambda: partial(run_tenant_check, environment(), TENANT_FILE))


def check_and_report(run: Callable[[], TenantCheckResult]) -> dict[str, Any]:
    """Run the check once; log each finding and the proof, count them (never a secret)."""
    try:
        result = run()
    except RopguardError as exc:
        logger.error("tenant check failed", extra={"error": str(exc)})
        metrics.add_metric(name=CHECK_FAILED_METRIC, unit=MetricUnit.Count, value=1)
        raise
    for finding in sort_findings(result.findings):
        logger.warning("tenant finding", extra=finding.to_json())
    if result.proof is not None:
        log = logger.info if result.proof.passed else logger.warning
        log("tenant proof", extra=result.proof.to_json())
    metrics.add_metric(name=FINDINGS_METRIC, unit=MetricUnit.Count, value=result.finding_count)
    return result.summary()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return check_and_report(service())
