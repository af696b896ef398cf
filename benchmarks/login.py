"""ropguard's login handler vs a naive auth0-python handler, measured in one run (`make bench`).

Cold start runs where the deployed function runs: a venv holding only what it ships.

* ``.bench/ropguard``: ``layers/ropguard/requirements.txt`` plus boto3 (the Lambda runtime's), with
  the handler in a task directory and the ``ropguard`` package in a layer directory, as Lambda lays
  them out (/var/task, /opt/python). The layer carries unchecked-hash bytecode, as
  ``layers/ropguard/Makefile`` builds it; the handler file does not (SAM's python builder ships
  none, and Lambda's read-only file system gets no ``__pycache__``), so it is compiled each time,
  like the naive handler's file.
* ``.bench/naive``: auth0-python plus boto3.

Both venvs are built on first use (gitignored, from pip's cache). Cold start = a fresh interpreter,
from process spawn to the first answer of the handler, median of ``COLD_RUNS``, the two handlers
alternating so load on this machine hits both alike. ropguard reads its secret through a loopback
stand-in of the Parameters and Secrets extension (token checked, cache emptied before every cold
run, backed by moto's Secrets Manager); the naive handler calls moto's Secrets Manager with boto3.

Warm = per-invocation wall time in this process after a first invocation, against a token endpoint
that answers at once and counts TCP connections (in a process of its own, so that serving does not
compete with the handler for this process's GIL); AWS calls are counted at botocore's API-call layer
plus requests to the extension. The breach row: the first ``password_leaked`` answer in a container
imports boto3 and builds the SNS client (``ropguard.security_events``); its duration is shown beside
the next one's.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = ROOT / ".bench"
HANDLERS = {"ropguard": ROOT / "functions/login/app.py", "naive": ROOT / "benchmarks/naive_login.py"}
COLD_RUNS = 15
BREACH_RUNS = 5
WARM_RUNS = 2000
COUNT_RUNS = 100
MARK = "@@bench "
SESSION_TOKEN = "bench-session-token"
EVENT: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "POST /login",
    "headers": {"content-type": "application/json"},
    "requestContext": {"requestId": "bench", "http": {"method": "POST", "sourceIp": "203.0.113.7"}},
    "body": json.dumps({"username": "alice@example.com", "password": "correct horse battery staple"}),
    "isBase64Encoded": False,
}


def _pinned(requirement: str) -> str:
    """The version of ``requirement`` that requirements/dev.txt pins (the dev venv is the reference)."""
    for line in (ROOT / "requirements/dev.txt").read_text().splitlines():
        if line.split("==")[0].strip().lower() == requirement:
            return line.strip()
    raise SystemExit(f"requirements/dev.txt pins no {requirement}")


VENVS: dict[str, list[str]] = {
    "ropguard": ["-r", str(ROOT / "layers/ropguard/requirements.txt"), _pinned("boto3")],
    "naive": [_pinned("auth0-python"), _pinned("boto3")],
}


def bench_python(name: str) -> Path:
    """The venv's interpreter, building the venv first when its requirements changed."""
    venv = BENCH_DIR / name
    python = venv / "bin/python"
    stamp = venv / ".requirements"
    wanted = json.dumps(VENVS[name] + [(ROOT / "layers/ropguard/requirements.txt").read_text()])
    if not python.exists() or not stamp.exists() or stamp.read_text() != wanted:
        print(f"building {venv.relative_to(ROOT)} (once) ...", file=sys.stderr)
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)  # noqa: S603
        subprocess.run(  # noqa: S603 - our own venv's pip
            [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *VENVS[name]],
            check=True,
        )
        stamp.write_text(wanted)
    return python


def lay_out_task(name: str, into: Path) -> Path:
    """/var/task and /opt/python as Lambda sees them, without any __pycache__."""
    task = into / name / "task"
    task.mkdir(parents=True)
    shutil.copy(HANDLERS[name], task / "app.py")
    if name == "ropguard":
        layer = into / name / "opt/python"
        shutil.copytree(
            ROOT / "layers/ropguard/ropguard",
            layer / "ropguard",
            ignore=shutil.ignore_patterns("__pycache__"),
        )
        # As layers/ropguard/Makefile builds the layer: bytecode shipped, unchecked-hash.
        subprocess.run(  # noqa: S603 - the bench venv's interpreter compiles for its own version
            [
                str(bench_python(name)),
                "-m",
                "compileall",
                "-q",
                "--invalidation-mode",
                "unchecked-hash",
                str(layer),
            ],
            check=True,
        )
    return task


@dataclass
class BenchContext:
    """Enough of the Lambda context for Powertools' Logger."""

    function_name: str = "bench"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 15_000


def load_handler(name: str, path: Path | None = None) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """``lambda_handler`` of a fresh copy of the handler file (``HANDLERS[name]`` unless ``path``)."""
    spec = importlib.util.spec_from_file_location(f"bench_{name}", path or HANDLERS[name])
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = module.lambda_handler
    return handler


class AwsCallCounter:
    """Counts API calls made by any botocore client in this process."""

    def __init__(self) -> None:
        import botocore.client  # noqa: PLC0415

        self.calls = 0
        original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
        counter = self

        def counting(client: Any, operation: str, params: Any) -> Any:
            counter.calls += 1
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counting  # type: ignore[attr-defined]


def run_child(python: Path, task: Path, env: dict[str, str], mode: str) -> tuple[float, list[dict[str, Any]]]:
    """Spawn a fresh interpreter; (ms from spawn to its first answer, every line it marked)."""
    started = time.perf_counter()
    child = subprocess.Popen(  # noqa: S603 - our own venv's interpreter and script
        [str(python), str(ROOT / "benchmarks/cold_child.py"), str(task), mode],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    elapsed = None
    marked = []
    for line in child.stdout:
        if line.startswith(MARK):
            if elapsed is None:
                elapsed = (time.perf_counter() - started) * 1000
            marked.append(json.loads(line[len(MARK) :]))
    stderr = child.stderr.read() if child.stderr else ""
    if child.wait() != 0 or elapsed is None:
        raise SystemExit(f"{task.parent.name} child failed:\n{stderr}")
    return elapsed, marked


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@contextmanager
def quiet_stdout() -> Iterator[None]:
    """Powertools prints a log line and EMF metrics per invocation; keep the table readable."""
    saved = os.dup(1)
    with open(os.devnull, "w") as devnull:
        os.dup2(devnull.fileno(), 1)
        try:
            yield
        finally:
            sys.stdout.flush()
            os.dup2(saved, 1)
            os.close(saved)


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    lines = ["| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"]
    lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    lines += ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in rows]
    return lines


def main() -> None:  # noqa: PLR0915 - one linear script
    import boto3  # noqa: PLC0415 - the parent's (dev venv); children use their own
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from benchmarks.loopback_auth0 import TokenServerProcess  # noqa: PLC0415
    from benchmarks.loopback_extension import LoopbackExtension  # noqa: PLC0415

    pythons = {name: bench_python(name) for name in HANDLERS}
    exits = ExitStack()
    auth0 = exits.enter_context(TokenServerProcess())  # forked before any thread starts here
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    base_env = {
        "PATH": os.environ.get("PATH", ""),
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AUTH0_SECRET_ID": "ropguard/bench",
        "AUTH0_SCOPES": "openid",
        "POWERTOOLS_SERVICE_NAME": "ropguard-bench",
        "POWERTOOLS_METRICS_NAMESPACE": "RopguardBench",
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    os.environ.update(base_env)
    secrets = boto3.client("secretsmanager")
    base_env["SECURITY_EVENTS_TOPIC_ARN"] = boto3.client("sns").create_topic(Name="events")["TopicArn"]
    base_env["PASSWORD_RESET_QUEUE_URL"] = boto3.client("sqs").create_queue(QueueName="reset")["QueueUrl"]
    secrets.create_secret(
        Name="ropguard/bench",
        SecretString=json.dumps({"client_id": "bench", "client_secret": "bench-secret"}),
    )

    def from_moto(secret_id: str, stage: str) -> dict[str, Any] | None:
        answer = secrets.get_secret_value(SecretId=secret_id, VersionStage=stage)
        return {k: v for k, v in answer.items() if k != "ResponseMetadata"} | {
            "CreatedDate": answer["CreatedDate"].isoformat()
        }

    counter = AwsCallCounter()
    cold: dict[str, list[float]] = {name: [] for name in HANDLERS}
    breach: list[tuple[float, float]] = []
    rows: list[tuple[str, ...]] = []
    with (
        exits,
        LoopbackExtension(from_moto, token=SESSION_TOKEN) as extension,
        tempfile.TemporaryDirectory(prefix="ropguard-bench-") as scratch,
    ):
        base_env["AUTH0_DOMAIN"] = auth0.base_url
        extension_env = {
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(extension.port),
            "AWS_SESSION_TOKEN": SESSION_TOKEN,
        }
        tasks = {name: lay_out_task(name, Path(scratch)) for name in HANDLERS}
        envs = {
            "ropguard": {
                **base_env,
                **extension_env,
                "PYTHONPATH": str(tasks["ropguard"].parent / "opt/python"),
            },
            "naive": dict(base_env),
        }
        for _ in range(COLD_RUNS):
            for name in HANDLERS:
                extension.clear_cache()  # a new execution environment starts with an empty extension
                elapsed, [answer] = run_child(pythons[name], tasks[name], envs[name], "cold")
                assert answer["status"] == 200, (name, answer)
                cold[name].append(elapsed)
        for _ in range(BREACH_RUNS):
            extension.clear_cache()
            _, [_, timings] = run_child(pythons["ropguard"], tasks["ropguard"], envs["ropguard"], "breach")
            first, second = timings["breach_ms"]
            breach.append((first, second))

        # Warm: both handlers in this process (the dev venv), ropguard through the extension.
        os.environ.update(base_env)
        for name in HANDLERS:
            if name == "ropguard":
                os.environ.update(extension_env)
            else:
                for key in extension_env:
                    os.environ.pop(key, None)
            handler = load_handler(name)
            context = BenchContext()
            with quiet_stdout():
                handler(EVENT, context)  # first invocation: the container is now warm
                counter.calls = 0
                extension.requests = 0
                auth0.reset_counts()
                for _ in range(COUNT_RUNS):
                    handler(EVENT, context)
                aws_calls = counter.calls + extension.requests
                connections, requests = auth0.connections, auth0.requests
                samples = []
                for _ in range(WARM_RUNS):
                    started = time.perf_counter_ns()
                    handler(EVENT, context)
                    samples.append((time.perf_counter_ns() - started) / 1e6)
            assert requests == COUNT_RUNS, (name, requests)
            rows.append(
                (
                    name,
                    f"{statistics.median(cold[name]):.0f}",
                    f"{statistics.median(samples):.2f}",
                    f"{percentile(samples, 0.99):.2f}",
                    str(aws_calls),
                    str(connections),
                )
            )
    moto.stop()
    ratio = statistics.median(cold["ropguard"]) / statistics.median(cold["naive"])
    header = (
        "handler",
        f"cold start ms (p50 of {COLD_RUNS})",
        "warm p50 ms",
        "warm p99 ms",
        "AWS calls /100 warm",
        "new TCP conns /100 warm",
    )
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {WARM_RUNS} warm invocations each")
    print("\n".join(table(header, rows)))
    spread = {name: f"{min(v):.0f}-{max(v):.0f}" for name, v in cold.items()}
    print(
        f"cold start ratio ropguard/naive: {ratio:.2f} (ranges: {spread['ropguard']} / {spread['naive']} ms)"
    )
    firsts, seconds = [b[0] for b in breach], [b[1] for b in breach]
    print(
        f"breached-password answer (p50 of {BREACH_RUNS} containers): first in a container "
        f"{statistics.median(firsts):.0f} ms (imports boto3, builds the SNS client), "
        f"next {statistics.median(seconds):.1f} ms; added by the first: "
        f"{statistics.median(firsts) - statistics.median(seconds):.0f} ms"
    )


# --- session routes (issue 9): warm p50/p99 per route, ropguard vs the naive equivalent --------

SESSION_HANDLERS = {
    "ropguard": ROOT / "functions/session/app.py",
    "naive": ROOT / "benchmarks/naive_session.py",
}
SESSION_WARM_RUNS = 2000
SESSION_ROUTE_BODIES: dict[str, dict[str, str] | None] = {
    "POST /login/mfa/challenge": {"mfa_token": "bench-mfa-token", "challenge_type": "otp"},
    "GET /login/mfa/authenticators": None,
    "POST /login/mfa": {"mfa_token": "bench-mfa-token", "otp": "123456"},
    "POST /token/refresh": {"refresh_token": "bench-refresh-token"},
    "POST /logout": {"refresh_token": "bench-refresh-token"},
}


def session_event(route_key: str) -> dict[str, Any]:
    """A payload 2.0 event for one session route."""
    method, path = route_key.split(" ", 1)
    body = SESSION_ROUTE_BODIES[route_key]
    headers = {"content-type": "application/json"} if body else {"authorization": "Bearer bench-mfa-token"}
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "headers": headers,
        "requestContext": {
            "requestId": "bench",
            "http": {"method": method, "path": path, "sourceIp": "203.0.113.7"},
        },
        "body": json.dumps(body) if body else None,
        "isBase64Encoded": False,
    }


def session_warm_rows(auth0: Any, runs: int = SESSION_WARM_RUNS) -> list[tuple[str, ...]]:
    """Warm p50/p99 per route and handler against moto (set up by the caller's environment) and
    ``auth0``, a loopback Auth0 that answers every session call at once (its own process)."""
    rows: list[tuple[str, ...]] = []
    os.environ["AUTH0_DOMAIN"] = auth0.base_url
    for route_key in SESSION_ROUTE_BODIES:
        event = session_event(route_key)
        medians: dict[str, tuple[float, float, int]] = {}
        for name, path in SESSION_HANDLERS.items():
            handler = load_handler(f"session_{name}", path)
            context = BenchContext()
            with quiet_stdout():
                first = handler(event, context)  # the container is now warm
                assert first["statusCode"] == 200, (name, route_key, first)
                auth0.reset_counts()
                samples = []
                for _ in range(runs):
                    started = time.perf_counter_ns()
                    handler(event, context)
                    samples.append((time.perf_counter_ns() - started) / 1e6)
            medians[name] = (statistics.median(samples), percentile(samples, 0.99), auth0.connections)
        ours, naive = medians["ropguard"], medians["naive"]
        rows.append(
            (
                route_key,
                f"{ours[0]:.2f}",
                f"{ours[1]:.2f}",
                f"{naive[0]:.2f}",
                f"{naive[1]:.2f}",
                f"{ours[2]} / {naive[2]}",
            )
        )
    return rows


def session_main(runs: int = SESSION_WARM_RUNS) -> None:
    """The session routes' warm table (own moto server, own loopback Auth0)."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    from benchmarks.loopback_auth0 import TokenServerProcess  # noqa: PLC0415
    from benchmarks.loopback_session import session_answer  # noqa: PLC0415

    auth0 = TokenServerProcess(session_answer).__enter__()  # forked before moto's threads start
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AUTH0_SECRET_ID": "ropguard/bench-session",
            "AUTH0_SCOPES": "openid offline_access",
            "POWERTOOLS_SERVICE_NAME": "ropguard-bench",
            "POWERTOOLS_METRICS_NAMESPACE": "RopguardBench",
            "POWERTOOLS_TRACE_DISABLED": "1",
            "POWERTOOLS_LOG_LEVEL": "INFO",
        }
    )
    import boto3  # noqa: PLC0415 - after AWS_ENDPOINT_URL is set

    boto3.client("secretsmanager").create_secret(
        Name="ropguard/bench-session",
        SecretString=json.dumps({"client_id": "bench", "client_secret": "bench-secret"}),
    )
    try:
        rows = session_warm_rows(auth0, runs)
    finally:
        moto.stop()
        auth0.__exit__(None, None, None)
    header = (
        "route",
        "ropguard warm p50 ms",
        "ropguard warm p99 ms",
        "naive warm p50 ms",
        "naive warm p99 ms",
        f"new TCP conns /{runs} (ropguard / naive)",
    )
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    print(f"session routes: python {sys.version.split()[0]}, {os.cpu_count()} cpus, {runs} warm calls each")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--session-warm"]:
        session_main(int(sys.argv[2]) if len(sys.argv) > 2 else SESSION_WARM_RUNS)
    else:
        main()
        session_main()
