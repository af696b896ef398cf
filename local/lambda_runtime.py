"""Run a template's functions in this process the way Lambda runs them: the handler loaded from
its CodeUri with its layers importable, the template's environment, and a Lambda context.

Every function's module is called ``app``, so each is loaded from its file under a name of its
own. Functions share this process's ``os.environ``, so each function's environment (its template
variables, Lambda's reserved ones and the local overrides) is put in place only around its
import and each invocation, under one process-wide lock, and taken away afterwards: a function
never sees another's variables (``POWERTOOLS_SERVICE_NAME`` differs per function), and the rest
of the process (a test run, say) never sees the stack's. The price is that invocations run one
at a time, which a local stack can afford.
"""

from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from local.template import FunctionSpec

LOG = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Any]


class FunctionTimeoutError(RuntimeError):
    """The handler ran past the template's Timeout; Lambda would have stopped it."""


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object that handlers use."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    deadline_epoch_seconds: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline_epoch_seconds - time.time()) * 1000))


#: Held around every import and invocation of a handler: their environment is process-wide.
INVOCATION_LOCK = threading.RLock()


def function_environments(
    functions: Iterable[FunctionSpec], overrides: Mapping[str, str]
) -> dict[str, dict[str, str | None]]:
    """Each function's variables, with every other function's variables set to None (unset), so
    that patching ``os.environ`` with it leaves nothing behind from another function. Local
    overrides win over every function's value."""
    specs = list(functions)
    names = {name for spec in specs for name in spec.environment}
    return {
        spec.logical_id: {
            **{name: spec.environment.get(name) for name in sorted(names)},
            **overrides,
        }
        for spec in specs
    }


@dataclass
class EnvironmentPatch:
    """Sets (or, for None, unsets) variables in ``os.environ``; ``restore`` puts them back."""

    values: Mapping[str, str | None]
    _previous: dict[str, str | None] = field(default_factory=dict)

    def apply(self) -> None:
        for name, value in self.values.items():
            self._previous.setdefault(name, os.environ.get(name))
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value

    def restore(self) -> None:
        for name, value in self._previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        self._previous.clear()


class LocalFunction:
    """One function, loaded once (one warm instance) and invoked one event at a time."""

    def __init__(
        self, spec: FunctionSpec, environment: Mapping[str, str | None], region: str, account_id: str
    ) -> None:
        self.spec = spec
        self._environment_values = environment
        self._arn = f"arn:aws:lambda:{region}:{account_id}:function:{spec.function_name}"
        self._handler: Handler | None = None

    @property
    def module_name(self) -> str:
        return f"_ropguard_local_{self.spec.logical_id}"

    def load(self) -> Handler:
        """Import the handler (its module's top level runs here, as in Lambda's init phase)."""
        with INVOCATION_LOCK, self._environment():
            if self._handler is None:
                for layer_dir in self.spec.layer_dirs:
                    if str(layer_dir) not in sys.path:
                        sys.path.insert(0, str(layer_dir))
                module = _import_file(self.module_name, self.spec)
                handler = getattr(module, self.spec.handler_name, None)
                if not callable(handler):
                    raise AttributeError(f"{self.spec.handler_file} has no callable {self.spec.handler_name}")
                self._handler = handler
            return self._handler

    @contextlib.contextmanager
    def _environment(self) -> Iterator[None]:
        patch = EnvironmentPatch(self._environment_values)
        patch.apply()
        try:
            yield
        finally:
            patch.restore()

    def cold_start(self) -> None:
        """Forget the loaded module, so the next invocation imports it afresh (a new instance)."""
        with INVOCATION_LOCK:
            self._handler = None
            sys.modules.pop(self.module_name, None)

    def new_context(self, request_id: str | None = None) -> LambdaContext:
        return LambdaContext(
            function_name=self.spec.function_name,
            memory_limit_in_mb=self.spec.memory_mb,
            invoked_function_arn=self._arn,
            aws_request_id=request_id or str(uuid.uuid4()),
            deadline_epoch_seconds=time.time() + self.spec.timeout_seconds,
            log_group_name=f"/aws/lambda/{self.spec.function_name}",
            log_stream_name=f"local/[$LATEST]{uuid.uuid4().hex}",
        )

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        """The handler's result; its exception propagates, and running past Timeout raises."""
        handler = self.load()
        with INVOCATION_LOCK, self._environment():
            context = self.new_context(request_id)
            result = handler(event, context)
        if time.time() > context.deadline_epoch_seconds:
            raise FunctionTimeoutError(
                f"{self.spec.logical_id} ran past its Timeout of {self.spec.timeout_seconds}s "
                f"(request {context.aws_request_id}); Lambda would have stopped it"
            )
        return result


def _import_file(module_name: str, spec: FunctionSpec) -> ModuleType:
    """A fresh module every time (a new instance never shares module state with an old one)."""
    import_spec = importlib.util.spec_from_file_location(module_name, spec.handler_file)
    if import_spec is None or import_spec.loader is None:
        raise ImportError(f"cannot load {spec.handler_file}")
    module = importlib.util.module_from_spec(import_spec)
    sys.modules[module_name] = module
    try:
        import_spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[module_name]
        raise
    LOG.info("loaded %s from %s", spec.logical_id, spec.handler_file)
    return module
