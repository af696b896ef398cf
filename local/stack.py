"""The offline stack (``make run``): moto's server as AWS, the Auth0 emulator as Auth0, the
template's resources, functions, HTTP routes and queue consumers, all on loopback.

``OfflineStack`` is the in-process API (tests and ``make demo`` start it on free ports);
``python -m local.stack`` runs it until Ctrl-C. Everything comes from template.yaml; the only
local values are below: ports, endpoint URLs, and the demo client's credentials for the secret.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import os
import secrets
import signal
import socket
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, TracebackType
from typing import Any

import httpx

from auth0_emulator import EmulatorServer
from auth0_emulator.tenant import load_tenant_file
from local.aws_resources import FAKE_CREDENTIALS, AwsEndpoint, create_resources
from local.cloudfront import DISTRIBUTION, DistributionFront, origin_headers
from local.http_api import BoundRoute, LocalHttpApi
from local.http_events import ApiStage
from local.intrinsics import Physical, PseudoParameters, Resolver, TemplateError, references
from local.lambda_runtime import DEFAULT_MAX_WORKERS, LocalFunction
from local.moto_process import MotoProcess
from local.queue_runner import BoundSource, QueueRunner
from local.secrets_extension import SecretsExtension, is_extension_layer
from local.template import QUEUE, SECRET, TABLE, FunctionSpec, Template, read_functions

LOG = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_TEMPLATE = REPO / "template.yaml"
DEFAULT_TENANT = REPO / "local" / "tenants" / "demo.yaml"
OPENAPI_DOCUMENT = REPO / "docs" / "openapi.json"
LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Ports:
    """Where each part listens; 0 picks a free port (what tests use)."""

    api: int = 3000
    auth0: int = 4000
    aws: int = 5000
    #: The API's own endpoint when a CloudFront distribution plays in front of it on ``api``.
    direct_api: int = 3001

    @classmethod
    def free(cls) -> Ports:
        return cls(api=0, auth0=0, aws=0, direct_api=0)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Ports:
        defaults = cls()
        return cls(
            api=int(env.get("ROPGUARD_API_PORT", defaults.api)),
            auth0=int(env.get("ROPGUARD_AUTH0_PORT", defaults.auth0)),
            aws=int(env.get("ROPGUARD_AWS_PORT", defaults.aws)),
            direct_api=int(env.get("ROPGUARD_DIRECT_API_PORT", defaults.direct_api)),
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


@dataclass(frozen=True)
class DemoClient:
    client_id: str
    client_secret: str = field(repr=False)


def demo_client(tenant_path: Path) -> DemoClient:
    """The tenant's confidential client that trusts ``auth0-forwarded-for``: the one ropguard is."""
    tenant = load_tenant_file(tenant_path)
    for client in tenant.clients:
        if client.is_confidential and client.is_token_endpoint_ip_header_trusted and client.client_secret:
            return DemoClient(client.client_id, client.client_secret)
    raise TemplateError(f"{tenant_path} has no confidential client that trusts auth0-forwarded-for")


class OfflineStack:
    """A running offline stack; use ``with OfflineStack.start(...) as stack:`` to stop it surely."""

    def __init__(self, config: StackConfig) -> None:
        self.config = config
        self.template = Template.load(config.template_path)
        self.aws_url = ""
        self.auth0_url = ""
        self.api_url = ""
        #: The API's own endpoint: ``api_url`` itself unless a distribution plays in front of it.
        self.direct_api_url = ""
        self.functions: dict[str, LocalFunction] = {}
        self.resources: dict[str, Physical] = {}
        self._resolver: Resolver | None = None
        self._exit = contextlib.ExitStack()
        self._runner: QueueRunner | None = None

    @classmethod
    def start(cls, config: StackConfig | None = None, *, ports: Ports | None = None) -> OfflineStack:
        config = config or StackConfig()
        if ports is not None:
            config = dataclasses.replace(config, ports=ports)
        stack = cls(config)
        try:
            stack._start()
        except BaseException:
            stack.stop()
            raise
        return stack

    def __enter__(self) -> OfflineStack:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop the consumers, the API, the emulator and moto."""
        self._exit.close()

    # -- start ------------------------------------------------------------------------------

    def _start(self) -> None:
        config = self.config
        for port in (config.ports.aws, config.ports.auth0, config.ports.api, config.ports.direct_api):
            ensure_free(config.host, port)  # fail first and clearly (moto's start() would hang)
        moto = MotoProcess(config.host, config.ports.aws)
        self._exit.callback(moto.stop)
        self.aws_url = moto.start().url
        aws = AwsEndpoint(self.aws_url, config.region)

        secret_strings = dict(config.secret_strings)
        environment = {**self._aws_environment(), **config.environment_overrides}
        parameters = dict(config.parameter_overrides)
        if config.tenant_path is not None:
            emulator = EmulatorServer.from_tenant_file(
                config.tenant_path, host=config.host, port=config.ports.auth0
            )
            emulator.start()
            self._exit.callback(emulator.stop)
            self.auth0_url = emulator.base_url.rstrip("/")
            environment.setdefault("AUTH0_DOMAIN", self.auth0_url)
            parameters = {**self._declared(local_parameters(self.auth0_url)), **parameters}
            secret_strings.update(self._auth0_secret(config.tenant_path, parameters, secret_strings))

        self._resolver = Resolver(self.template.document, parameters, PseudoParameters(region=config.region))
        self.resources = create_resources(self.template, self._resolver, aws, secret_strings)
        specs = read_functions(self.template, self._resolver)
        self._start_functions(specs, environment)
        self._start_http_api(specs, aws)
        self._runner = self._start_queue_runner(specs, aws)

    def _aws_environment(self) -> dict[str, str]:
        return {
            **FAKE_CREDENTIALS,
            "AWS_ENDPOINT_URL": self.aws_url,
            "AWS_REGION": self.config.region,
            "AWS_DEFAULT_REGION": self.config.region,
            "POWERTOOLS_TRACE_DISABLED": "true",
        }

    def _declared(self, parameters: Mapping[str, str]) -> dict[str, str]:
        declared = self.template.document.get("Parameters", {})
        return {name: value for name, value in parameters.items() if name in declared}

    def _auth0_secret(
        self, tenant_path: Path, parameters: Mapping[str, str], given: Mapping[str, str]
    ) -> dict[str, str]:
        """The demo client's credentials go into the template's one secret."""
        probe = Resolver(self.template.document, parameters)
        # A distribution's origin secret (CloudFront mode) is generated, never the Auth0 client's.
        origin_secrets = {
            logical_id
            for distribution in self.template.of_type(DISTRIBUTION, probe)
            for logical_id in references(self.template.resources[distribution].get("Properties", {}))
        }
        secrets = [
            logical_id
            for logical_id in self.template.of_type(SECRET, probe)
            if logical_id not in given and logical_id not in origin_secrets
        ]
        if not secrets:
            return {}
        if len(secrets) > 1:
            raise TemplateError(
                f"the template creates several secrets ({', '.join(secrets)}); "
                "say which holds the Auth0 client with StackConfig.secret_strings"
            )
        client = demo_client(tenant_path)
        value = json.dumps({"client_id": client.client_id, "client_secret": client.client_secret})
        return {secrets[0]: value}

    def _start_functions(self, specs: Sequence[FunctionSpec], overrides: Mapping[str, str]) -> None:
        """Each function's worker pool, with its first worker initialised (all in parallel)."""
        token = secrets.token_urlsafe(32)  # the workers' AWS_SESSION_TOKEN, which the extension checks
        extension = self._start_secrets_extension(specs, token)
        pseudo = self.resolver.pseudo
        for spec in specs:
            environment = {**overrides, "AWS_SESSION_TOKEN": token}
            if extension is not None and uses_secrets_extension(spec):
                environment["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] = str(extension.port)
            function = LocalFunction(
                spec, environment, pseudo.region, pseudo.account_id, self.config.workers_per_function
            )
            self._exit.callback(function.stop)
            self.functions[spec.logical_id] = function
        with ThreadPoolExecutor() as pool:
            list(pool.map(LocalFunction.load, self.functions.values()))

    def _start_secrets_extension(self, specs: Sequence[FunctionSpec], token: str) -> SecretsExtension | None:
        """The Parameters and Secrets extension's stand-in, when a function attaches its layer."""
        attached = [uses_secrets_extension(spec) for spec in specs]  # every function's layers checked
        if not any(attached):
            return None
        extension = SecretsExtension(self.aws.client("secretsmanager"), token, host=LOOPBACK).start()
        self._exit.callback(extension.stop)
        return extension

    def _start_http_api(self, specs: Sequence[FunctionSpec], aws: AwsEndpoint) -> None:
        """The API on ``ports.api``; with a CloudFront distribution in the template, that port plays
        the distribution (``local/cloudfront.py``) and ``ports.direct_api`` serves the API's own
        endpoint, client headers as they come."""
        pseudo = self.resolver.pseudo
        routes = [
            BoundRoute(
                route=route,
                stage=ApiStage(route.api_id, pseudo.account_id, pseudo.region),
                function=self.functions[spec.logical_id],
            )
            for spec in specs
            for route in spec.http_routes
        ]
        distributions = list(self.template.of_type(DISTRIBUTION, self.resolver))
        if len(distributions) > 1:
            raise TemplateError(f"the offline stack plays one CloudFront distribution, got {distributions}")
        front = None
        if distributions:
            origin = origin_headers(self.template.properties(distributions[0], self.resolver))
            front = DistributionFront(origin, lambda: aws.client("secretsmanager"))
            direct = LocalHttpApi(
                routes,
                host=self.config.host,
                port=self.config.ports.direct_api,
                openapi_document=OPENAPI_DOCUMENT,
            ).start()
            self._exit.callback(direct.stop)
            self.direct_api_url = direct.url
        api = LocalHttpApi(
            routes,
            host=self.config.host,
            port=self.config.ports.api,
            openapi_document=OPENAPI_DOCUMENT,
            viewer_headers=front,
        ).start()
        self._exit.callback(api.stop)
        self.api_url = api.url
        self.direct_api_url = self.direct_api_url or api.url

    def _start_queue_runner(self, specs: Sequence[FunctionSpec], aws: AwsEndpoint) -> QueueRunner:
        urls = {physical.attributes.get("Arn"): physical.ref for physical in self.resources.values()}
        sources = []
        for spec in specs:
            for source in spec.sqs_sources:
                if source.queue_arn not in urls:
                    raise TemplateError(
                        f"{spec.logical_id}.{source.name}: no local queue has ARN {source.queue_arn}"
                    )
                sources.append(BoundSource(source, urls[source.queue_arn], self.functions[spec.logical_id]))
        runner = QueueRunner(sources, aws).start()
        self._exit.callback(runner.stop)
        return runner

    # -- for tests and the demo -------------------------------------------------------------

    @property
    def resolver(self) -> Resolver:
        """The template's values in this stack (physical ids, parameters, conditions)."""
        if self._resolver is None:
            raise RuntimeError("the stack has not created its resources yet")
        return self._resolver

    def physical(self, logical_id: str) -> Physical:
        """The created resource behind a logical id (queue URL, table name, secret ARN…)."""
        return self.resolver.physical(logical_id)

    @property
    def queue_urls(self) -> dict[str, str]:
        return {
            logical_id: self.physical(logical_id).ref
            for logical_id in self.template.of_type(QUEUE, self.resolver)
        }

    @property
    def aws(self) -> AwsEndpoint:
        return AwsEndpoint(self.aws_url, self.config.region)

    def reset(self) -> None:
        """Back to a just-started stack, for the next test: queues purged, tables emptied, the
        emulator back to its tenant file, and every function cold (its module imported afresh)."""
        sqs = self.aws.client("sqs")  # the stack's moto allows PurgeQueue more than once a minute
        for url in self.queue_urls.values():
            sqs.purge_queue(QueueUrl=url)
        for function in self.functions.values():
            function.cold_start()  # waits for an invocation in flight
        for url in self.queue_urls.values():
            sqs.purge_queue(QueueUrl=url)  # whatever that invocation left behind
        for logical_id in self.template.of_type(TABLE, self.resolver):
            empty_table(self.aws.client("dynamodb"), self.physical(logical_id).ref)
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


def ensure_free(host: str, port: int) -> None:
    """Raise OSError naming the port when it is taken (port 0 is always free)."""
    if port == 0:
        return
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        # as the servers bind: a previous run's connections in TIME_WAIT do not make a port taken
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise OSError(
                exc.errno, f"{host}:{port} is in use ({exc.strerror}); choose another port"
            ) from None


def uses_secrets_extension(spec: FunctionSpec) -> bool:
    """Whether the function attaches AWS's Parameters and Secrets extension; a layer given by
    any other ARN cannot run offline."""
    for arn in spec.layer_arns:
        if not is_extension_layer(arn):
            raise TemplateError(
                f"Resources.{spec.logical_id}.Layers: {arn} cannot run offline (only this "
                "template's own layers and AWS's Parameters and Secrets extension can)"
            )
    return bool(spec.layer_arns)


def empty_table(dynamodb: Any, table_name: str) -> None:
    """Delete every item (DynamoDB has no truncate)."""
    keys = [
        item["AttributeName"] for item in dynamodb.describe_table(TableName=table_name)["Table"]["KeySchema"]
    ]
    names = {f"#k{index}": key for index, key in enumerate(keys)}
    pages = dynamodb.get_paginator("scan").paginate(
        TableName=table_name, ProjectionExpression=", ".join(names), ExpressionAttributeNames=names
    )
    for page in pages:
        for item in page["Items"]:
            dynamodb.delete_item(TableName=table_name, Key=item)


def local_parameters(auth0_url: str) -> dict[str, str]:
    """Values for template parameters without a default, as ``sam deploy --parameter-overrides``
    gives a real stack (applied only to parameters the template declares)."""
    return {"Auth0Domain": auth0_url}


# -- python -m local.stack ----------------------------------------------------------------------


def banner(stack: OfflineStack) -> str:
    """Where everything is, and a few things to try."""
    api, auth0 = stack.api_url, stack.auth0_url
    routes = sorted(
        {f"{route.route_key}" for fn in stack.functions.values() for route in fn.spec.http_routes}
    )
    api_line = f"  local HTTP API  {api}   routes: {', '.join(routes)}"
    if stack.direct_api_url != api:
        api_line = (
            f"  CloudFront      {api}   (plays the distribution: adds the viewer address and origin secret)\n"
            f"  local HTTP API  {stack.direct_api_url}   (the API's own endpoint) routes: {', '.join(routes)}"
        )
    lines = [
        "ropguard offline stack is running (Ctrl-C stops it)",
        api_line,
        f"  Auth0 emulator  {auth0 or '(not started)'}",
        f"  moto (AWS)      {stack.aws_url}",
        "",
        "Try:",
        "  # alice logs in",
        f"  curl -s -X POST {api}/login -H 'content-type: application/json' \\",
        """    -d '{"username":"alice@example.com","password":"correct-horse-battery-staple"}'""",
        "  # bob's password is breached: 401 password_leaked, then a reset email (see the outbox)",
        f"  curl -s -X POST {api}/login -H 'content-type: application/json' \\",
        """    -d '{"username":"bob@example.com","password":"AUTH0-TEST-bob-breached-1"}'""",
        "  # a forged X-Forwarded-For changes nothing: Auth0 still sees the TCP peer (127.0.0.1)",
        f"  curl -s -X POST {api}/login -H 'x-forwarded-for: 203.0.113.7' \\",
        "    -H 'content-type: application/json' \\",
        """    -d '{"username":"alice@example.com","password":"wrong"}'""",
        f"  curl -s {auth0}/__emulator/token-requests   # what Auth0 saw (forwarded_for, attributed_ip)",
        f"  curl -s {auth0}/__emulator/outbox           # emails Auth0 sent",
    ]
    return "\n".join(lines)


def parse_args(argv: Sequence[str], env: Mapping[str, str]) -> argparse.Namespace:
    ports = Ports.from_env(env)
    parser = argparse.ArgumentParser(prog="python -m local.stack", description=__doc__)
    parser.add_argument("--host", default=LOOPBACK, help="address to listen on (default %(default)s)")
    parser.add_argument(
        "--api-port", type=int, default=ports.api, help="local HTTP API (env ROPGUARD_API_PORT)"
    )
    parser.add_argument(
        "--auth0-port", type=int, default=ports.auth0, help="Auth0 emulator (env ROPGUARD_AUTH0_PORT)"
    )
    parser.add_argument("--aws-port", type=int, default=ports.aws, help="moto server (env ROPGUARD_AWS_PORT)")
    parser.add_argument("--template", type=Path, default=DEFAULT_TEMPLATE)
    parser.add_argument("--tenant", type=Path, default=DEFAULT_TENANT)
    parser.add_argument(
        "--direct-api-port",
        type=int,
        default=ports.direct_api,
        help="the API's own endpoint in CloudFront mode (env ROPGUARD_DIRECT_API_PORT)",
    )
    parser.add_argument(
        "--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE", help="template parameters"
    )
    return parser.parse_args(argv)


@contextlib.contextmanager
def stop_signals() -> Iterator[threading.Event]:
    """An event set by SIGINT or SIGTERM (previous handlers restored afterwards)."""
    stopping = threading.Event()

    def on_signal(number: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {number: signal.signal(number, on_signal) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stopping
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    args = parse_args(sys.argv[1:] if argv is None else argv, os.environ)
    config = StackConfig(
        template_path=args.template,
        tenant_path=args.tenant,
        ports=Ports(
            api=args.api_port, auth0=args.auth0_port, aws=args.aws_port, direct_api=args.direct_api_port
        ),
        host=args.host,
        parameter_overrides=dict(item.split("=", 1) for item in args.parameter_overrides),
    )
    with stop_signals() as stopping:
        try:
            stack = OfflineStack.start(config)
        except (TemplateError, OSError) as exc:
            LOG.error("the offline stack did not start: %s", exc)
            return 1
        with stack:
            print(banner(stack), flush=True)
            stopping.wait()
            print("stopping…", flush=True)
    print("stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
