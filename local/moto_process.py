"""moto's server in a child process, so the offline stack's AWS state is its own.

moto keeps its backends in module globals: every moto server or ``mock_aws`` in one process
shares (and resets) the same state. A test session that also uses moto elsewhere would wipe the
stack's queues and secret, so the stack runs moto in a process of its own. The child prints its
URL once listening (port 0 picks a free port) and stops when its stdin closes or on a signal.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from types import FrameType

#: Settings of the child's moto: a test reset purges queues more often than SQS's once a minute.
MOTO_SETTINGS = {"MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR": "false"}
_READY = "moto listening on "


class MotoProcess:
    """``python -m local.moto_process`` as a child; ``url`` once started."""

    def __init__(self, host: str, port: int) -> None:
        self._command = [sys.executable, "-m", "local.moto_process", "--host", host, "--port", str(port)]
        self._process: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> MotoProcess:
        self._process = subprocess.Popen(  # noqa: S603 - our own module, no shell
            self._command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env={**os.environ, **MOTO_SETTINGS},
            text=True,
        )
        assert self._process.stdout is not None  # noqa: S101 - Popen with PIPE
        line = self._process.stdout.readline()
        if not line.startswith(_READY):
            self.stop()
            raise OSError(f"moto's server did not start (exit code {self._process.returncode})")
        self.url = line[len(_READY) :].strip()
        return self

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


def main(argv: Sequence[str] | None = None) -> int:
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - only the child needs moto's server

    parser = argparse.ArgumentParser(prog="python -m local.moto_process")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    stopping = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stopping.set()

    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, on_signal)

    def stop_when_the_parent_closes_stdin() -> None:
        sys.stdin.read()
        stopping.set()

    threading.Thread(target=stop_when_the_parent_closes_stdin, daemon=True).start()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # it logs every request line
    server = ThreadedMotoServer(ip_address=args.host, port=args.port, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    print(f"{_READY}http://{host}:{port}", flush=True)
    stopping.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
