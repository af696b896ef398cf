"""Concurrent logins from many end-user addresses through the offline stack (`python -m benchmarks.load`).

Starts the offline stack in this process on free ports, then runs N clients at once in a process
of their own (end users never share the stack's interpreter), each bound to its own loopback
source address (127.0.1.x), sending M logins in total with mixed outcomes
(``benchmarks.load_plan`` fixes every request's answer in advance). Checks every answer, the
emulator's token-request records (per attributed IP, username and outcome, exactly) and the
emails, then prints one table. Exit status 1 on any mismatch.

A warm-up round comes first (``--warm-up`` logins of another seed, answers checked too): every
function pool grows to its limit and every code path is past its first use (each worker's imports,
boto3 on the breach path, the reset function's cold start), then the emulator, the queues and
the tables start again from the tenant file, without cold-starting the functions; the measured
run is the steady state. The table shows both rounds.

The reference (``--reference``, default commit ``eb6c95c``) is the offline stack as issue 11 found it:
handlers imported into the stack's own process and invoked one at a time under one lock, a
hand-written HTTP server, moto in the stack's process. Its own ``benchmarks/load.py`` runs first,
same clients, logins and seed, from a temporary git worktree of that commit (so a clone with its
history can always measure it), and its row heads the table: a machine's speed drifts, and only
figures from one run compare. It has no warm-up round (it had none: its handlers loaded in the
stack's process at start).

The functions' own output (Powertools logs and EMF metrics) goes to ``--function-output``
(default: discarded), so the table stays readable.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import multiprocessing
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx
import yaml

from benchmarks.load_plan import (
    Attempt,
    ClientPlan,
    breached_users,
    build_plan,
    expected_records,
    unblock_emails,
)
from ropguard_offline.children import settle_heap
from ropguard_offline.stack import DEFAULT_TENANT, OfflineStack, Ports, StackConfig

REPO = Path(__file__).resolve().parents[1]
#: The commit issue 11 measured (155-164 logins/s, p99 about 900 ms, on its day's machine).
REFERENCE = "eb6c95c5d0c945ccec28e8bcd74320213b6da028"

#: Called with every answer (the test suite registers tokens and checks error bodies here).
OnResponse = Callable[[httpx.Response], None]


@dataclass
class LoadResult:
    requests: int
    concurrency: int
    wall_seconds: float
    latencies: list[float] = field(repr=False)
    mismatches: list[str] = field(default_factory=list)

    @property
    def throughput(self) -> float:
        return self.requests / self.wall_seconds if self.wall_seconds else 0.0

    def percentile(self, share: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def run_load(api_url: str, plans: Sequence[ClientPlan], on_response: OnResponse | None = None) -> LoadResult:
    """Every client at once, each sending its logins in order; answers compared as they come.

    Each client is one ``http.client`` connection from its own address, reused while the server
    keeps it open (an end user's browser or app does the same): the client's own cost stays small
    beside the stack's, on the same cores.
    """
    latencies: list[float] = []
    mismatches: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(plans))
    url = urlsplit(api_url)

    def client(plan: ClientPlan) -> None:
        connection = http.client.HTTPConnection(
            url.hostname or "127.0.0.1", url.port, timeout=60, source_address=(plan.address, 0)
        )
        start.wait(timeout=60)
        for number, attempt in enumerate(plan.attempts):
            body = json.dumps({"username": attempt.username, "password": attempt.password}).encode()
            began = time.perf_counter()
            try:
                connection.request("POST", "/login", body, {"content-type": "application/json"})
                answer = connection.getresponse()
                status, content = answer.status, answer.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                with lock:
                    mismatches.append(f"{plan.address} login #{number}: {type(exc).__name__}")
                continue
            took = time.perf_counter() - began
            if on_response is not None:
                on_response(httpx.Response(status, headers=answer.getheaders(), content=content))
            problem = _compare(plan.address, number, attempt, status, content)
            with lock:
                latencies.append(took)
                if problem:
                    mismatches.append(problem)
        connection.close()

    began = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(plans), thread_name_prefix="load-client") as pool:
        for future in [pool.submit(client, plan) for plan in plans]:
            future.result()
    wall = time.perf_counter() - began
    sent = sum(len(plan.attempts) for plan in plans)
    return LoadResult(sent, len(plans), wall, latencies, mismatches)


def _compare(address: str, number: int, attempt: Attempt, status: int, content: bytes) -> str | None:
    try:
        error = json.loads(content).get("error") if status != 200 else None
    except ValueError:
        error = "<not JSON>"
    if (status, error) == (attempt.status, attempt.error):
        return None
    return (
        f"{address} login #{number} ({attempt.username}): expected {attempt.status} {attempt.error}, "
        f"got {status} {error}"
    )


#: Auth0's block: Auth0 records it at least once per (address, user); the rest may be answered by
#: each warm container from its memory of that answer.
BLOCKED = (429, "too_many_attempts")


def check_records(records: Sequence[dict[str, Any]], plans: Sequence[ClientPlan]) -> list[str]:
    """The emulator saw exactly what was sent: per (attributed IP, username, status, error),
    hence per IP, per username and per outcome, with the header equal to the attributed IP."""
    problems = [
        f"{r['username']}: forwarded_for {r['forwarded_for']} != attributed_ip {r['attributed_ip']}"
        for r in records
        if r["forwarded_for"] != r["attributed_ip"]
    ]
    seen = Counter((r["attributed_ip"], r["username"], r["status"], r["error"]) for r in records)
    wanted = expected_records(list(plans))
    for key in sorted(set(seen) | set(wanted), key=str):
        if key[2:] == BLOCKED and wanted[key] and 1 <= seen[key] <= wanted[key]:
            continue  # Auth0 gave the block; ropguard may repeat it without asking (operations.md, "Floods")
        if seen[key] != wanted[key]:
            problems.append(f"records {key}: expected {wanted[key]}, Auth0 recorded {seen[key]}")
    return problems


def check_emails(outbox: Sequence[dict[str, Any]], plans: Sequence[ClientPlan]) -> list[str]:
    """One reset email per distinct breached user; one unblock email per crossed (user, address)."""
    problems = []
    resets = Counter(email["to"] for email in outbox if email["kind"] == "reset_password")
    if resets != Counter(breached_users(list(plans))):
        problems.append(f"reset emails {dict(resets)} != one per breached user {breached_users(list(plans))}")
    unblocks = Counter(email["to"] for email in outbox if email["kind"] == "unblock")
    if unblocks != unblock_emails(list(plans)):
        problems.append(f"unblock emails {dict(unblocks)} != {dict(unblock_emails(list(plans)))}")
    return problems


def verify(stack: OfflineStack, plans: Sequence[ClientPlan], drain_seconds: float = 120) -> list[str]:
    """Records and emails, once the reset queue has drained."""
    problems = [] if stack.drain(timeout=drain_seconds) else ["the reset queue did not drain"]
    records = httpx.get(f"{stack.auth0_url}/__emulator/token-requests", timeout=60).raise_for_status()
    outbox = httpx.get(f"{stack.auth0_url}/__emulator/outbox", timeout=60).raise_for_status()
    return problems + check_records(records.json(), plans) + check_emails(outbox.json(), plans)


COLUMNS = (
    "run",
    "requests",
    "concurrency",
    "wall time s",
    "throughput req/s",
    "latency p50 ms",
    "latency p99 ms",
    "mismatches",
)


def table(runs: Sequence[tuple[str, LoadResult]], before: Sequence[Sequence[str]] = ()) -> str:
    """One row per run, after ``before`` (rows already rendered, the reference's)."""
    rows = [*(tuple(row) for row in before)] + [
        (
            label,
            str(result.requests),
            str(result.concurrency),
            f"{result.wall_seconds:.2f}",
            f"{result.throughput:.1f}",
            f"{result.percentile(0.50) * 1000:.1f}",
            f"{result.percentile(0.99) * 1000:.1f}",
            str(len(result.mismatches)),
        )
        for label, result in runs
    ]
    widths = [max(len(column), *(len(row[index]) for row in rows)) for index, column in enumerate(COLUMNS)]
    lines = [
        "| " + " | ".join(column.ljust(width) for column, width in zip(COLUMNS, widths, strict=True)) + " |",
        "|" + "|".join("-" * (width + 2) for width in widths) + "|",
    ]
    lines += ["| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |" for row in rows]
    return "\n".join(lines)


def reference_row(revision: str, clients: int, logins: int, seed: int) -> list[str]:
    """The reference revision's own benchmark, run from a temporary worktree: its table row, led
    by a label. Raises ``RuntimeError`` (with why) when it cannot run or its answers mismatch."""
    with tempfile.TemporaryDirectory() as directory:
        tree = Path(directory) / "reference"
        git = ["git", "-C", str(REPO)]
        added = subprocess.run(  # noqa: S603 - git, our revision
            [*git, "worktree", "add", "--detach", str(tree), revision],
            check=False,
            capture_output=True,
            text=True,
        )
        if added.returncode:
            raise RuntimeError(f"no worktree of {revision}: {added.stderr.strip()}")
        try:
            # its own package first, before this checkout's editable install
            path = os.pathsep.join([str(tree), str(tree / "layers" / "ropguard")])
            ran = subprocess.run(  # noqa: S603 - our interpreter, its benchmark
                [sys.executable, "-m", "benchmarks.load", "--clients", str(clients), "--logins", str(logins),
                 "--seed", str(seed)],
                cwd=tree, env={**os.environ, "PYTHONPATH": path}, check=False, capture_output=True, text=True,
                timeout=1800,
            )  # fmt: skip
        finally:
            remove = [*git, "worktree", "remove", "--force", str(tree)]
            subprocess.run(remove, check=False, capture_output=True)  # noqa: S603 - git
    return parse_reference(revision, ran.returncode, ran.stdout, ran.stderr)


def parse_reference(revision: str, returncode: int, stdout: str, stderr: str = "") -> list[str]:
    """The last table row of the reference's output (requests ... mismatches), labelled."""
    lines = stdout.strip().splitlines()
    cells = [cell.strip() for cell in lines[-1].strip("|").split("|")] if lines else []
    if returncode or len(cells) != len(COLUMNS) - 1 or not cells[0].isdigit():
        tail = (stdout + stderr).strip()[-500:]
        raise RuntimeError(f"the reference {revision} failed (exit {returncode}): {tail}")
    return [f"reference {revision[:7]}", *cells]


@contextlib.contextmanager
def tenant_for(logins: int) -> Iterator[Path]:
    """The demo tenant, with its tenant-wide rate limit raised when the run would exceed it (a
    429 ``too_many_requests`` would depend on timing, and every answer must be known ahead)."""
    document = yaml.safe_load(DEFAULT_TENANT.read_text())
    limit = document["tenant"]["rate_limit"]
    if not limit.get("enabled", True) or logins + 100 <= int(limit["limit"]):
        yield DEFAULT_TENANT
        return
    limit["limit"] = logins * 2
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "tenant.yaml"
        path.write_text(yaml.safe_dump(document))
        yield path


@contextlib.contextmanager
def _logging_to(stream: TextIO) -> Iterator[None]:
    """The stack's and the emulator's log lines go with the functions' output, not the table."""
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    previous = root.level
    root.setLevel(logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.load", description=__doc__)
    parser.add_argument("--clients", type=int, default=50, help="concurrent end users (default %(default)s)")
    parser.add_argument("--logins", type=int, default=5000, help="logins in total (default %(default)s)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the outcome mix")
    parser.add_argument("--function-output", default=os.devnull, help="file for the functions' output")
    parser.add_argument("--workers", type=int, default=4, help="workers per function (default %(default)s)")
    parser.add_argument(
        "--warm-up",
        type=int,
        default=500,
        help="logins of another seed first, then the emulator, queues and tables reset; 0: none "
        "(default %(default)s)",
    )
    parser.add_argument(
        "--reference",
        default=REFERENCE,
        help="git revision measured first, beside this one: the stack issue 11 found (default %(default)s); "
        "'none' skips it",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.clients <= 2500 or args.logins < args.clients:
        parser.error("need 1..2500 clients and at least one login per client")
    if args.warm_up and args.warm_up < args.clients:
        parser.error("a warm-up needs at least one login per client (or 0)")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    plans = build_plan(args.clients, args.logins, seed=args.seed)
    warm_plans = build_plan(args.clients, args.warm_up, seed=args.seed + 1) if args.warm_up else []
    real_stdout = sys.stdout
    before: list[list[str]] = []
    if args.reference != "none":
        print(f"measuring the reference {args.reference} first (about a minute)...", file=sys.stderr)
        try:
            before.append(reference_row(args.reference, args.clients, args.logins, args.seed))
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as error:
            print(f"reference {args.reference} not measured: {error}", file=real_stdout)
    logged = args.function_output != os.devnull  # discarded output is not even formatted
    runs: list[tuple[str, LoadResult]] = []
    with (
        open(args.function_output, "w", encoding="utf-8") as sink,
        contextlib.redirect_stdout(sink),  # Powertools binds the stdout it finds at import
        _logging_to(sink) if logged else contextlib.nullcontext(),
        tenant_for(args.logins + args.warm_up) as tenant,
        OfflineStack.start(
            StackConfig(
                tenant_path=tenant,
                ports=Ports.free(),
                workers_per_function=args.workers,
                server_output=sink,
                server_log_level="INFO" if logged else "WARNING",
            )
        ) as stack,
        multiprocessing.get_context("spawn").Pool(1) as clients,
    ):
        if warm_plans:  # every outcome once per worker, then Auth0's and our state as new
            runs.append(("warm-up", clients.apply(run_load, (stack.api_url, warm_plans))))
            stack.drain(timeout=120)
            stack.reset(cold_start=False)
        settle_heap()  # as `make run` does once started
        result = clients.apply(run_load, (stack.api_url, plans))
        result.mismatches.extend(verify(stack, plans))
        runs.append(("measured", result))
    outcomes = Counter((a.status, a.error or "-") for plan in plans for a in plan.attempts)
    print(
        f"python {platform.python_version()}, {os.cpu_count()} cpus, "
        f"{args.clients} clients x {args.logins} logins after {args.warm_up} warm-up logins, "
        f"seed {args.seed}, {args.workers} workers per function, load average {os.getloadavg()[0]:.1f}",
        file=real_stdout,
    )
    print(
        "outcomes sent: " + ", ".join(f"{s} {e}: {n}" for (s, e), n in sorted(outcomes.items())),
        file=real_stdout,
    )
    problems = [f"{label}: {problem}" for label, run in runs for problem in run.mismatches]
    for problem in problems[:20]:
        print(f"mismatch: {problem}", file=real_stdout)
    if len(problems) > 20:
        print(f"... and {len(problems) - 20} more mismatches", file=real_stdout)
    print(table(runs, before), file=real_stdout)
    if before:
        reference, measured = float(before[0][4]), runs[-1][1].throughput
        print(f"measured / reference throughput: {measured / reference:.2f}x", file=real_stdout)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
