"""Reading Powertools metrics back from captured stdout (CloudWatch embedded metric format)."""

from __future__ import annotations

import json


def metric_totals(out: str) -> dict[str, float]:
    """Each metric name in the EMF lines of ``out``, with its values summed over all lines."""
    totals: dict[str, float] = {}
    for line in out.splitlines():
        if '"_aws"' not in line:
            continue
        blob = json.loads(line)
        for definition in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]:
            value = blob[definition["Name"]]
            totals[definition["Name"]] = totals.get(definition["Name"], 0) + (
                sum(value) if isinstance(value, list) else value
            )
    return totals
