"""``python -m local.stack`` (``make run``): configurable ports, a banner, and a clean stop on
SIGINT/SIGTERM. Run as a real subprocess on free ports."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from local.stack import DEFAULT_TENANT, Ports, demo_client, ensure_free, parameter_overrides, parse_args
from local.template import TemplateError

REPO = Path(__file__).resolve().parents[2]


def test_ports_come_from_flags_then_environment_then_defaults() -> None:
    assert Ports.from_env({}) == Ports(api=3000, auth0=4000, aws=5000)
    env = {"ROPGUARD_API_PORT": "3100", "ROPGUARD_AUTH0_PORT": "4100", "ROPGUARD_AWS_PORT": "5100"}
    args = parse_args(["--api-port", "3200", "--direct-api-port", "3300"], env)
    assert (args.api_port, args.auth0_port, args.aws_port, args.direct_api_port) == (3200, 4100, 5100, 3300)


def test_the_pool_limit_is_a_flag_of_at_least_one(capsys: pytest.CaptureFixture[str]) -> None:
    assert (parse_args([], {}).workers, parse_args(["--workers", "8"], {}).workers) == (4, 8)
    for bad in ("0", "-1", "many"):
        with pytest.raises(SystemExit):
            parse_args(["--workers", bad], {})
        assert "is not a whole number of at least 1" in capsys.readouterr().err


def test_parameter_overrides_take_sams_syntax() -> None:
    # make run PARAMS="Auth0Scopes='openid offline_access' Auth0Audience=a=b" after the shell's quoting:
    args = parse_args(["--parameter-overrides", "Auth0Scopes=openid offline_access", "Auth0Audience=a=b"], {})
    assert parameter_overrides(args.parameter_overrides) == {
        "Auth0Scopes": "openid offline_access",
        "Auth0Audience": "a=b",
    }
    assert parameter_overrides(["ParameterKey=Auth0Realm,ParameterValue=customers"]) == {
        "Auth0Realm": "customers"
    }
    assert parameter_overrides(["Auth0Realm="]) == {"Auth0Realm": ""}
    with pytest.raises(TemplateError, match="'novalue' is not Key=Value"):
        parameter_overrides(["novalue"])


@pytest.mark.integration
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_runs_until_signalled_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("ROPGUARD_API_PORT", "ROPGUARD_AUTH0_PORT", "ROPGUARD_AWS_PORT"):
        env[name] = "0"
    process = subprocess.Popen(
        [sys.executable, "-m", "local.stack", "--workers", "3"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        banner = []
        for line in process.stdout:
            banner.append(line)
            if "moto (AWS)" in line:
                break
        text = "".join(banner)
        api_url = re.search(r"local HTTP API\s+(http://127\.0\.0\.1:\d+)", text)
        assert api_url, text
        assert "POST /login" in text
        assert "each up to 3 workers" in text
        response = httpx.post(
            f"{api_url.group(1)}/login",
            json={"username": "dave@example.com", "password": "dave-is-blocked-0"},
        )
        assert response.status_code == 401
        process.send_signal(stop_signal)
        rest, _ = process.communicate(timeout=60)
        assert process.returncode == 0, rest
        assert "stopping" in rest
        emulator_url = re.search(r"Auth0 emulator\s+(http://127\.0\.0\.1:\d+)", text)
        assert emulator_url, text
        with pytest.raises(httpx.ConnectError):  # its own process stopped with the stack
            httpx.get(f"{emulator_url.group(1)}/.well-known/jwks.json")
        assert "Traceback" not in rest
        output = text + rest
        assert "dave-is-blocked-0" not in output
        assert demo_client(DEFAULT_TENANT).client_secret not in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_taken_port_is_refused_with_a_clear_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        hint = re.escape("(--aws-port or ROPGUARD_AWS_PORT)")
        with pytest.raises(OSError, match=f"127.0.0.1:{port} is in use .*{hint}"):
            ensure_free("127.0.0.1", Ports(aws=port), "aws")
    ensure_free("127.0.0.1", Ports.free(), "aws")
