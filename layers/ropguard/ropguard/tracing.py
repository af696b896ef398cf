"""X-Ray tracing that costs nothing when it is off.

Powertools' ``Tracer()`` imports the X-Ray SDK (~85 ms of a cold start) even when
``POWERTOOLS_TRACE_DISABLED`` is true. Handlers and services therefore get tracing only through
``traced`` and ``traced_method``, which ask ``ropguard.settings.tracing_enabled`` when they decorate
(at import, once per container) and return the function untouched when tracing is off: nothing
X-Ray is imported. When it is on (template parameter ``Tracing=Active``) they apply Powertools'
Tracer as before, never capturing responses: a login response holds tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from ropguard.settings import tracing_enabled

F = TypeVar("F", bound=Callable[..., Any])


def traced(handler: F) -> F:
    """A Lambda handler, traced with ``capture_response=False`` when tracing is on; else itself."""
    if not tracing_enabled():
        return handler
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - the X-Ray SDK only when tracing is on

    return cast(F, Tracer().capture_lambda_handler(handler, capture_response=False))


def traced_method(method: F) -> F:
    """A service method as a subsegment (response never captured) when tracing is on; else itself."""
    if not tracing_enabled():
        return method
    from aws_lambda_powertools import Tracer  # noqa: PLC0415 - see traced

    return Tracer().capture_method(capture_response=False)(method)
