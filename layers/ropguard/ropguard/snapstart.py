"""Lambda SnapStart hooks, when the runtime has them.

With SnapStart (template parameter ``SnapStart=PublishedVersions``) Lambda snapshots the execution
environment after init and resumes copies of it. Sockets and TLS sessions do not survive that, and
a snapshot must never hold a secret, so the handlers build their services (pooled connections, secret
cache) on the first invocation, never at import, and drop them after a restore so the next
invocation builds fresh ones. The hooks come from the Lambda Python runtime's
``snapshot_restore_py`` module; elsewhere (tests, the offline stack, the benchmark) it is absent and
registering is a no-op.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any


def _runtime_hook(name: str) -> Callable[..., Any] | None:
    try:  # only the Lambda Python runtime ships this module
        module = importlib.import_module("snapshot_restore_py")
    except ImportError:
        return None
    hook: Callable[..., Any] = getattr(module, name)
    return hook


_register_after_restore = _runtime_hook("register_after_restore")
_register_before_snapshot = _runtime_hook("register_before_snapshot")

#: What the first invocation imports anyway (certifi for the tenant's https, and boto3 for secrets
#: when the extension is absent, as it always is with SnapStart): imported before the snapshot,
#: restores skip it.
FIRST_CALL_MODULES = ("certifi",)
SECRETS_WITHOUT_EXTENSION_MODULES = ("boto3", "aws_lambda_powertools.utilities.parameters")


def available() -> bool:
    """True inside a Lambda runtime that offers SnapStart hooks."""
    return _register_after_restore is not None


def after_restore(hook: Callable[[], None]) -> Callable[[], None]:
    """Run ``hook`` after each restore from a snapshot (nothing happens without the runtime module)."""
    if _register_after_restore is not None:
        _register_after_restore(hook)
    return hook


def before_snapshot(hook: Callable[[], None]) -> Callable[[], None]:
    """Run ``hook`` once before Lambda takes the snapshot (nothing happens without the runtime module)."""
    if _register_before_snapshot is not None:
        _register_before_snapshot(hook)
    return hook


def import_for_first_call(env: Mapping[str, str] | None = None) -> list[str]:
    """Import the modules the first invocation would (never a secret, never a socket); their names."""
    env = os.environ if env is None else env
    names = list(FIRST_CALL_MODULES)
    if not env.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"):
        names += SECRETS_WITHOUT_EXTENSION_MODULES
    for name in names:
        importlib.import_module(name)
    return names
