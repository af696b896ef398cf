"""``ropguard-doctor``: check, prove, smoke-test and apply the Auth0 tenant ropguard depends on.

Exit status: 0 clean / passed / applied, 1 findings / failed / declined, 2 could not check.
Nothing printed ever holds a secret or token: credentials live in ``repr=False`` fields and
messages carry Auth0's descriptions, ids and addresses only.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TextIO

from ropguard.errors import RopguardError
from ropguard_doctor.apply import execute, plan
from ropguard_doctor.check import check, read_tenant
from ropguard_doctor.config import Options, Target, resolve
from ropguard_doctor.deployment import Deployment
from ropguard_doctor.desired import load_desired_state
from ropguard_doctor.findings import render_text, sort_findings, summary
from ropguard_doctor.management import ManagementApi
from ropguard_doctor.prove import DEFAULT_WAIT_SECONDS, LogReader, Prover, SmokeTest, is_loopback_url

EXIT_OK, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    tenant = common.add_argument_group("tenant (default: the offline stack's, http://127.0.0.1:4000)")
    tenant.add_argument("--domain", help="tenant domain or base URL (env AUTH0_DOMAIN)")
    tenant.add_argument(
        "--management-secret-id",
        help="Secrets Manager secret of the M2M client {client_id, client_secret} (env "
        "ROPGUARD_MANAGEMENT_SECRET_ID; or AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET)",
    )
    tenant.add_argument(
        "--login-secret-id",
        help="the stack's Auth0 secret of the login client (env AUTH0_SECRET_ID; or AUTH0_CLIENT_ID "
        "and AUTH0_CLIENT_SECRET)",
    )
    tenant.add_argument("--tenant-file", type=Path, help="desired state (default auth0/tenant.yaml)")
    tenant.add_argument("--template", type=Path, help="template.yaml whose routes are deployed")
    tenant.add_argument("--route", action="append", default=[], help="a deployed route, e.g. 'POST /login'")
    tenant.add_argument(
        "--realm", help="the database connection of the password-realm grant (env AUTH0_REALM)"
    )
    tenant.add_argument(
        "--egress-address",
        action="append",
        default=[],
        help="an address the deployment reaches Auth0 from (env ROPGUARD_EGRESS_ADDRESSES)",
    )
    tenant.add_argument("--json", action="store_true", help="machine-readable output")

    parser = argparse.ArgumentParser(
        prog="ropguard-doctor",
        description="Is the Auth0 tenant configured so that auth0-forwarded-for is honoured? "
        "Exit status: 0 clean/passed/applied, 1 findings/failed/declined, 2 could not check. "
        "Without --domain or AUTH0_DOMAIN: the offline stack's tenant (make run).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("check", parents=[common], help="report every finding (exit 1 when any)")
    for name, text in (
        ("prove", "one canary grant with a forwarded address; read Auth0's log"),
        ("smoke", "one canary login through the deployed API; read Auth0's log"),
    ):
        sub = commands.add_parser(name, parents=[common], help=text)
        sub.add_argument("--wait-seconds", type=float, default=DEFAULT_WAIT_SECONDS, help="log wait bound")
    commands.choices["smoke"].add_argument("--api", required=True, help="the deployed API's base URL")
    commands.choices["smoke"].add_argument(
        "--source-address", help="local address to send from (default 127.0.0.42 for a loopback API)"
    )
    commands.choices["smoke"].add_argument(
        "--stack", help="also check the deployed stack: live aliases, security-event deliveries (boto3)"
    )
    apply = commands.add_parser("apply", parents=[common], help="PATCH the tenant to tenant.yaml")
    apply.add_argument("--yes", action="store_true", help="do not ask before writing")
    return parser


def main(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    out: TextIO | None = None,
    ask: Callable[[str], str] = input,
) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    stream = out or sys.stdout
    environ = os.environ if env is None else env
    options = Options(
        domain=args.domain,
        management_secret_id=args.management_secret_id,
        login_secret_id=args.login_secret_id,
        tenant_file=args.tenant_file,
        template=args.template,
        routes=args.route,
        realm=args.realm,
        egress=args.egress_address,
        need_login_secret=args.command == "prove",
    )
    try:
        target = resolve(options, environ)
        if target.notice:  # on standard error: --json output stays one document
            print(f"ropguard-doctor: {target.notice}", file=sys.stderr, flush=True)
        with ManagementApi(target.base_url, target.management) as api:
            if args.command == "smoke":  # --stack reads AWS with the environment's endpoint and region
                return run_smoke(target, api, args, stream, ask, env=environ)
            command = {"check": run_check, "prove": run_prove, "apply": run_apply}
            return command[args.command](target, api, args, stream, ask)
    except RopguardError as exc:
        _emit(
            stream, args.json, {"error": str(exc)}, f"ropguard-doctor {args.command}: could not check: {exc}"
        )
        return EXIT_ERROR


def _emit(stream: TextIO, as_json: bool, document: Any, text: str) -> None:
    print(json.dumps(document, indent=2, sort_keys=True) if as_json else text, file=stream, flush=True)


def run_check(target: Target, api: ManagementApi, args: argparse.Namespace, out: TextIO, ask: Any) -> int:
    desired = load_desired_state(target.tenant_file, target.variables)
    findings = check(read_tenant(api, desired), desired, target.context)
    heading = f"ropguard-doctor check: tenant {target.base_url}, login client {desired.client_id}"
    document = {
        "tenant": target.base_url,
        "client_id": desired.client_id,
        "clean": not findings,
        "summary": summary(findings),
        "findings": [finding.to_json() for finding in sort_findings(findings)],
    }
    _emit(out, args.json, document, render_text(findings, heading))
    return EXIT_FINDINGS if findings else EXIT_OK


def run_prove(target: Target, api: ManagementApi, args: argparse.Namespace, out: TextIO, ask: Any) -> int:
    if target.login is None:  # resolve() insists for prove; this keeps mypy and readers sure
        raise RopguardError("prove needs the login client's credentials")
    logs = LogReader(api, wait_seconds=args.wait_seconds)
    prover = Prover.for_target(target, target.login, api, logs)
    try:
        proof = prover.prove()
    finally:
        prover.http.close()
    _emit(out, args.json, {"tenant": target.base_url, **proof.to_json()}, proof.render_text())
    return EXIT_OK if proof.passed else EXIT_FINDINGS


def run_smoke(
    target: Target,
    api: ManagementApi,
    args: argparse.Namespace,
    out: TextIO,
    ask: Any,
    *,
    env: Mapping[str, str],
) -> int:
    client_id = target.login.client_id if target.login else target.variables.get("AUTH0_CLIENT_ID")
    smoke = SmokeTest(
        args.api,
        api,
        LogReader(api, wait_seconds=args.wait_seconds),
        login_client_id=client_id,
        source_address=args.source_address,
    )
    proof = smoke.run()
    document, text = {"tenant": target.base_url, "api": args.api, **proof.to_json()}, proof.render_text()
    passed = proof.passed
    if args.stack:
        checks = Deployment(args.stack, env, offline=is_loopback_url(args.api)).checks()
        document["stack"] = [check.to_json() for check in checks]
        text = "\n".join([text, f"stack {args.stack}:", *(check.render_text() for check in checks)])
        passed = passed and all(check.passed for check in checks)
    _emit(out, args.json, document, text)
    return EXIT_OK if passed else EXIT_FINDINGS


def run_apply(
    target: Target, api: ManagementApi, args: argparse.Namespace, out: TextIO, ask: Callable[[str], str]
) -> int:
    desired = load_desired_state(target.tenant_file, target.variables)
    chosen = plan(read_tenant(api, desired), desired)
    heading = f"ropguard-doctor apply: tenant {target.base_url}, login client {desired.client_id}"
    if chosen.empty:
        _emit(out, args.json, {"applied": False, **chosen.to_json()}, f"{heading}\n{chosen.render_diff()}")
        return EXIT_OK
    if not args.json:
        print(f"{heading}\n{chosen.render_diff()}", file=out, flush=True)
    if not args.yes:
        try:
            answer = ask("apply these changes? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            _emit(out, args.json, {"applied": False, **chosen.to_json()}, "nothing applied")
            return EXIT_FINDINGS
    execute(api, chosen)
    left = plan(read_tenant(api, desired), desired)
    text = (
        f"applied {len(chosen.changes)} change(s); the tenant now matches {target.tenant_file}"
        if left.empty
        else f"applied, but the tenant still differs:\n{left.render_diff()}"
    )
    _emit(out, args.json, {"applied": True, "remaining": left.to_json()["changes"], **chosen.to_json()}, text)
    return EXIT_OK if left.empty else EXIT_FINDINGS


if __name__ == "__main__":
    sys.exit(main())
