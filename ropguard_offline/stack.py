"""The offline stack (``make run``): moto's server as AWS, the Auth0 emulator as Auth0, and the
template's resources, functions, HTTP routes and queue consumers, all on loopback.

``OfflineStack`` is the in-process API (tests and ``make demo`` start it on free ports);
``python -m ropguard_offline.stack`` runs it until Ctrl-C. Everything comes from template.yaml (created in
moto and read back by ``ropguard_offline.aws_resources``); the only local values are ports, endpoint URLs,
the emulator's URL as ``Auth0Domain`` and the demo client's credentials in the template's secret.
In cookie mode (``TokenDelivery=cookie``) it also serves the sample login page (``examples/browser``,
``ropguard_offline.browser_page``) on ``ports.page``, whose origin is ``AllowedOrigins`` unless the
overrides name others.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from secrets import token_urlsafe
from typing import IO, Any

import httpx

from auth0_emulator.tenant import load_tenant_file
from ropguard_offline import children
from ropguard_offline.aws_resources import (
    FAKE_CREDENTIALS,
    AwsEndpoint,
    OfflineResources,
    create_resources,
    refers_to,
)
from ropguard_offline.browser_page import BrowserPage, localhost_url
from ropguard_offline.cloudfront import DISTRIBUTION, DistributionFront
from ropguard_offline.http_api import BoundRoute, LocalHttpApi
from ropguard_offline.http_events import ApiStage
from ropguard_offline.lambda_runtime import DEFAULT_MAX_WORKERS, LocalFunction
from ropguard_offline.queue_runner import BoundSource, QueueRunner
from ropguard_offline.secrets_extension import SecretsExtension
from ropguard_offline.template import ACCOUNT_ID, FunctionSpec, TemplateError, load_yaml

LOG = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TEMPLATE = REPO / "template.yaml"
DEFAULT_TENANT = REPO / "ropguard_offline" / "tenants" / "demo.yaml"
OPENAPI_DOCUMENT = REPO / "docs" / "openapi.json"
LOOPBACK = "127.0.0.1"
#: The template parameter and value that put the refresh token in a cookie (and the page beside the API).
COOKIE_MODE = ("TokenDelivery", "cookie")


@dataclass(frozen=True)
class Ports:
    """Where each part listens; 0 picks a free port (what tests use)."""

    api: int = 3000
    auth0: int = 4000
    aws: int = 5000
    #: The API's own endpoint when a CloudFront distribution plays in front of it on ``api``.
    direct_api: int = 3001
    #: Cookie mode's sample login page (``examples/browser``).
    page: int = 3002

    @classmethod
    def free(cls) -> Ports:
        return cls(api=0, auth0=0, aws=0, direct_api=0, page=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Ports:
        return cls(
            *(
                int(env.get(f"ROPGUARD_{name.upper()}_PORT", port))
                for name, port in dataclasses.asdict(cls()).items()
            )
        )


@dataclass(frozen=True)
class StackConfig:
    """The template and tenant to run, and the genuinely local values."""

    template_path: Path = DEFAULT_TEMPLATE
    tenant_path: Path | None = DEFAULT_TENANT  # None: no emulator (for templates that need no Auth0)
    ports: Ports = field(default_factory=Ports)
    host: str = LOOPBACK
    region: str = "us-east-1"
    parameter_overrides: Mapping[str, str] = field(default_factory=dict)
    environment_overrides: Mapping[str, str] = field(default_factory=dict)
    secret_strings: Mapping[str, str] = field(default_factory=dict)
    workers_per_function: int = DEFAULT_MAX_WORKERS  # each function's pool grows up to this
    #: Where moto's and the emulator's own output goes (None: the stack's standard error).
    server_output: IO[str] | None = None
    #: The emulator's log level: above INFO, its lines per request are not even formatted.
    server_log_level: str = "INFO"


@dataclass(frozen=True)
class DemoClient:
    client_id: str
    client_secret: str = field(repr=False)


def demo_client(tenant_path: Path) -> DemoClient:
    """The tenant's confidential client that trusts ``auth0-forwarded-for``: the one ropguard is."""
    for client in load_tenant_file(tenant_path).clients:
        if client.is_confidential and client.is_token_endpoint_ip_header_trusted and client.client_secret:
            return DemoClient(client.client_id, client.client_secret)
    raise TemplateError(f"{tenant_path} has no confidential client that trusts auth0-forwarded-for")


class OfflineStack(contextlib.AbstractContextManager["OfflineStack"]):
    """A running offline stack; use ``with OfflineStack.start(...) as stack:`` to stop it surely."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.aws_url = self.auth0_url = self.api_url = ""
        #: The API's own endpoint: ``api_url`` itself unless a distribution plays in front of it.
        self.direct_api_url = ""
        #: Cookie mode's sample login page ("" in body mode).
        self.page_url = ""
        self.functions: dict[str, LocalFunction] = {}
        self._resources: OfflineResources | None = None
        self._exit = contextlib.ExitStack()
        self._runner: QueueRunner | None = None

    @classmethod
    def start(cls, config: StackConfig | None = None, *, ports: Ports | None = None) -> OfflineStack:
        config = config or StackConfig()
        stack = cls(dataclasses.replace(config, ports=ports) if ports is not None else config)
        try:
            stack._start()
        except BaseException:
            stack.stop()
            raise
        return stack

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the consumers, the API, the emulator and moto."""
        self._exit.close()

    def _start(self) -> None:
        config = self.config
        for name in ("api", "auth0", "aws"):  # fail first and clearly (moto's start() would hang)
            ensure_free(config.host, config.ports, name)
        moto = children.moto(config.host, config.ports.aws, config.server_output)
        self._exit.callback(moto.stop)
        emulator = None
        if config.tenant_path is not None:  # starts while moto does
            emulator = children.auth0_emulator(
                config.tenant_path,
                config.host,
                config.ports.auth0,
                config.server_output,
                config.server_log_level,
            )
            self._exit.callback(emulator.stop)
            emulator.launch()
        self.aws_url = moto.launch().wait_ready().url
        # moto imports its CloudFormation models (every service's) on the first call: start that now.
        warm = threading.Thread(target=_warm, args=(self.aws.client("cloudformation"),), daemon=True)
        warm.start()
        environment = {**FAKE_CREDENTIALS, **self._aws_environment(), **config.environment_overrides}
        if emulator is not None:
            self.auth0_url = emulator.wait_ready().url.rstrip("/")
            environment.setdefault("AUTH0_DOMAIN", self.auth0_url)
        local = {"Auth0Domain": self.auth0_url} if self.auth0_url else {}
        page = self._open_page()
        if page is not None:  # the page's origin is the one browsers call the API from
            local["AllowedOrigins"] = page.origin
        warm.join()
        self._resources = create_resources(
            config.template_path, self.aws, config.parameter_overrides, self._secret_strings, local
        )
        specs = self._resources.functions
        self._start_functions(specs, environment)
        self._start_http_api(specs)
        if page is not None:
            page.api_url = localhost_url(self.api_url)
            self.page_url = page.start().url
        self._runner = self._start_queue_runner(specs, self.aws)
        moto.settle()  # its models and the stack's resources are built: out of the collector's reach

    def _open_page(self) -> BrowserPage | None:
        """In cookie mode, the sample page bound to ``ports.page`` (started once the API is up)."""
        if not self.cookie_mode:
            return None
        ensure_free(self.config.host, self.config.ports, "page")
        page = BrowserPage(host=self.config.host, port=self.config.ports.page)
        self._exit.callback(page.stop)
        return page

    @property
    def cookie_mode(self) -> bool:
        """Whether the template runs with the refresh token in a cookie (``TokenDelivery=cookie``)."""
        return self.parameter(COOKIE_MODE[0]) == COOKIE_MODE[1]

    def parameter(self, name: str) -> str | None:
        """A template parameter's value: the override, else its default (None: not declared)."""
        if name in self.config.parameter_overrides:
            return self.config.parameter_overrides[name]
        declared = load_yaml(self.config.template_path).get("Parameters", {}).get(name)
        return None if declared is None else str(declared.get("Default", ""))

    def _aws_environment(self) -> dict[str, str]:
        region = self.config.region
        return {"AWS_ENDPOINT_URL": self.aws_url, "AWS_REGION": region, "AWS_DEFAULT_REGION": region,
                "POWERTOOLS_TRACE_DISABLED": "true"}  # fmt: skip

    def _secret_strings(self, resources: OfflineResources) -> dict[str, str]:
        """The configured secret values; with a tenant, its demo client's credentials go into the
        template's one other secret."""
        given = dict(self.config.secret_strings)
        if self.config.tenant_path is None:
            return given
        # A CloudFront distribution's origin secret is generated, never the Auth0 client's.
        fronted = [resources.properties[name] for name in resources.of_type(DISTRIBUTION)]
        secrets = [
            name
            for name in resources.of_type("AWS::SecretsManager::Secret")
            if name not in given and not refers_to(fronted, name)
        ]
        # When the functions name it (AUTH0_SECRET_ID), that one; other secrets (cookie mode's key)
        # keep what the template generates.
        named = [name for name in secrets if _named_as_auth0_secret(resources.document, name)]
        secrets = named or secrets
        if len(secrets) > 1:
            raise TemplateError(
                f"the template creates several secrets ({', '.join(secrets)}); "
                "say which holds the Auth0 client with StackConfig.secret_strings"
            )
        client = demo_client(self.config.tenant_path)
        value = json.dumps({"client_id": client.client_id, "client_secret": client.client_secret})
        return dict.fromkeys(secrets, value) | given

    def _start_functions(self, specs: Sequence[FunctionSpec], overrides: Mapping[str, str]) -> None:
        """Each function's worker pool, with its first worker initialised (all in parallel)."""
        token = token_urlsafe(32)  # the workers' AWS_SESSION_TOKEN, which the extension checks
        extension = self._start_secrets_extension(specs, token)
        for spec in specs:
            environment = {**overrides, "AWS_SESSION_TOKEN": token}
            if extension is not None and spec.secrets_extension:
                environment["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] = str(extension.port)
            function = LocalFunction(
                spec, environment, self.config.region, ACCOUNT_ID, self.config.workers_per_function
            )
            self._exit.callback(function.stop)
            self.functions[spec.logical_id] = function
        with ThreadPoolExecutor() as pool:
            list(pool.map(LocalFunction.load, self.functions.values()))

    def _start_secrets_extension(self, specs: Sequence[FunctionSpec], token: str) -> SecretsExtension | None:
        """The Parameters and Secrets extension's stand-in, when a function attaches its layer."""
        if not any(spec.secrets_extension for spec in specs):
            return None
        extension = SecretsExtension(self.aws.client("secretsmanager"), token, host=LOOPBACK).start()
        self._exit.callback(extension.stop)
        return extension

    def _start_http_api(self, specs: Sequence[FunctionSpec]) -> None:
        """The API on ``ports.api``; with a CloudFront distribution in the template, that port plays
        the distribution (``ropguard_offline/cloudfront.py``) and ``ports.direct_api`` serves the API's own
        endpoint, client headers as they come."""
        routes = [
            BoundRoute(
                route=route,
                stage=ApiStage(route.api_id, ACCOUNT_ID, self.config.region),
                function=self.functions[spec.logical_id],
            )
            for spec in specs
            for route in spec.http_routes
        ]
        distributions = self.resources.of_type(DISTRIBUTION)
        if len(distributions) > 1:
            raise TemplateError(f"the offline stack plays one CloudFront distribution, got {distributions}")
        front = None
        if distributions:
            (name,) = distributions
            front = DistributionFront.of(self.resources, name, lambda: self.aws.client("secretsmanager"))
            ensure_free(self.config.host, self.config.ports, "direct_api")  # only a distribution needs it
            self.direct_api_url = self._serve(routes, self.config.ports.direct_api)
        self.api_url = self._serve(routes, self.config.ports.api, front)
        self.direct_api_url = self.direct_api_url or self.api_url

    def _serve(self, routes: Sequence[BoundRoute], port: int, front: DistributionFront | None = None) -> str:
        forwarded = front.forwards if front else None
        api = LocalHttpApi(
            routes,
            self.config.host,
            port,
            openapi_document=OPENAPI_DOCUMENT,
            viewer_headers=front,
            forwarded=forwarded,
        ).start()
        self._exit.callback(api.stop)
        return api.url

    def _start_queue_runner(self, specs: Sequence[FunctionSpec], aws: AwsEndpoint) -> QueueRunner:
        sqs = aws.client("sqs")
        urls = {
            sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]: url
            for url in self.queue_urls.values()
        }
        sources = [
            BoundSource(source, urls[source.queue_arn], self.functions[spec.logical_id])
            for spec in specs
            for source in spec.sqs_sources
        ]
        runner = QueueRunner(sources, aws).start()
        self._exit.callback(runner.stop)
        return runner

    # -- for tests and the demo -------------------------------------------------------------

    @property
    def resources(self) -> OfflineResources:
        """The template's resources as moto created them, and the functions."""
        if self._resources is None:
            raise RuntimeError("the stack has not created its resources yet")
        return self._resources

    def physical(self, logical_id: str) -> str:
        """The created resource behind a logical id, its Ref (queue URL, table name, secret ARN…)."""
        return self.resources.physical(logical_id)

    @property
    def queue_urls(self) -> dict[str, str]:
        return {queue: self.physical(queue) for queue in self.resources.of_type("AWS::SQS::Queue")}

    @property
    def aws(self) -> AwsEndpoint:
        return AwsEndpoint(self.aws_url, self.config.region)

    def reset(self, *, cold_start: bool = True) -> None:
        """Back to a just-started stack, for the next test: queues purged, tables emptied, the
        emulator back to its tenant file, and every function cold (its module imported afresh)
        unless ``cold_start`` is False (a benchmark's warm-up keeps its warm workers)."""
        sqs = self.aws.client("sqs")  # the stack's moto allows PurgeQueue more than once a minute
        for url in self.queue_urls.values():
            sqs.purge_queue(QueueUrl=url)
        for function in self.functions.values() if cold_start else ():
            function.cold_start()  # waits for an invocation in flight
        for url in self.queue_urls.values():
            sqs.purge_queue(QueueUrl=url)  # whatever that invocation left behind
        for table in self.resources.of_type("AWS::DynamoDB::Table"):
            empty_table(self.aws.client("dynamodb"), self.physical(table))
        if self.auth0_url:
            httpx.post(f"{self.auth0_url}/__emulator/reset", timeout=10).raise_for_status()

    def observe_deliveries(self, observer: Callable[[str, str], None]) -> None:
        """Call ``observer(source name, message body)`` for every message the queue runner delivers."""
        if self._runner is None:
            raise RuntimeError("the stack has no queue runner")
        self._runner.observers.append(observer)

    def drain(self, timeout: float = 30.0) -> bool:
        """Wait until every queue that feeds a function is empty; False when ``timeout`` passes."""
        return self._runner.drain(timeout) if self._runner else True


#: The functions' variable that names the secret holding the Auth0 client's credentials.
AUTH0_SECRET_VARIABLE = "AUTH0_SECRET_ID"


def _named_as_auth0_secret(document: Mapping[str, Any], logical_id: str) -> bool:
    """Whether a function's ``AUTH0_SECRET_ID`` refers to the secret ``logical_id`` (translated template)."""
    reference = json.dumps({"Ref": logical_id})
    for resource in document.get("Resources", {}).values():
        variables = resource.get("Properties", {}).get("Environment", {}).get("Variables", {})
        if isinstance(variables, dict) and reference in json.dumps(variables.get(AUTH0_SECRET_VARIABLE)):
            return True
    return False


def _warm(cloudformation: Any) -> None:
    """A first call, only to make moto import its models early; a failure shows in the next call."""
    with contextlib.suppress(Exception):
        cloudformation.list_stacks()


def ensure_free(host: str, ports: Ports, name: str) -> None:
    """Raise OSError naming the port and how to choose another when it is taken (0 is always free)."""
    port = getattr(ports, name)
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # as the servers bind: a previous run's connections in TIME_WAIT do not make a port taken
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            choose = f"--{name.replace('_', '-')}-port or ROPGUARD_{name.upper()}_PORT"
            raise OSError(
                exc.errno,
                f"{host}:{port} is in use ({exc.strerror}); stop what uses it or choose another ({choose})",
            ) from None


def empty_table(dynamodb: Any, table_name: str) -> None:
    """Delete every item (DynamoDB has no truncate)."""
    schema = dynamodb.describe_table(TableName=table_name)["Table"]["KeySchema"]
    names = {f"#k{index}": key["AttributeName"] for index, key in enumerate(schema)}
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table_name, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names
    )
    for page in pages:
        for item in page["Items"]:
            dynamodb.delete_item(TableName=table_name, Key=item)


# -- python -m ropguard_offline.stack ----------------------------------------------------------------------


def banner(stack: OfflineStack, seconds: float) -> str:
    """Where everything is and how long it took to start (the README has things to try)."""
    routes = sorted({route.route_key for fn in stack.functions.values() for route in fn.spec.http_routes})
    return "\n".join(
        [
            f"ropguard offline stack ready in {seconds:.1f} s (Ctrl-C stops it); try the README's curl lines",
            *(
                [f"  local HTTP API  {stack.api_url}   routes: {', '.join(routes)}"]
                if stack.direct_api_url == stack.api_url
                else [
                    f"  CloudFront      {stack.api_url}   (the distribution: viewer address + origin secret)",
                    f"  local HTTP API  {stack.direct_api_url}   (own endpoint) routes: {', '.join(routes)}",
                ]
            ),
            *(
                [f"  sample page     {stack.page_url}/   (cookie mode: examples/browser; --page-port)"]
                if stack.page_url
                else []
            ),
            f"  Auth0 emulator  {stack.auth0_url or '(not started)'}   (/__emulator/token-requests, /outbox)",
            f"  functions       {len(stack.functions)}, each up to {stack.config.workers_per_function} "
            "workers (--workers N)",
            f"  moto (AWS)      {stack.aws_url}",
        ]
    )


def parameter_overrides(items: Sequence[str]) -> dict[str, str]:
    """sam's ``--parameter-overrides`` syntax: ``Key=Value`` or ``ParameterKey=K,ParameterValue=V``."""
    overrides = {}
    for item in items:
        match = re.fullmatch(r"ParameterKey=([^,=]+),ParameterValue=(.*)|([^=\s]+)=(.*)", item, re.DOTALL)
        if match is None:
            raise TemplateError(f"parameter override {item!r} is not Key=Value")
        key, value = (match[1], match[2]) if match[1] else (match[3], match[4])
        overrides[key] = value
    return overrides


def parse_args(argv: Sequence[str], env: Mapping[str, str]) -> argparse.Namespace:
    ports = Ports.from_env(env)
    parser = argparse.ArgumentParser(prog="python -m ropguard_offline.stack", description=__doc__)
    parser.add_argument("--host", default=LOOPBACK, help="address to listen on (default %(default)s)")
    for name, port in dataclasses.asdict(ports).items():
        parser.add_argument(
            f"--{name.replace('_', '-')}-port",
            type=int,
            default=port,
            help=f"env ROPGUARD_{name.upper()}_PORT",
        )
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--tenant", type=Path, default=DEFAULT_TENANT)
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE",
                        help="template parameters, as sam deploy takes them")  # fmt: skip
    parser.add_argument("--workers", type=_at_least_one, default=DEFAULT_MAX_WORKERS, metavar="N",
                        help="each function's pool grows up to N workers (default %(default)s)")  # fmt: skip
    return parser.parse_args(argv)


def _at_least_one(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of at least 1")
    return int(text)


class StopSignals(contextlib.AbstractContextManager["StopSignals"]):
    """SIGINT and SIGTERM, any number in any timing, become one byte each on a socket that
    ``wait()`` reads: the handler itself does nothing, so it can never block.

    A handler that sets a ``threading.Event`` takes the Event's lock; a second signal arriving
    while the first handler holds it (``kill -TERM -- -PGID`` under make delivers two) ran a
    second handler on the same thread, which waited on that lock for ever. Here the interpreter's
    C-level handler writes the signal number to the wakeup socket (``signal.set_wakeup_fd``)
    before any Python code runs.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._writer.setblocking(False)  # a full buffer drops a byte, never blocks the handler
        self._previous_fd = -1

    def __enter__(self) -> StopSignals:
        self._previous_fd = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for number in self.SIGNALS:
            signal.signal(number, _noted)
        return self

    def wait(self) -> signal.Signals:
        """Block until one of the signals has arrived (at once if one came earlier)."""
        return signal.Signals(self._reader.recv(1)[0])

    def __exit__(self, *exc_info: object) -> None:
        """Later signals are ignored: the stack has stopped and the process ends next, so a late
        Ctrl-C must not turn a clean stop into a traceback."""
        for number in self.SIGNALS:
            signal.signal(number, signal.SIG_IGN)
        signal.set_wakeup_fd(self._previous_fd)
        self._reader.close()
        self._writer.close()


def _noted(signum: int, frame: object) -> None:
    """The wakeup socket already holds the signal; there is nothing left to do (and nothing to block on)."""


def main(argv: Sequence[str] | None = None) -> int:
    started = time.monotonic()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv, os.environ)
    with StopSignals() as stopping:
        return _run(args, stopping, started)


def _run(args: argparse.Namespace, stopping: StopSignals, started: float) -> int:
    try:
        config = StackConfig(
            template_path=args.template,
            tenant_path=args.tenant,
            ports=Ports(
                api=args.api_port,
                auth0=args.auth0_port,
                aws=args.aws_port,
                direct_api=args.direct_api_port,
                page=args.page_port,
            ),
            host=args.host,
            parameter_overrides=parameter_overrides(args.parameter_overrides),
            workers_per_function=args.workers,
        )
        stack = OfflineStack.start(config)
    except (TemplateError, OSError) as exc:
        LOG.error("the offline stack did not start: %s", exc)
        return 1
    with stack:
        children.settle_heap()
        print(banner(stack, time.monotonic() - started), flush=True)
        stopping.wait()
        print("stopping…", flush=True)  # further signals only add bytes nobody reads
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
