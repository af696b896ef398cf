"""Lambda SnapStart hooks, when the runtime has them.

With SnapStart (template parameter ``SnapStart=PublishedVersions``) Lambda snapshots the execution
environment after init and resumes copies of it. Sockets and TLS sessions do not survive that, and
a snapshot must never hold a secret, so every function builds its service (pooled connections, secret
cache) through ``per_container``: on the first invocation, never at import, dropped after a restore
so the next invocation builds a fresh one. The hooks come from the Lambda Python runtime's
``snapshot_restore_py`` module; elsewhere (tests, the offline stack, the benchmark) it is absent and
registering is a no-op.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from ropguard.settings import SecretStoreSettings


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


def import_for_first_call(secrets: SecretStoreSettings) -> list[str]:
    """Import the modules the first invocation would (never a secret, never a socket); their names."""
    names = list(FIRST_CALL_MODULES)
    if secrets.extension_port is None:
        names += SECRETS_WITHOUT_EXTENSION_MODULES
    for name in names:
        importlib.import_module(name)
    return names


S = TypeVar("S")


class PerContainer(Generic[S]):
    """A function's service, built on the first invocation and reused by the container.

    Built on first use, never at import: a configuration error is then one logged error and an
    answer (``ropguard.edge.serve``, or a batch retried by the reset function), not an init crash,
    and no snapshot ever holds a secret or a socket. Before a snapshot the modules the first call
    needs are imported; after a restore the service is dropped (``close()`` first, when it has
    one), so the next invocation builds a fresh one. ``per_container`` registers both hooks.
    """

    def __init__(self, build: Callable[[], S]) -> None:
        self._build = build
        self._service: S | None = None

    def __call__(self) -> S:
        """The container's service; raises ``ConfigurationError`` (until the configuration is fixed)."""
        if self._service is None:
            self._service = self._build()
        return self._service

    def drop(self) -> None:
        """Forget the service (releasing its connections); the next call builds a new one."""
        service, self._service = self._service, None
        close = getattr(service, "close", None)
        if callable(close):
            close()

    def before_snapshot(self) -> None:
        """Import what the first invocation needs, so restores skip it (no secret, no socket)."""
        import_for_first_call(SecretStoreSettings.from_env())


def per_container(build: Callable[[], S]) -> PerContainer[S]:
    """The one way a function builds its service: once per container, with the SnapStart hooks."""
    service = PerContainer(build)
    before_snapshot(service.before_snapshot)
    after_restore(service.drop)
    return service
