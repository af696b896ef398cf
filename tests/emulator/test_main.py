"""``python -m auth0_emulator`` stands alone (``auth0_emulator/__main__.py``): it serves a tenant
file on the port given, and the package imports nothing from the product or the offline stack."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fixtures.emulator import DEMO_AUDIENCE, DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, DEMO_TENANT, DEMO_USERS

pytestmark = pytest.mark.integration

PACKAGE = Path(__file__).resolve().parents[2] / "auth0_emulator"


def start(tmp_path: Path, *extra: str) -> tuple[subprocess.Popen[str], str]:
    """The emulator as a user runs it (its own process, from an unrelated directory), on the free
    port it picks itself; its URL comes from the line it prints once listening."""
    process = subprocess.Popen(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "auth0_emulator", "--tenant", str(DEMO_TENANT), "--port", "0", *extra],
        cwd=tmp_path,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert process.stdout is not None
    ready = process.stdout.readline()
    assert ready.startswith("auth0 emulator listening on http://127.0.0.1:"), ready
    return process, ready.rsplit(" ", 1)[1].strip()


@pytest.fixture
def standalone(tmp_path: Path) -> Iterator[str]:
    process, base_url = start(tmp_path)
    try:
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_serves_the_tenant_file_on_the_given_port(standalone: str) -> None:
    username, password = DEMO_USERS["alice"]
    response = httpx.post(
        f"{standalone}/oauth/token",
        json={"grant_type": "password", "client_id": DEMO_CLIENT_ID, "client_secret": DEMO_CLIENT_SECRET,
              "username": username, "password": password, "audience": DEMO_AUDIENCE},
    )  # fmt: skip
    assert response.status_code == 200
    issuer = httpx.get(f"{standalone}/.well-known/openid-configuration").json()["issuer"]
    assert issuer == f"{standalone}/"


def test_stops_when_its_standard_input_closes_if_asked(tmp_path: Path) -> None:
    # how the offline stack runs it: a stack that dies closes the pipe and takes the emulator along
    process, base_url = start(tmp_path, "--stop-on-eof")
    assert httpx.get(f"{base_url}/.well-known/jwks.json").status_code == 200
    assert process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=30) == 0
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{base_url}/.well-known/jwks.json")


def test_a_bad_tenant_file_exits_2_naming_the_field(tmp_path: Path) -> None:
    tenant = tmp_path / "tenant.yaml"
    tenant.write_text("tenant: {management_api_token: t}\nclients: [{client_id: c}]\n")
    result = subprocess.run(  # noqa: S603 (our own interpreter and module)
        [sys.executable, "-m", "auth0_emulator", "--tenant", str(tenant), "--port", "0"],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "clients[0].client_secret" in result.stderr


def test_the_package_imports_nothing_from_the_product_or_the_stack() -> None:
    imported: set[str] = set()
    for source in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                imported.add(node.module.split(".")[0])
    assert not imported & {"ropguard", "ropguard_offline", "functions", "tests", "ropguard_doctor"}


def test_importing_the_package_loads_no_product_module() -> None:
    code = (
        "import sys, auth0_emulator.__main__; "
        "print(sorted(m for m in sys.modules"
        " if m.split('.')[0] in {'ropguard', 'ropguard_offline', 'functions'}))"
    )
    result = subprocess.run(  # noqa: S603 (our own interpreter, a fixed snippet)
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
