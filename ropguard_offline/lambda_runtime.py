"""Run a template's functions the way Lambda runs them: each function in worker processes driven
by AWS's runtime interface client (``python -m awslambdaric app.lambda_handler``), each worker
talking to a Lambda Runtime API of its own that this module serves on loopback.

A worker is one execution environment: its own process and environment (the template's
variables, Lambda's reserved ones, the stack's local overrides), the function's code directory
as working directory and its layers on ``PYTHONPATH``; it handles one invocation at a time. A
function's pool grows on demand up to ``max_workers``. Init and handler errors come back with
Lambda's payload (``errorType``, ``errorMessage``, ...) as ``FunctionError``; a worker that runs
past the function's Timeout is killed and replaced. Each worker gets its own Runtime API port,
so that the port says which process an answer (or a silence) belongs to; ``AWS_LAMBDA_RUNTIME_API``
must be a bare ``host:port`` anyway. A worker's stdout and stderr (the function's logs and EMF
metric lines) are logged line by line to ``ropguard_offline.functions.<LogicalId>`` at INFO, the lines of an
invocation before ``invoke`` returns; when that logger is not enabled for INFO as a worker starts,
its output goes to /dev/null (nothing reads a pipe for lines nobody logs).
"""

from __future__ import annotations

import json
import logging
import os
import queue
import secrets
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from socketserver import TCPServer
from typing import Any

from ropguard_offline.template import FunctionSpec

LOG = logging.getLogger(__name__)

#: Parent of the loggers that carry each function's output, one child per logical id.
OUTPUT_LOGGER = "ropguard_offline.functions"
DEFAULT_MAX_WORKERS = 4
_API = "/2018-06-01/runtime"
_POLL_SECONDS = 0.2
_STOP_GRACE_SECONDS = 2.0
_INIT_LIMIT_SECONDS = 30.0


class FunctionError(Exception):
    """The function's error answer as Lambda's Invoke gives it (``X-Amz-Function-Error``)."""

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = dict(payload)
        self.error_type = str(self.payload.get("errorType", ""))
        super().__init__(f"{self.error_type}: {self.payload.get('errorMessage', '')}")


@dataclass(eq=False)
class _Invocation:
    body: bytes
    request_id: str
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: Mapping[str, Any] | None = None

    def finish(self, result: Any = None, error: Mapping[str, Any] | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


def _runtime_error(kind: str, message: str) -> dict[str, Any]:
    return {"errorType": kind, "errorMessage": message}


class LocalFunction:
    """One function: a pool of awslambdaric workers that grows on demand up to ``max_workers``."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: Mapping[str, str | None],
        region: str,
        account_id: str,
        max_workers: int = DEFAULT_MAX_WORKERS,
    ) -> None:
        self.spec = spec
        self.arn = f"arn:aws:lambda:{region}:{account_id}:function:{spec.function_name}"
        self.max_workers = max_workers
        self._region = region
        self._variables = {
            name: value
            for name, value in {**spec.environment, **environment}.items()
            if value is not None  # None: unset (the shape the stack used to pass)
        }
        self._pending: queue.Queue[_Invocation] = queue.Queue()
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._idle = 0
        self._closed = False
        self.output = logging.getLogger(f"{OUTPUT_LOGGER}.{spec.logical_id}")

    # -- the interface the stack uses ------------------------------------------------------------

    def load(self) -> None:
        """Start one worker and wait for its init, as Lambda's init phase. An init error is logged
        here and answers the next invocation again, as Lambda answers it."""
        with self._lock:
            worker = self._spawn()
        worker.settled.wait(_INIT_LIMIT_SECONDS)
        if worker.init_error is not None:
            LOG.warning("%s failed its init: %s", self.spec.logical_id, FunctionError(worker.init_error))

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        """The handler's result (parsed JSON); raises ``FunctionError`` with Lambda's error payload."""
        invocation = _Invocation(json.dumps(event).encode(), request_id or str(uuid.uuid4()))
        with self._lock:
            if self._closed:
                raise FunctionError(_runtime_error("Runtime.Stopped", f"{self.spec.logical_id} is stopped"))
            self._pending.put(invocation)
            if self._pending.qsize() > self._idle and len(self._workers) < self.max_workers:
                self._spawn()
        invocation.done.wait()
        if invocation.error is not None:
            raise FunctionError(invocation.error)
        return invocation.result

    def cold_start(self) -> None:
        """The next invocation is cold: every worker is replaced (after its invocation in flight)."""
        with self._lock:
            workers = list(self._workers)
        for worker in workers:
            worker.stopping.set()
        for worker in workers:
            worker.join()

    def stop(self) -> None:
        with self._lock:
            self._closed = True
        self.cold_start()
        while not self._pending.empty():
            self._pending.get_nowait().finish(error=_runtime_error("Runtime.Stopped", "the stack stopped"))

    # -- the pool ------------------------------------------------------------------------------

    def _spawn(self) -> _Worker:
        worker = _Worker(self, self._worker_environment())
        self._workers.append(worker)
        worker.start()
        return worker

    def _worker_environment(self) -> dict[str, str]:
        spec = self.spec
        paths = [str(spec.code_dir), *(str(path) for path in spec.layer_dirs)]
        inherited = {
            name: os.environ[name] for name in ("PATH", "COVERAGE_PROCESS_START") if name in os.environ
        }
        return {
            **inherited,
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONPATH": os.pathsep.join(paths),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONUNBUFFERED": "1",
            **self._variables,
            # Lambda's reserved variables: neither the template nor an override sets these.
            "_HANDLER": spec.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "AWS_REGION": self._region,
            "AWS_DEFAULT_REGION": self._region,
            "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{uuid.uuid4().hex}",
        }

    def _take(self, worker: _Worker) -> _Invocation | None:
        """The next invocation for ``worker`` (its ``/next``); None once it is to stop."""
        with self._lock:
            self._idle += 1
        try:
            while not worker.stopping.is_set() and worker.process.poll() is None:
                try:
                    return self._pending.get(timeout=_POLL_SECONDS)
                except queue.Empty:
                    continue
            return None
        finally:
            with self._lock:
                self._idle -= 1

    def _retire(self, worker: _Worker, failure: Mapping[str, Any] | None) -> None:
        """A worker is gone: its invocation (or, for a failed init, the one it was started for)
        gets ``failure``, and a replacement starts while invocations wait."""
        with self._lock:
            self._workers.remove(worker)
            waiting = worker.invocation
            if waiting is None and failure is not None and not worker.became_ready:
                try:
                    waiting = self._pending.get_nowait()
                except queue.Empty:
                    waiting = None
            if not self._closed and not self._pending.empty() and len(self._workers) < self.max_workers:
                self._spawn()
        if waiting is not None:
            waiting.finish(error=failure or _runtime_error("Runtime.ExitError", "the worker stopped"))


class _Worker:
    """One execution environment: an awslambdaric process and its Runtime API."""

    def __init__(self, function: LocalFunction, environment: dict[str, str]) -> None:
        self.function = function
        self.server = _RuntimeApiServer(self)
        environment["AWS_LAMBDA_RUNTIME_API"] = f"127.0.0.1:{self.server.server_address[1]}"
        self._environment = environment
        self.stopping = threading.Event()
        self.settled = threading.Event()  # ready for its first invocation, or gone
        self.became_ready = False
        self.init_error: Mapping[str, Any] | None = None
        self.invocation: _Invocation | None = None
        self.deadline = 0.0
        self.process: subprocess.Popen[bytes]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._reader = threading.Thread(target=self._read_output, daemon=True)
        self._output_lock = threading.Lock()
        self._partial = b""

    def start(self) -> None:
        handler = self.function.spec.handler
        command = [sys.executable, "-m", "awslambdaric", handler]
        if "COVERAGE_PROCESS_START" in self._environment:  # measure the handlers too
            bootstrap = (
                "import coverage, runpy; coverage.process_startup(); "
                "runpy.run_module('awslambdaric', run_name='__main__')"
            )
            command = [sys.executable, "-c", bootstrap, handler]
        # Output nobody logs goes nowhere: no pipe, no reader waking for every line it writes.
        logged = self.function.output.isEnabledFor(logging.INFO)
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter, the template's handler name
            command,
            cwd=self.function.spec.code_dir,
            env=self._environment,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE if logged else subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # signals for the stack's terminal never reach a worker
        )
        if self.process.stdout is not None:
            os.set_blocking(self.process.stdout.fileno(), False)
            self._reader.start()
        self._thread.start()

    def join(self) -> None:
        self._thread.join()

    # -- the conversation ----------------------------------------------------------------------

    def _serve(self) -> None:
        failure: Mapping[str, Any] | None = None
        try:
            while not self.stopping.is_set() or self.invocation is not None:
                self.server.handle_request()  # one connection, served until it closes (or a poll)
                if self.invocation is not None and time.time() > self.deadline:
                    seconds = self.function.spec.timeout_seconds
                    request_id = self.invocation.request_id
                    message = f"RequestId: {request_id} Error: Task timed out after {seconds:.2f} seconds"
                    self.function.output.info("%s", message)
                    failure = _runtime_error("Sandbox.Timedout", message)
                    break
                code = self.process.poll()
                if code is not None:
                    # as Lambda words it: "exit status 3", "signal: killed"
                    status = (
                        f"signal: {(signal.strsignal(-code) or str(-code)).lower()}"
                        if code < 0
                        else f"exit status {code}"
                    )
                    failure = self.init_error or _runtime_error(
                        "Runtime.ExitError",
                        f"RequestId: {self.invocation.request_id if self.invocation else ''} "
                        f"Error: Runtime exited with error: {status}",
                    )
                    break
        finally:
            self.terminate()
            self.server.server_close()
            self.settled.set()
            if self._reader.is_alive():
                self._reader.join()
            self.function._retire(self, failure)

    def terminate(self) -> None:
        """SIGTERM, then SIGKILL: SIGINT can leave an idle worker hanging."""
        for number in (signal.SIGTERM, signal.SIGKILL):
            if self.process.poll() is not None:
                return
            try:
                os.killpg(self.process.pid, number)
                self.process.wait(_STOP_GRACE_SECONDS)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                continue

    def next_invocation(self) -> _Invocation | None:
        self.became_ready = True
        self.settled.set()
        invocation = self.function._take(self)
        if invocation is not None:
            self.deadline = time.time() + self.function.spec.timeout_seconds
            self.invocation = invocation
        return invocation

    def complete(self, request_id: str, result: Any = None, error: Mapping[str, Any] | None = None) -> bool:
        invocation = self.invocation
        if invocation is None or invocation.request_id != request_id:
            return False
        self.drain_output()  # what the invocation printed is logged before its answer
        self.invocation = None
        invocation.finish(result, error)
        return True

    # -- output --------------------------------------------------------------------------------

    def _read_output(self) -> None:
        assert self.process.stdout is not None  # noqa: S101 - Popen with PIPE
        while True:
            select.select([self.process.stdout], [], [])
            if not self.drain_output():
                return

    def drain_output(self) -> bool:
        """Log every complete line written so far; False at end of file (or with no pipe)."""
        stream = self.process.stdout
        if stream is None:
            return False
        with self._output_lock:
            while not stream.closed:
                try:
                    chunk = os.read(stream.fileno(), 65536)
                except BlockingIOError:
                    return True
                if not chunk:
                    self._log_line(self._partial)
                    self._partial = b""
                    stream.close()
                    break
                *lines, self._partial = (self._partial + chunk).split(b"\n")
                for line in lines:
                    self._log_line(line)
            return False

    def _log_line(self, line: bytes) -> None:
        if line.strip() and self.function.output.isEnabledFor(logging.INFO):
            # awslambdaric ends the lines of one error report with \r: they stay one record
            self.function.output.info("%s", line.decode("utf-8", "replace").replace("\r", "\n").rstrip())


class _RuntimeApiServer(TCPServer):
    """The Lambda Runtime API of one worker: one connection at a time, as the client makes them."""

    allow_reuse_address = True
    timeout = _POLL_SECONDS

    def __init__(self, worker: _Worker) -> None:
        self.worker = worker
        super().__init__(("127.0.0.1", 0), _RuntimeApiHandler)


class _RuntimeApiHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # otherwise two delayed ACKs (40 ms each) per invocation
    server: _RuntimeApiServer

    def do_GET(self) -> None:
        worker = self.server.worker
        if self.path != f"{_API}/invocation/next":
            self._answer(404, {"errorMessage": f"unknown path {self.path}"})
            return
        invocation = worker.next_invocation()
        if invocation is None:  # stopping: end the worker while it waits, before the connection
            worker.terminate()  # closes (the client prints a traceback when /next fails)
            self.close_connection = True
            return
        self.connection.settimeout(max(0.0, worker.deadline - time.time()))
        trace = (
            f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)};Parent={secrets.token_hex(8)};Sampled=0"
        )
        self._answer(
            200,
            invocation.body,
            {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(int(worker.deadline * 1000)),
                "Lambda-Runtime-Invoked-Function-Arn": worker.function.arn,
                "Lambda-Runtime-Trace-Id": trace,
            },
        )

    def do_POST(self) -> None:
        worker = self.server.worker
        body = self.rfile.read(int(self.headers.get("content-length") or 0))
        parts = self.path.removeprefix(_API).strip("/").split("/")
        if parts == ["init", "error"]:
            worker.init_error = _error_payload(body, self.headers)
            self._answer(202, {"status": "OK"})
            return
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self.connection.settimeout(None)
            if parts[2] == "response":
                known = worker.complete(parts[1], result=json.loads(body) if body else None)
            else:
                known = worker.complete(parts[1], error=_error_payload(body, self.headers))
            if known:
                self._answer(202, {"status": "OK"})
                return
        self._answer(400, {"errorMessage": f"no invocation for {self.path}", "errorType": "InvalidRequestID"})

    def _answer(self, status: int, body: Any, headers: Mapping[str, str] | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response_only(status)
        # the client hangs on /next without a content type
        for name, value in {"Content-Type": "application/json", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silenced: the conversation is the stack's own business."""


def _error_payload(body: bytes, headers: Any) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except ValueError:
        payload = None
    if isinstance(payload, dict):
        return payload
    return _runtime_error(
        headers.get("Lambda-Runtime-Function-Error-Type", "Unknown"), body.decode("utf-8", "replace")
    )
