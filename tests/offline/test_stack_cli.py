"""``python -m ropguard_offline.stack`` (``make run``): configurable ports, a banner, and a clean stop on
SIGINT/SIGTERM. Run as a real subprocess on free ports."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from ropguard_offline.stack import (
    DEFAULT_TENANT,
    Ports,
    demo_client,
    ensure_free,
    parameter_overrides,
    parse_args,
)
from ropguard_offline.template import TemplateError

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


def _start_stack(*extra: str) -> tuple[subprocess.Popen[str], str]:
    """``python -m ropguard_offline.stack`` on free ports, in a process group of its own (as ``make run``'s
    shell gives it), once its banner is out."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("ROPGUARD_API_PORT", "ROPGUARD_AUTH0_PORT", "ROPGUARD_AWS_PORT", "ROPGUARD_PAGE_PORT"):
        env[name] = "0"
    process = subprocess.Popen(  # noqa: S603 - this venv's interpreter, our own module
        [sys.executable, "-m", "ropguard_offline.stack", "--workers", "3", *extra],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if "moto (AWS)" in line:
            break
    return process, "".join(banner)


def test_the_page_port_is_a_flag_and_a_variable() -> None:
    assert Ports().page == 3002
    assert parse_args([], {"ROPGUARD_PAGE_PORT": "3102"}).page_port == 3102
    assert parse_args(["--page-port", "3202"], {"ROPGUARD_PAGE_PORT": "3102"}).page_port == 3202


@pytest.mark.integration
def test_cookie_mode_serves_the_sample_page_pointed_at_the_api() -> None:
    process, text = _start_stack("--parameter-overrides", "TokenDelivery=cookie")
    try:
        page = re.search(r"sample page\s+(http://localhost:\d+)/", text)
        api = re.search(r"local HTTP API\s+http://127\.0\.0\.1:(\d+)", text)
        assert page, text
        assert api, text
        config = httpx.get(f"{page.group(1)}/config.js".replace("localhost", "127.0.0.1"))
        assert (
            config.text == f'window.ROPGUARD_CONFIG = {{"apiBaseUrl": "http://localhost:{api.group(1)}"}};\n'
        )
        # The page's origin is AllowedOrigins: the API answers its preflight with credentials.
        preflight = httpx.options(
            f"http://127.0.0.1:{api.group(1)}/login",
            headers={"Origin": page.group(1), "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == page.group(1)
        assert preflight.headers["access-control-allow-credentials"] == "true"
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=60)
        _stop_surely(process)


def _stop_surely(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.mark.integration
@pytest.mark.parametrize("stop_signal", [signal.SIGINT, signal.SIGTERM])
def test_runs_until_signalled_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    process, text = _start_stack()
    try:
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
        _stop_surely(process)


def _descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (the children start sessions of their own, so not the group)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended while we looked
        parents[int(stat.parent.name)] = int(fields[1])
    found: set[int] = set()
    frontier = {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pid: int) -> bool:
    """True while ``pid`` runs; a zombie (dead, its exit status not yet collected) counts as gone."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


TERM, INT = signal.SIGTERM, signal.SIGINT


@pytest.mark.integration
@pytest.mark.parametrize(
    "burst",
    [
        pytest.param([("group", TERM), ("process", TERM)], id="make-run-kill-TERM-PGID"),
        pytest.param(
            [("process", INT), ("group", TERM), ("process", INT), ("group", INT), ("process", TERM)],
            id="5-mixed",
        ),
        pytest.param(
            [(("group", "process")[i % 2], (TERM, INT)[i % 3 == 0]) for i in range(20)], id="20-mixed"
        ),
    ],
)
def test_any_burst_of_stop_signals_stops_every_process_and_frees_every_port(
    burst: list[tuple[str, signal.Signals]],
) -> None:
    process, text = _start_stack()
    try:
        ports = {int(port) for port in re.findall(r"http://127\.0\.0\.1:(\d+)", text)}
        assert len(ports) == 3, text  # the API, the emulator, moto
        below = _descendants(process.pid)
        assert len(below) >= 3, below  # moto, the emulator, the functions' workers
        for target, number in burst:  # as fast as Python sends them
            if target == "group":
                os.killpg(process.pid, number)
            else:
                process.send_signal(number)
        rest, _ = process.communicate(timeout=90)
        assert process.returncode == 0, rest
        assert "stopped" in rest
        assert "Traceback" not in rest
        assert [pid for pid in below if _alive(pid)] == []
        for port in ports:  # as the servers bind: the stopped stack's TIME_WAIT does not count
            ensure_free("127.0.0.1", Ports(api=port), "api")
    finally:
        for pid in _descendants(process.pid) if process.poll() is None else ():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _stop_surely(process)


def test_a_taken_port_is_refused_with_a_clear_message() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        hint = re.escape("(--aws-port or ROPGUARD_AWS_PORT)")
        with pytest.raises(OSError, match=f"127.0.0.1:{port} is in use .*{hint}"):
            ensure_free("127.0.0.1", Ports(aws=port), "aws")
    ensure_free("127.0.0.1", Ports.free(), "aws")
