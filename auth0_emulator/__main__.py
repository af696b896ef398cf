"""``python -m auth0_emulator``: serve a tenant file, or hash a password for one."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys

import yaml

from auth0_emulator.hashing import hash_password
from auth0_emulator.server import EmulatorServer
from auth0_emulator.validation import ValidationError


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
        default="local/tenants/demo.yaml",
        help="tenant file (default: the repository's demo tenant)",
    )
    parser.add_argument("--log-level", default="INFO", help="DEBUG, INFO or WARNING")
    args = parser.parse_args(argv)
    if args.command == "hash-password":
        return _hash(args.rounds)
    logging.basicConfig(level=args.log_level.upper(), format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        server = EmulatorServer.from_tenant_file(args.tenant, host=args.host, port=args.port)
    except (OSError, ValidationError, yaml.YAMLError) as error:
        print(f"cannot load tenant {args.tenant}: {error}", file=sys.stderr)
        return 2
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


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
