"""Fixture handlers for the local HTTP API: they answer with what they received."""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from offline_fixture_layer import layer_marker  # type: ignore[import-not-found]  # on sys.path as a layer

SEEN_AT_IMPORT = os.environ.get("SERVICE_NAME")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    if event.get("rawPath", "").startswith("/files/boom"):
        raise RuntimeError("the fixture handler failed on purpose")
    answer = {
        "event": event,
        "context": {
            "function_name": context.function_name,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "aws_request_id": context.aws_request_id,
        },
        "environment": {
            name: os.environ.get(name)
            for name in (
                "SERVICE_NAME",
                "SHARED_GREETING",
                "TOPIC_ARN",
                "TABLE_NAME",
                "SECRET_ID",
                "DOMAIN",
                "API_URL",
                "AWS_ENDPOINT_URL",
                "AWS_LAMBDA_FUNCTION_NAME",
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            )
        },
        "seen_at_import": SEEN_AT_IMPORT,
        "layer": layer_marker(),
    }
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-echo": "yes"},
        "multiValueHeaders": {"x-multi": ["one", "two"]},  # payload format 1.0's: ignored
        "cookies": ["a=1; Path=/", "b=2"],
        "body": json.dumps(answer),
    }


def shapes(event: dict[str, Any], context: Any) -> Any:
    """Each path answers with one of the result shapes API Gateway accepts."""
    shape = event["pathParameters"]["shape"]
    if shape == "plain-dict":
        return {"hello": "world", "service": os.environ.get("SERVICE_NAME")}
    if shape == "string":
        return "just a string"
    if shape == "binary":
        return {
            "statusCode": 200,
            "headers": {"content-type": "image/png"},
            "body": base64.b64encode(b"\x89PNG\x00\xff").decode(),
            "isBase64Encoded": True,
        }
    if shape == "bad-status":
        return {"statusCode": "teapot"}
    return {"statusCode": 204}
