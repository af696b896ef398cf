"""docs/openapi.json is what ``ropguard_tools.openapi`` generates from the code now, so it cannot drift."""

from __future__ import annotations

import subprocess
import sys

from ropguard import login_request
from ropguard_offline.template import load_yaml
from ropguard_tools import openapi
from tests.fixtures.login import ROOT


def test_committed_description_is_the_generated_one() -> None:
    committed = (ROOT / "docs" / "openapi.json").read_text(encoding="utf-8")

    assert committed == openapi.render(openapi.build_document()), (
        "docs/openapi.json is stale: run `make openapi` and commit it"
    )


def test_the_cli_check_agrees() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ropguard_tools.openapi", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 0, result.stderr


def test_every_template_route_is_described_from_the_code() -> None:
    document = openapi.build_document()
    routes = {
        (event["Properties"]["Method"].lower(), event["Properties"]["Path"])
        for resource in load_yaml(ROOT / "template.yaml")["Resources"].values()
        for event in resource.get("Properties", {}).get("Events", {}).values()
        if event.get("Type") == "HttpApi"
    }
    described = {(method, path) for path, item in document["paths"].items() for method in item}
    assert described == routes
    body = document["components"]["schemas"]["LoginRequest"]
    assert body["properties"]["password"]["maxLength"] == login_request.MAX_PASSWORD_CHARS
    assert body["properties"]["username"]["maxLength"] == login_request.MAX_USERNAME_CHARS
    assert set(document["paths"]["/login"]["post"]["requestBody"]["content"]) == {
        login_request.JSON,
        login_request.FORM,
    }
