"""Lambda SnapStart hooks, when the runtime has them.

With SnapStart (template parameter ``SnapStart=PublishedVersions``) Lambda snapshots the execution
environment after init and resumes copies of it. Sockets and TLS sessions do not survive that, and
a snapshot must never hold a secret, so the handlers build their services (httpx clients, secret
cache) on the first invocation, never at import, and drop them after a restore so the next
invocation builds fresh ones. The hooks come from the Lambda Python runtime's
``snapshot_restore_py`` module; elsewhere (tests, the offline stack, the benchmark) it is absent and
registering is a no-op.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any


def _runtime_hook() -> Callable[..., Any] | None:
    try:  # only the Lambda Python runtime ships this module
        module = importlib.import_module("snapshot_restore_py")
    except ImportError:
        return None
    hook: Callable[..., Any] = module.register_after_restore
    return hook


_register_after_restore = _runtime_hook()


def available() -> bool:
    """True inside a Lambda runtime that offers SnapStart hooks."""
    return _register_after_restore is not None


def after_restore(hook: Callable[[], None]) -> Callable[[], None]:
    """Run ``hook`` after each restore from a snapshot (nothing happens without the runtime module)."""
    if _register_after_restore is not None:
        _register_after_restore(hook)
    return hook
