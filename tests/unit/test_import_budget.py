"""Import budget of every API handler: a fact, not a timing.

For each function template.yaml routes an ``HttpApi`` event to (so new routes are covered as they
land), a fresh interpreter imports the handler the way Lambda does and serves one request with the
Parameters and Secrets extension configured (a loopback stand-in that checks the session token) and
tracing off (the template's default). Afterwards none of boto3, botocore, the X-Ray SDK or pydantic
may be in ``sys.modules``: together they were most of the login's cold start (docs/architecture.md,
"Cold start"); nor Powertools' event data classes (tens of ms for what two dict lookups do), nor
what only cookie mode or a breach needs. httpx is allowed: it is the one HTTP client of every
outbound call (``ropguard.outbound``). This venv has them all installed, so an import anywhere on
the path shows up here.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode  # type: ignore[import-untyped]

from benchmarks.loopback_auth0 import CountingTokenServer
from benchmarks.loopback_extension import LoopbackExtension, dict_fetch

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = (
    "boto3",
    "botocore",
    "aws_xray_sdk",
    "pydantic",
    # Every event type Powertools knows, for two dict lookups: read the event's keys directly.
    "aws_lambda_powertools.utilities.data_classes",
    # Cookie mode's seal (TokenDelivery=cookie) only: body mode, the template's default, never imports it.
    "cryptography",
    "ropguard.cookie_seal",
    # Breach events only (ropguard.security_events): with platform, about 3 ms of every cold start.
    "uuid",
)
SECRET_ID = "ropguard/import-budget"
CLIENT_SECRET = "client-secret-import-budget-never-log-me"
SESSION_TOKEN = "session-token-import-budget-never-log-me"
PASSWORD = "password-import-budget-never-log-me"

# httpx loads its command line when click is installed, as it is in this venv but not in the layer;
# click imports uuid, so it is hidden here as Lambda hides it (httpx then skips its command line).
CHILD = """
import importlib.util, json, sys
sys.modules["click"] = None
code_dir, module_name, function, event = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
sys.path.insert(0, code_dir)
spec = importlib.util.spec_from_file_location(module_name, f"{code_dir}/{module_name.replace('.', '/')}.py")
module = importlib.util.module_from_spec(spec)
sys.modules[module_name] = module
spec.loader.exec_module(module)

class Context:
    function_name = "ImportBudget"
    function_version = "$LATEST"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ImportBudget"
    aws_request_id = "import-budget"

    def get_remaining_time_in_millis(self):
        return 15_000

answer = getattr(module, function)(event, Context())
loaded = sorted(name for name in FORBIDDEN if name in sys.modules)
sys.__stdout__.write("@@budget " + json.dumps({"status": answer.get("statusCode"), "loaded": loaded}) + "\\n")
""".replace("FORBIDDEN", repr(FORBIDDEN))


@dataclass(frozen=True)
class ApiHandler:
    logical_id: str
    code_dir: Path
    module: str
    function: str
    method: str
    path: str
    environment: dict[str, Any]


def api_handlers() -> list[ApiHandler]:
    """Every (function, route) pair with an HttpApi event in template.yaml, Globals applied."""
    template, problems = decode(str(ROOT / "template.yaml"))
    assert not problems, problems
    defaults = template.get("Globals", {}).get("Function", {})
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**defaults, **resource.get("Properties", {})}
        environment = {
            **defaults.get("Environment", {}).get("Variables", {}),
            **resource["Properties"].get("Environment", {}).get("Variables", {}),
        }
        module, function = str(props["Handler"]).rsplit(".", 1)
        for event in (props.get("Events") or {}).values():
            if event.get("Type") != "HttpApi":
                continue
            found.append(
                ApiHandler(
                    logical_id=logical_id,
                    code_dir=ROOT / str(props["CodeUri"]),
                    module=module,
                    function=function,
                    method=str(event["Properties"]["Method"]).upper(),
                    path=str(event["Properties"]["Path"]),
                    environment=environment,
                )
            )
    return found


HANDLERS = api_handlers()
PARAMETERS: dict[str, dict[str, Any]] = decode(str(ROOT / "template.yaml"))[0].get("Parameters", {})


def test_the_template_has_api_handlers() -> None:
    assert any(h.logical_id == "LoginFunction" and h.path == "/login" for h in HANDLERS)


def http_event(handler: ApiHandler) -> dict[str, Any]:
    body = {"username": "alice@example.com", "password": PASSWORD}
    return {
        "version": "2.0",
        "routeKey": f"{handler.method} {handler.path}",
        "rawPath": handler.path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json"},
        "requestContext": {
            "requestId": "import-budget",
            "routeKey": f"{handler.method} {handler.path}",
            "http": {"method": handler.method, "path": handler.path, "sourceIp": "203.0.113.7"},
        },
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def _literal(value: Any) -> str:
    """A template value as text: a parameter's default for ``!Ref``, a placeholder for the rest."""
    if isinstance(value, dict) and set(value) == {"Ref"} and value["Ref"] in PARAMETERS:
        return str(PARAMETERS[value["Ref"]].get("Default", "placeholder"))
    return value if isinstance(value, str) else "placeholder"


def child_environment(handler: ApiHandler, auth0_url: str, extension_port: int) -> dict[str, str]:
    """The template's literal variables, placeholders for intrinsics, and the loopback servers."""
    env = {name: _literal(value) for name, value in handler.environment.items()}
    env.update(
        {
            "PATH": "/usr/bin:/bin",
            "LAMBDA_TASK_ROOT": str(handler.code_dir),  # in Lambda: tracing would be on unless disabled
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_SESSION_TOKEN": SESSION_TOKEN,
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(extension_port),
            "POWERTOOLS_TRACE_DISABLED": "true",  # the template's default (Tracing=Disabled)
            "POWERTOOLS_SERVICE_NAME": handler.logical_id,
            "POWERTOOLS_METRICS_NAMESPACE": "RopguardImportBudget",
            "AUTH0_DOMAIN": auth0_url,
            "AUTH0_INSECURE_HTTP_HOSTS": "",
            "AUTH0_SECRET_ID": SECRET_ID,
            "CLIENT_ADDRESS_SOURCE": "request-context",  # the template's default (ClientAddressSource)
            "SECRET_MAX_AGE_SECONDS": "300",  # the template's default (SecretMaxAgeSeconds)
            "SECURITY_EVENTS_TOPIC_ARN": "arn:aws:sns:us-east-1:123456789012:security-events",
            "PASSWORD_RESET_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/password-reset",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
    )
    return env


@pytest.mark.parametrize("handler", HANDLERS, ids=lambda h: f"{h.logical_id}:{h.method} {h.path}")
def test_serving_a_request_loads_no_aws_sdk_xray_or_pydantic(
    handler: ApiHandler, secret_registry: Any
) -> None:
    for value in (CLIENT_SECRET, SESSION_TOKEN, PASSWORD):
        secret_registry.add("secret", value)
    secret = json.dumps({"client_id": "import-budget", "client_secret": CLIENT_SECRET})
    with (
        CountingTokenServer() as auth0,
        LoopbackExtension(dict_fetch({SECRET_ID: secret}), token=SESSION_TOKEN) as extension,
    ):
        result = subprocess.run(  # noqa: S603 - this venv's interpreter, our own code
            [
                sys.executable,
                "-c",
                CHILD,
                str(handler.code_dir),
                handler.module,
                handler.function,
                json.dumps(http_event(handler)),
            ],
            env=child_environment(handler, auth0.base_url, extension.port),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        lines = [line for line in result.stdout.splitlines() if line.startswith("@@budget ")]
        assert result.returncode == 0, result.stderr[-2000:]
        assert len(lines) == 1, result.stdout[-2000:]
        report = json.loads(lines[0].removeprefix("@@budget "))
        if handler.path == "/login":
            # The login really went through: the secret came from the extension, Auth0 answered.
            assert report["status"] == 200, report
            assert extension.requests == 1
            assert auth0.requests == 1
    assert report["loaded"] == [], (
        f"{handler.logical_id} loaded {report['loaded']} while serving {handler.method} {handler.path}: "
        "import them lazily where they are needed (boto3 in the breach publisher, X-Ray through "
        "ropguard.tracing, Powertools names through ropguard.observability, events as plain dicts, "
        "the cookie seal in CookieDelivery.for_api, uuid where a breach event is made or read)"
    )
