"""Which grants the deployed routes need, and reading the routes from template.yaml."""

from __future__ import annotations

from pathlib import Path

from ropguard_doctor.routes import (
    MFA_GRANTS,
    PASSWORD,
    PASSWORD_REALM,
    REFRESH_TOKEN,
    parse_routes,
    required_grants,
    routes_from_template,
)

ROOT = Path(__file__).resolve().parents[3]


def test_grants_per_route() -> None:
    assert required_grants("POST /login", None) == (PASSWORD,)
    assert required_grants("POST /login", "Username-Password-Authentication") == (PASSWORD_REALM,)
    assert required_grants("POST /login/mfa", None) == MFA_GRANTS
    assert required_grants("POST /login/mfa/challenge", None) == MFA_GRANTS
    assert required_grants("GET /login/mfa/authenticators", None) == ()
    assert required_grants("POST /token/refresh", None) == (REFRESH_TOKEN,)
    assert required_grants("POST /logout", None) == ()


def test_parse_routes_accepts_commas_and_lines() -> None:
    assert parse_routes("POST  /login, POST /token/refresh\nPOST /logout") == (
        "POST /login",
        "POST /token/refresh",
        "POST /logout",
    )


def test_routes_from_the_template() -> None:
    assert "POST /login" in routes_from_template(ROOT / "template.yaml")
