"""env.json (for ``sam local invoke --env-vars``) stays usable as the template and settings change.

``sam local`` applies only variables the template declares for that function, so a stale key is
silently ignored; and a function whose settings do not validate fails on its first invocation.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from ropguard.settings import (
    ApiSettings,
    ResetSettings,
    SecurityEventSettings,
    read_auth0_base_url,
    read_str,
)
from ropguard_offline.template import load_yaml

ROOT = Path(__file__).resolve().parents[2]
ENV_JSON: dict[str, dict[str, str]] = json.loads((ROOT / "env.json").read_text())
TEMPLATE: dict[str, Any] = load_yaml(ROOT / "template.yaml")


def tenant_check_settings(env: dict[str, str]) -> None:
    """What the scheduled tenant check needs before it reads its secrets (ropguard_doctor.config)."""
    read_auth0_base_url(env, "AUTH0_DOMAIN")
    read_str(env, "ROPGUARD_MANAGEMENT_SECRET_ID")
    read_str(env, "AUTH0_SECRET_ID")


SETTINGS_OF: dict[str, list[Callable[[dict[str, str]], object]]] = {
    "LoginFunction": [ApiSettings.from_env, SecurityEventSettings.from_env],
    "PasswordResetFunction": [ResetSettings.from_env],
    "TenantCheckFunction": [tenant_check_settings],
    "SessionFunction": [ApiSettings.from_env],
}


def declared_variables(function: str) -> set[str]:
    global_vars = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]
    own = TEMPLATE["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return set(global_vars) | set(own)


def test_env_json_covers_every_function_of_the_template() -> None:
    functions = {
        name
        for name, resource in TEMPLATE["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
    }
    assert set(ENV_JSON) == functions == set(SETTINGS_OF)


@pytest.mark.parametrize("function", sorted(ENV_JSON))
def test_every_env_json_variable_is_declared_by_the_template(function: str) -> None:
    assert set(ENV_JSON[function]) <= declared_variables(function)


@pytest.mark.parametrize("function", sorted(ENV_JSON))
def test_env_json_alone_satisfies_the_functions_settings(function: str) -> None:
    for from_env in SETTINGS_OF[function]:
        from_env(ENV_JSON[function])  # raises ConfigurationError naming the variable
