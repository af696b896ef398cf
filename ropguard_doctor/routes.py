"""Which grant types the deployed routes need from the login client.

The routes come from template.yaml (the CLI reads its ``HttpApi`` events) or, in the scheduled
function, from ``ROPGUARD_ROUTES``, which the template sets and a test keeps equal to its routes.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from ropguard_doctor.errors import DoctorError

PASSWORD = "password"  # noqa: S105 - grant type names, not passwords
PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"  # noqa: S105
MFA_OTP = "http://auth0.com/oauth/grant-type/mfa-otp"
MFA_OOB = "http://auth0.com/oauth/grant-type/mfa-oob"
MFA_RECOVERY_CODE = "http://auth0.com/oauth/grant-type/mfa-recovery-code"
REFRESH_TOKEN = "refresh_token"  # noqa: S105
MFA_GRANTS = (MFA_OTP, MFA_OOB, MFA_RECOVERY_CODE)


def required_grants(route: str, realm: str | None) -> tuple[str, ...]:
    """The grants ``route`` ("METHOD /path") sends to Auth0's token endpoint."""
    method, _, path = route.strip().partition(" ")
    if method.upper() != "POST":
        return ()
    if path == "/login":
        return (PASSWORD_REALM,) if realm else (PASSWORD,)
    if path.startswith("/login/mfa"):
        # Auth0 enables (and the MFA API expects) the three MFA grants together.
        return MFA_GRANTS
    if path == "/token/refresh":
        return (REFRESH_TOKEN,)
    return ()


def parse_routes(text: str) -> tuple[str, ...]:
    """``"POST /login, POST /token/refresh"`` → routes (commas or newlines between them)."""
    return tuple(
        " ".join(part.split()) for line in text.replace(",", "\n").splitlines() if (part := line.strip())
    )


class _TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation's short tags (!Ref, !Sub, ...) as plain values."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_TemplateLoader.add_multi_constructor("!", _any_tag)


def routes_from_template(path: Path) -> tuple[str, ...]:
    """Every ``HttpApi`` event's route in template.yaml."""
    try:
        document = yaml.load(path.read_text(encoding="utf-8"), Loader=_TemplateLoader)  # noqa: S506
    except (OSError, yaml.YAMLError) as exc:
        raise DoctorError(f"cannot read the routes from {path}: {exc}") from None
    return tuple(sorted(set(_http_routes(document))))


def _http_routes(document: Any) -> Iterator[str]:
    resources = document.get("Resources", {}) if isinstance(document, dict) else {}
    for resource in resources.values():
        if not isinstance(resource, dict) or resource.get("Type") != "AWS::Serverless::Function":
            continue
        events = (resource.get("Properties") or {}).get("Events") or {}
        for event in events.values():
            if isinstance(event, dict) and event.get("Type") == "HttpApi":
                props = event.get("Properties") or {}
                yield f"{str(props.get('Method', 'ANY')).upper()} {props.get('Path', '/')}"
