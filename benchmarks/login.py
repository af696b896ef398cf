"""ropguard's login handler vs a naive auth0-python handler, measured in one run (`make bench`).

Both run against the same loopback servers: moto's server for Secrets Manager and a token
endpoint that answers at once and counts TCP connections. Cold start = a fresh Python process
importing the handler, initialising and serving its first invocation. Warm = per-invocation wall
time in one process after a first invocation. AWS calls are counted at botocore's API-call layer.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
HANDLERS = {"ropguard": ROOT / "functions/login/app.py", "naive": ROOT / "benchmarks/naive_login.py"}
COLD_RUNS = 5
WARM_RUNS = 2000
COUNT_RUNS = 100
EVENT: dict[str, Any] = {
    "version": "2.0",
    "routeKey": "POST /login",
    "headers": {"content-type": "application/json"},
    "requestContext": {"requestId": "bench", "http": {"method": "POST", "sourceIp": "203.0.113.7"}},
    "body": json.dumps({"username": "alice@example.com", "password": "correct horse battery staple"}),
    "isBase64Encoded": False,
}


@dataclass
class BenchContext:
    """Enough of the Lambda context for Powertools' Logger."""

    function_name: str = "bench"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:bench"
    aws_request_id: str = "bench"


def load_handler(name: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    spec = importlib.util.spec_from_file_location(f"bench_{name}", HANDLERS[name])
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = module.lambda_handler
    return handler


class AwsCallCounter:
    """Counts API calls made by any botocore client in this process."""

    def __init__(self) -> None:
        import botocore.client  # noqa: PLC0415 - cold-start children must not pay for it

        self.calls = 0
        original = botocore.client.BaseClient._make_api_call  # type: ignore[attr-defined]
        counter = self

        def counting(client: Any, operation: str, params: Any) -> Any:
            counter.calls += 1
            return original(client, operation, params)

        botocore.client.BaseClient._make_api_call = counting  # type: ignore[attr-defined]


def cold_child(name: str) -> None:
    """Runs in a fresh interpreter: import + init + first invocation, printed as milliseconds."""
    started = time.perf_counter()
    handler = load_handler(name)
    response = handler(EVENT, BenchContext())
    elapsed_ms = (time.perf_counter() - started) * 1000
    assert response["statusCode"] == 200, response
    print(json.dumps({"cold_ms": elapsed_ms}))


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


def main() -> None:
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - not in cold-start children

    from benchmarks.loopback_auth0 import CountingTokenServer  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto's access log
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    host, port = moto.get_host_and_port()
    env = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AUTH0_SECRET_ID": "ropguard/bench",
        "AUTH0_SCOPES": "openid",
        "POWERTOOLS_SERVICE_NAME": "ropguard-bench",
        "POWERTOOLS_METRICS_NAMESPACE": "RopguardBench",
        "POWERTOOLS_TRACE_DISABLED": "1",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "layers/ropguard"), str(ROOT)]),
    }
    os.environ.update(env)
    import boto3  # noqa: PLC0415 - after AWS_ENDPOINT_URL is set

    os.environ["SECURITY_EVENTS_TOPIC_ARN"] = boto3.client("sns").create_topic(Name="events")["TopicArn"]
    os.environ["PASSWORD_RESET_QUEUE_URL"] = boto3.client("sqs").create_queue(QueueName="reset")["QueueUrl"]
    boto3.client("secretsmanager").create_secret(
        Name="ropguard/bench",
        SecretString=json.dumps({"client_id": "bench", "client_secret": "bench-secret"}),
    )
    counter = AwsCallCounter()
    rows: list[tuple[str, ...]] = []
    with CountingTokenServer() as auth0:
        os.environ["AUTH0_DOMAIN"] = auth0.base_url
        for name in HANDLERS:
            cold = []
            for _ in range(COLD_RUNS):
                child = subprocess.run(  # noqa: S603 - our own interpreter and module
                    [sys.executable, "-m", "benchmarks.login", "--cold", name],
                    cwd=ROOT,
                    env={**os.environ},
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if child.returncode:
                    raise SystemExit(f"cold start of {name} failed:\n{child.stderr}")
                cold.append(json.loads(child.stdout.strip().splitlines()[-1])["cold_ms"])
            handler = load_handler(name)
            context = BenchContext()
            with quiet_stdout():
                handler(EVENT, context)  # first invocation: the container is now warm
                counter.calls = 0
                auth0.reset_counts()
                for _ in range(COUNT_RUNS):
                    handler(EVENT, context)
                aws_calls, connections, requests = counter.calls, auth0.connections, auth0.requests
                samples = []
                for _ in range(WARM_RUNS):
                    started = time.perf_counter_ns()
                    handler(EVENT, context)
                    samples.append((time.perf_counter_ns() - started) / 1e6)
            assert requests == COUNT_RUNS, (name, requests)
            rows.append(
                (
                    name,
                    f"{statistics.median(cold):.0f}",
                    f"{statistics.median(samples):.2f}",
                    f"{percentile(samples, 0.99):.2f}",
                    str(aws_calls),
                    str(connections),
                )
            )
    moto.stop()
    header = (
        "handler",
        "cold start ms (p50 of 5)",
        "warm p50 ms",
        "warm p99 ms",
        "AWS calls /100 warm",
        "new TCP conns /100 warm",
    )
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus, {WARM_RUNS} warm invocations each")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


# --- session routes (issue 9): warm p50/p99 per route, ropguard vs the naive equivalent --------

SESSION_HANDLERS = {
    "ropguard": ROOT / "functions/session/app.py",
    "naive": ROOT / "benchmarks/naive_session.py",
}
SESSION_WARM_RUNS = 500
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


def load_session_handler(name: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    spec = importlib.util.spec_from_file_location(f"bench_session_{name}", SESSION_HANDLERS[name])
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    handler: Callable[[dict[str, Any], Any], dict[str, Any]] = module.lambda_handler
    return handler


def session_warm_rows(runs: int = SESSION_WARM_RUNS) -> list[tuple[str, ...]]:
    """Warm p50/p99 per route and handler against moto (set up by the caller's environment) and a
    loopback Auth0 that answers every session call at once."""
    from benchmarks.loopback_session import SessionAuth0Server  # noqa: PLC0415

    rows: list[tuple[str, ...]] = []
    with SessionAuth0Server() as auth0:
        os.environ["AUTH0_DOMAIN"] = auth0.base_url
        for route_key in SESSION_ROUTE_BODIES:
            event = session_event(route_key)
            medians: dict[str, tuple[float, float, int]] = {}
            for name in SESSION_HANDLERS:
                handler = load_session_handler(name)
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
        rows = session_warm_rows(runs)
    finally:
        moto.stop()
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
    if len(sys.argv) == 3 and sys.argv[1] == "--cold":
        cold_child(sys.argv[2])
    elif sys.argv[1:2] == ["--session-warm"]:
        session_main(int(sys.argv[2]) if len(sys.argv) > 2 else SESSION_WARM_RUNS)
    else:
        main()
        session_main()
