"""``python -m auth0_emulator``: serve a tenant file, or hash a password for one.

Once listening it prints ``auth0 emulator listening on URL`` on standard output (the URL names the
port that ``--port 0`` picked), so a supervising process knows where and when it is ready.
"""

from __future__ import annotations

import argparse
import gc
import getpass
import logging
import signal
import sys
import threading

import yaml

from auth0_emulator.hashing import hash_password
from auth0_emulator.server import EmulatorServer
from auth0_emulator.validation import ValidationError

#: The line printed on standard output once the server listens, followed by its URL.
READY = "auth0 emulator listening on"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m auth0_emulator", description="Local Auth0 emulator")
    sub = parser.add_subparsers(dest="command")
    hasher = sub.add_parser("hash-password", help="print a bcrypt hash for a tenant file (reads stdin)")
    hasher.add_argument("--rounds", type=int, default=4, help="bcrypt cost (default 4, the demo's)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument(
        "--port", type=int, default=4000, help="port to listen on (default 4000; 0: any free)"
    )
    parser.add_argument(
        "--tenant",
        default="ropguard_offline/tenants/demo.yaml",
        help="tenant file (default: the repository's demo tenant)",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO or WARNING")
    parser.add_argument(
        "--stop-on-eof",
        action="store_true",
        help="also stop when standard input closes (a supervising parent that dies closes it)",
    )
    args = parser.parse_args(argv)
    if args.command == "hash-password":
        return _hash(args.rounds)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        server = EmulatorServer.from_tenant_file(args.tenant, host=args.host, port=args.port)
    except (OSError, ValidationError, yaml.YAMLError) as error:
        print(f"cannot load tenant {args.tenant}: {error}", file=sys.stderr)
        return 2
    stopping = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stopping.set())
    if args.stop_on_eof:
        threading.Thread(target=_stop_on_eof, args=(stopping,), daemon=True).start()
    server.start()
    # The tenant and the libraries are loaded: out of the collector's reach, so a full collection
    # scans only what requests made (it paused every request in flight for 50-70 ms before).
    gc.collect()
    gc.freeze()
    try:
        print(f"{READY} {server.base_url}", flush=True)
        stopping.wait()
    finally:
        server.stop()
    return 0


def _stop_on_eof(stopping: threading.Event) -> None:
    sys.stdin.read()
    stopping.set()


def _hash(rounds: int) -> int:
    """Read the password from a prompt (or a pipe) so it never lands in shell history."""
    password = getpass.getpass("Password: ") if sys.stdin.isatty() else sys.stdin.readline().rstrip("\n")
    try:
        print(hash_password(password, rounds))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
