"""Fixture handler for the local runtime's checks: each ``action`` shows one thing about the
execution environment it runs in (its process, its output, its timeout, the extension)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from offline_fixture_layer import layer_marker  # type: ignore[import-not-found]  # on the path as a layer

STARTED_AT = time.time()


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    action = event.get("action")
    if action == "print":
        print(f"printed by the handler: {event['text']}")
    elif action == "sleep":
        time.sleep(float(event["seconds"]))
    elif action == "rendezvous":  # wait until `parties` invocations run at once (one per worker)
        directory = Path(event["directory"])
        (directory / context.aws_request_id).touch()
        while len(list(directory.iterdir())) < event["parties"]:
            time.sleep(0.01)
    elif action == "exit":  # the runtime process ends mid-invocation, by status or by signal
        if "signal" in event:
            os.kill(os.getpid(), event["signal"])
        os._exit(event["status"])
    elif action == "secret":
        return read_secret(event.get("token", os.environ.get("AWS_SESSION_TOKEN", "")), event["query"])
    return {
        "pid": os.getpid(),
        "cwd": os.getcwd(),
        "layer": layer_marker(),
        "environment": {name: os.environ.get(name) for name in event.get("variables", [])},
        "context": {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "aws_request_id": context.aws_request_id,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }


def read_secret(token: str, query: str) -> dict[str, Any]:
    """GET the Parameters and Secrets extension as a function does, on the port it was given."""
    port = os.environ["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"]
    request = urllib.request.Request(
        f"http://localhost:{port}/secretsmanager/get?{query}",
        headers={"X-Aws-Parameters-Secrets-Token": token} if token else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return {"status": answer.status, "body": json.loads(answer.read())}
    except urllib.error.HTTPError as error:
        return {"status": error.code, "body": json.loads(error.read())}
