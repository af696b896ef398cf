"""ropguard.tracing: off means the handler itself and nothing X-Ray imported."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ropguard.settings import tracing_enabled
from ropguard.tracing import traced


def handler(event: dict[str, str], context: object) -> dict[str, str]:
    return event


def test_off_returns_the_handler_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    assert not tracing_enabled()
    assert traced(handler) is handler


def in_a_child(code: str) -> str:
    """What ``code`` prints in a fresh interpreter: what it imports or patches stays there."""
    command = [sys.executable, "-c", code]
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout  # noqa: S603


def test_off_imports_no_xray_sdk() -> None:
    code = (
        "import os, sys; os.environ['POWERTOOLS_TRACE_DISABLED'] = '1'\n"
        "from ropguard.tracing import traced\n"
        "traced(lambda e, c: e)\n"
        "print(any(name.startswith('aws_xray_sdk') for name in sys.modules))"
    )
    out = in_a_child(code)
    assert out.strip() == "False"


def test_on_wraps_the_handler() -> None:
    """In a child: Powertools' Tracer patches botocore and httpx process-wide (X-Ray subsegments),
    which would slow every later test's HTTP calls in this process."""
    code = (
        "import os\n"
        "os.environ.update(POWERTOOLS_TRACE_DISABLED='false', LAMBDA_TASK_ROOT='/var/task')\n"
        "os.environ.pop('AWS_SAM_LOCAL', None)\n"
        "from ropguard.settings import tracing_enabled\n"
        "from ropguard.tracing import traced\n"
        "def handler(event, context):\n"
        "    return event\n"
        "print(tracing_enabled(), traced(handler) is not handler)"
    )
    out = in_a_child(code)
    assert out.split() == ["True", "True"]


def test_outside_lambda_or_under_sam_local_it_is_off() -> None:
    """Where Powertools would disable the Tracer anyway, the X-Ray SDK is not imported."""
    assert not tracing_enabled({"POWERTOOLS_TRACE_DISABLED": "false"})
    sam_local = {
        "POWERTOOLS_TRACE_DISABLED": "false",
        "LAMBDA_TASK_ROOT": "/var/task",
        "AWS_SAM_LOCAL": "true",
    }
    assert not tracing_enabled(sam_local)
