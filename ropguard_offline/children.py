"""The servers the stack runs in processes of their own: moto's server and the Auth0 emulator.

Each child prints a ready line ending in its URL on standard output once it listens (port 0 picks
a free port), and stops on SIGTERM or when its standard input closes, so a stack that dies takes
its children along. Their own processes keep the stack's interpreter free for the API and the
Runtime API, and moto's state its own: moto keeps its backends in module globals, which any other
moto in the process (a test's ``mock_aws``) would share and reset.

``python -m ropguard_offline.children --host H --port N`` is the moto child.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO, Any

#: Settings of the child's moto: a test reset purges queues more often than SQS's once a minute.
MOTO_SETTINGS = {"MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false"}
_MOTO_READY = "moto listening on"
_EMULATOR_READY = "auth0 emulator listening on"  # auth0_emulator.__main__.READY; the CLI is its interface
_SETTLE = "settle"  # a line on moto's child's standard input: settle_heap() now


class ChildServer:
    """``python -m module ...`` as a child: ``launch()``, then ``wait_ready()`` gives ``url``."""

    def __init__(
        self,
        name: str,
        arguments: Sequence[str],
        ready: str,
        *,
        output: IO[str] | None = None,
        settings: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self._command = [sys.executable, "-m", *arguments]
        self._ready = ready
        self._output = output
        self._settings = dict(settings or {})
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def launch(self) -> ChildServer:
        """Start the process without waiting for it (children start in parallel)."""
        self._process = subprocess.Popen(  # noqa: S603 - our interpreter, modules we name
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._output,
            env={**os.environ, **self._settings},
            text=True,
            start_new_session=True,  # Ctrl-C in the stack's terminal is the stack's to handle
        )
        return self

    def wait_ready(self) -> ChildServer:
        if self._process is None or self._process.stdout is None:
            raise RuntimeError(f"{self.name} was not launched")
        line = self._process.stdout.readline()
        if not line.startswith(self._ready):
            self.stop()
            raise OSError(f"{self.name} did not start (exit code {self._process.returncode})")
        self.url = line[len(self._ready) :].strip()
        return self

    def settle(self) -> None:
        """Ask a child of ours (moto's) to ``settle_heap`` once its state is built."""
        if self._process is not None and self._process.stdin is not None:
            self._process.stdin.write(f"{_SETTLE}\n")
            self._process.stdin.flush()

    @property
    def exit_code(self) -> int | None:
        return None if self._process is None else self._process.poll()

    def stop(self) -> None:
        if self._process is None:
            return
        if self._process.stdin is not None:
            self._process.stdin.close()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        if self._process.stdout is not None:
            self._process.stdout.close()


def moto(host: str, port: int, output: IO[str] | None = None) -> ChildServer:
    arguments = ["ropguard_offline.children", "--host", host, "--port", str(port)]
    return ChildServer("moto's server", arguments, _MOTO_READY, output=output, settings=MOTO_SETTINGS)


def auth0_emulator(
    tenant: Path, host: str, port: int, output: IO[str] | None = None, log_level: str = "INFO"
) -> ChildServer:
    """The emulator through its own command line, as any user runs it."""
    arguments = ["auth0_emulator", "--tenant", str(tenant), "--host", host, "--port", str(port)]
    arguments += ["--log-level", log_level, "--stop-on-eof"]
    return ChildServer("the Auth0 emulator", arguments, _EMULATOR_READY, output=output)


def settle_heap() -> None:
    """One full collection, then everything alive moves out of the collector's reach (``gc.freeze``).

    A long-running server's startup heap (botocore's and moto's models: 100k-350k objects) was
    scanned by every full collection, a pause of 150-270 ms that every request in flight waited
    out (the load benchmark's p99). For processes that own their lifetime (the command lines and
    the benchmark), never a library call: what a test process frees later must stay collectable.
    """
    gc.collect()
    gc.freeze()


def stop_on_eof(stopping: threading.Event) -> None:
    """Set ``stopping`` once standard input closes: the parent stopped us, or died. A ``settle``
    line before that (``ChildServer.settle``) settles the heap."""
    for line in sys.stdin:
        if line.strip() == _SETTLE:
            settle_heap()
    stopping.set()


def main(argv: Sequence[str] | None = None) -> int:
    """moto's server app (the one ``moto_server`` runs) on waitress: werkzeug's server, moto's own,
    closes the connection after every answer, so every AWS call paid a new connection and thread."""
    # only the child needs moto's server
    from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
        DomainDispatcherApplication,
        create_backend_app,
    )
    from waitress.server import create_server  # noqa: PLC0415

    parser = argparse.ArgumentParser(prog="python -m ropguard_offline.children")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    app = DomainDispatcherApplication(create_backend_app)
    # threads: SQS long polls each hold one while they wait
    server: Any = create_server(
        app, host=args.host, port=args.port, threads=32, ident="", clear_untrusted_proxy_headers=False
    )
    threading.Thread(target=server.run, name="moto", daemon=True).start()
    print(f"{_MOTO_READY} http://{args.host}:{server.effective_port}", flush=True)
    stopping = threading.Event()
    threading.Thread(target=stop_on_eof, args=(stopping,), daemon=True).start()
    with contextlib.suppress(KeyboardInterrupt):
        stopping.wait()
    return 0  # the server's threads are daemons: the process ends with them


if __name__ == "__main__":
    sys.exit(main())
