"""Runs inside a bench venv as a script: import a handler, serve invocations, say when each answered.

Started by ``benchmarks/login.py`` as ``<venv>/bin/python cold_child.py <task dir> <mode>``: the
handler is ``<task dir>/app.py`` (as Lambda loads ``/var/task/app.py``). Nothing but the standard
library is imported here before the handler, so the parent's clock (process spawn to the first
line on stdout) measures what a cold start costs the function itself.

Modes: ``cold`` serves one login; ``breach`` serves a login, then two breached-password logins and
prints each invocation's own duration.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from dataclasses import dataclass
from typing import Any

#: Prefix of the lines the parent reads (Powertools prints log lines and metrics on stdout too).
MARK = "@@bench "


def event(username: str) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": "POST /login",
        "rawPath": "/login",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "requestId": "bench",
            "http": {"method": "POST", "path": "/login", "sourceIp": "203.0.113.7"},
        },
        "body": json.dumps({"username": username, "password": "correct horse battery staple"}),
        "isBase64Encoded": False,
    }


@dataclass
class Context:
    """Enough of the Lambda context for Powertools' Logger."""

    function_name: str = "bench"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 15_000


def main() -> None:
    task, mode = sys.argv[1], sys.argv[2]
    sys.path.insert(0, task)  # Lambda puts the task root first on sys.path
    spec = importlib.util.spec_from_file_location("app", f"{task}/app.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = sys.__stdout__
    assert out is not None
    first = module.lambda_handler(event("alice@example.com"), Context())
    out.write(MARK + json.dumps({"status": first["statusCode"]}) + "\n")
    out.flush()
    if mode == "breach":
        timings = []
        for _ in range(2):
            started = time.perf_counter()
            answer = module.lambda_handler(event("breached.bob@example.com"), Context())
            timings.append((time.perf_counter() - started) * 1000)
            assert answer["statusCode"] == 401, answer
        out.write(MARK + json.dumps({"breach_ms": timings}) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
