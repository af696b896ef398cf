"""Tracing for handlers, only when it is on: ``traced(handler)``.

With ``POWERTOOLS_TRACE_DISABLED`` true nothing X-Ray is imported (the SDK costs cold-start time);
otherwise Powertools' ``Tracer().capture_lambda_handler(capture_response=False)`` wraps the handler
(responses hold tokens, so they are never captured).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

_TRUE = ("1", "true", "yes", "on")


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() not in _TRUE


def traced(handler: F) -> F:
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - only when tracing is on

    wrapped: F = Tracer().capture_lambda_handler(capture_response=False)(handler)
    return wrapped
