"""Which tenant the doctor examines and with which credentials: flags, then environment variables.

With no tenant named (no ``--domain``, no ``AUTH0_DOMAIN``) the doctor examines the offline
stack's emulator (``make run``) with the demo tenant's documented M2M client, and reads the login
client's credentials from the stack's secret in moto. Whatever listens on the emulator's port is
not a tenant anyone vouched for, so credentials from the environment are never sent there (the
notice says which were left out). A named tenant needs its credentials named too: the demo values
are never sent anywhere else.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ropguard.errors import RopguardError
from ropguard.settings import CLIENT_AUTH_METHODS, read_auth0_base_url, read_choice
from ropguard_doctor.check import CheckContext, IpAddress
from ropguard_doctor.credentials import (
    OFFLINE_MANAGEMENT_CLIENT_ID,
    OFFLINE_MANAGEMENT_CLIENT_SECRET,
    Credentials,
    SecretsManager,
    credentials_from_env,
)
from ropguard_doctor.desired import TENANT_FILE_VARIABLES
from ropguard_doctor.errors import DoctorError
from ropguard_doctor.routes import parse_routes, routes_from_template

PACKAGE_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_TENANT_FILE = Path("auth0") / "tenant.yaml"
DEFAULT_TEMPLATE = Path("template.yaml")
OFFLINE_HOST = "127.0.0.1"
#: Credentials an operator exports for a real tenant: never sent to the offline emulator.
ENVIRONMENT_CREDENTIALS = (
    "AUTH0_MANAGEMENT_CLIENT_ID",
    "AUTH0_MANAGEMENT_CLIENT_SECRET",
    "AUTH0_CLIENT_ID",
    "AUTH0_CLIENT_SECRET",
)


@dataclass(frozen=True)
class Options:
    """What the command line (or the scheduled function's environment) says; None = not given."""

    domain: str | None = None
    management_secret_id: str | None = None
    login_secret_id: str | None = None
    tenant_file: Path | None = None
    template: Path | None = None
    routes: Sequence[str] = ()
    realm: str | None = None
    egress: Sequence[str] = ()
    need_login_secret: bool = False
    #: False: the login client's secret is not read at all (its id must then be given).
    read_login_secret: bool = True


@dataclass(frozen=True)
class Target:
    """The tenant to examine, ready to use."""

    base_url: str
    offline: bool
    management: Credentials = field(repr=False)
    login: Credentials | None = field(repr=False)
    tenant_file: Path
    variables: Mapping[str, str] = field(repr=False)
    context: CheckContext
    realm: str | None
    #: Said to the operator before anything else (offline mode: what the doctor uses instead).
    notice: str | None = None


def resolve(options: Options, env: Mapping[str, str]) -> Target:
    domain = options.domain or env.get("AUTH0_DOMAIN", "").strip() or None
    offline = domain is None
    withheld = [name for name in ENVIRONMENT_CREDENTIALS if offline and env.get(name, "").strip()]
    if offline:
        domain = f"http://{OFFLINE_HOST}:{env.get('ROPGUARD_AUTH0_PORT', '').strip() or 4000}"
        env = {name: value for name, value in env.items() if name not in ENVIRONMENT_CREDENTIALS}
    try:
        base_url = read_auth0_base_url({"AUTH0_DOMAIN": domain or ""}, "AUTH0_DOMAIN")
    except RopguardError as exc:
        raise DoctorError(str(exc)) from None

    secrets = _secrets_manager(env, offline)
    management = _management_credentials(options, env, secrets, offline)
    reading = options.read_login_secret or offline  # offline: the stack's demo client, in its moto
    login = _login_credentials(options, env, secrets, offline) if reading else None
    if login is None and options.need_login_secret:
        raise DoctorError(
            "this command needs the login client's secret: give --login-secret-id (or AUTH0_SECRET_ID), "
            "or AUTH0_CLIENT_ID and AUTH0_CLIENT_SECRET"
        )

    # tenant.yaml's ${VAR} sees only what it documents, none a secret
    variables = {name: env[name] for name in TENANT_FILE_VARIABLES if name in env}
    if not variables.get("AUTH0_CLIENT_ID", "").strip():  # the template's empty parameter is unset
        variables.pop("AUTH0_CLIENT_ID", None)
        if login is not None:
            variables["AUTH0_CLIENT_ID"] = login.client_id
    realm = options.realm if options.realm is not None else (env.get("AUTH0_REALM", "").strip() or None)
    return Target(
        base_url=base_url,
        offline=offline,
        management=management,
        login=login,
        tenant_file=_tenant_file(options, env),
        variables=variables,
        context=CheckContext(
            routes=_routes(options, env),
            realm=realm,
            egress=_egress(options, env, offline),
            client_auth_method=_client_auth_method(env),
        ),
        realm=realm,
        notice=_offline_notice(base_url, withheld) if offline else None,
    )


def _offline_notice(base_url: str, withheld: Sequence[str]) -> str:
    """What offline mode uses instead; the names (never the values) of the credentials left out."""
    notice = (
        f"offline: no --domain or AUTH0_DOMAIN, so the doctor examines the offline stack's emulator at "
        f"{base_url} with the demo tenant's documented M2M client ({OFFLINE_MANAGEMENT_CLIENT_ID}, "
        "ropguard_offline/tenants/demo.yaml) and the login client in the offline stack's secret"
    )
    return notice + (f"; not sent there: {', '.join(withheld)} from the environment" if withheld else "")


def _client_auth_method(env: Mapping[str, str]) -> str:
    """How the deployment sends the login client's secret: the product's own setting and rule."""
    try:
        return read_choice(env, "AUTH0_CLIENT_AUTH_METHOD", CLIENT_AUTH_METHODS)
    except RopguardError as exc:
        raise DoctorError(str(exc)) from None


def _secrets_manager(env: Mapping[str, str], offline: bool) -> SecretsManager:
    endpoint = env.get("AWS_ENDPOINT_URL", "").strip() or None
    if offline and endpoint is None:
        endpoint = f"http://{OFFLINE_HOST}:{env.get('ROPGUARD_AWS_PORT', '').strip() or 5000}"
    region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or ("us-east-1" if offline else None)
    return SecretsManager(region=region, endpoint_url=endpoint, fake_credentials=offline)


def _management_credentials(
    options: Options, env: Mapping[str, str], secrets: SecretsManager, offline: bool
) -> Credentials:
    secret_id = options.management_secret_id or env.get("ROPGUARD_MANAGEMENT_SECRET_ID", "").strip()
    if secret_id:
        return secrets.credentials(secret_id)
    given = credentials_from_env(env, "AUTH0_MANAGEMENT_CLIENT_ID", "AUTH0_MANAGEMENT_CLIENT_SECRET")
    if given is not None:
        return given
    if offline:
        return Credentials(OFFLINE_MANAGEMENT_CLIENT_ID, OFFLINE_MANAGEMENT_CLIENT_SECRET)
    raise DoctorError(
        "no Management API credentials: give --management-secret-id (or ROPGUARD_MANAGEMENT_SECRET_ID), "
        "or AUTH0_MANAGEMENT_CLIENT_ID and AUTH0_MANAGEMENT_CLIENT_SECRET"
    )


def _login_credentials(
    options: Options, env: Mapping[str, str], secrets: SecretsManager, offline: bool
) -> Credentials | None:
    secret_id = options.login_secret_id or env.get("AUTH0_SECRET_ID", "").strip()
    if secret_id:
        return secrets.credentials(secret_id)
    given = (
        credentials_from_env(env, "AUTH0_CLIENT_ID", "AUTH0_CLIENT_SECRET")
        if env.get("AUTH0_CLIENT_SECRET")
        else None
    )
    if given is not None:
        return given
    if offline:
        return secrets.stack_login_credentials()
    return None


def _tenant_file(options: Options, env: Mapping[str, str]) -> Path:
    if options.tenant_file is not None:
        return options.tenant_file
    if env.get("ROPGUARD_TENANT_FILE", "").strip():
        return Path(env["ROPGUARD_TENANT_FILE"].strip())
    local = DEFAULT_TENANT_FILE
    return local if local.is_file() else PACKAGE_ROOT / DEFAULT_TENANT_FILE


def _routes(options: Options, env: Mapping[str, str]) -> tuple[str, ...]:
    if options.routes:
        return parse_routes(",".join(options.routes))
    if env.get("ROPGUARD_ROUTES", "").strip():
        return parse_routes(env["ROPGUARD_ROUTES"])
    template = options.template or (
        DEFAULT_TEMPLATE if DEFAULT_TEMPLATE.is_file() else PACKAGE_ROOT / DEFAULT_TEMPLATE
    )
    return routes_from_template(template)


def _egress(options: Options, env: Mapping[str, str], offline: bool) -> tuple[IpAddress, ...]:
    raw = list(options.egress) or env.get("ROPGUARD_EGRESS_ADDRESSES", "").replace(",", " ").split()
    if not raw and offline:
        raw = [OFFLINE_HOST]  # the offline stack's functions reach the emulator from 127.0.0.1
    addresses = []
    for text in raw:
        try:
            addresses.append(ipaddress.ip_address(text.strip()))
        except ValueError:
            raise DoctorError(f"egress address {text!r} is not an IP address") from None
    return tuple(addresses)
