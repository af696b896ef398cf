"""The tenant file: YAML in, validated immutable configuration out.

A tenant file is the emulator's whole starting state; ``POST /__emulator/reset`` returns to it.
The format is documented in docs/emulator.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import yaml

from auth0_emulator.clients import ClientConfig, ClientGrant, parse_client, parse_client_grant
from auth0_emulator.hashing import is_bcrypt_hash
from auth0_emulator.settings import (
    BotDetectionSettings,
    BreachedPasswordSettings,
    BruteForceSettings,
    SuspiciousIpSettings,
)
from auth0_emulator.validation import (
    ValidationError,
    as_mapping,
    read_bool,
    read_choice,
    read_int,
    read_optional_str,
    read_str,
    read_str_list,
    reject_unknown,
)

MFA_ERROR_FORMATS = {"legacy", "current"}
# forbidden: every failed MFA step answers 403 (what the SDKs' matchers were written against);
# reference: Auth0's reference tables, 401 for a bad mfa_token, oob_code or recovery code, 400 for a bad OTP.
MFA_ERROR_STATUSES = {"forbidden", "reference"}
# ok: 200 for an unknown email (the OpenAPI document); not_found: 404 "User not found" (the reference page).
UNKNOWN_USER_ANSWERS = {"ok", "not_found"}


@dataclass(frozen=True)
class ApiConfig:
    identifier: str
    scopes: tuple[str, ...]
    token_lifetime: int
    allow_offline_access: bool


@dataclass(frozen=True)
class UserConfig:
    user_id: str
    email: str
    password_hash: str
    email_verified: bool
    blocked: bool
    totp_secret: str | None
    recovery_codes: tuple[str, ...] = ()
    sms_phone_number: str | None = None
    push_device_name: str | None = None
    username: str | None = None

    @property
    def has_mfa(self) -> bool:
        return bool(self.totp_secret or self.sms_phone_number or self.push_device_name)


@dataclass(frozen=True)
class ConnectionConfig:
    id: str
    name: str
    users: tuple[UserConfig, ...]
    #: Auth0's connection option: users have a username and may log in with it or their email.
    requires_username: bool = False


@dataclass(frozen=True)
class RateLimitConfig:
    """Tenant-wide Authentication API limit: a bucket of ``limit`` refilled over ``period_seconds``."""

    enabled: bool
    limit: int
    period_seconds: int


@dataclass(frozen=True)
class TenantConfig:
    name: str
    issuer: str | None
    default_directory: str | None
    default_audience: str | None
    management_api_token: str
    bcrypt_rounds: int
    id_token_lifetime: int
    rate_limit: RateLimitConfig
    revoke_refresh_token_grant: bool
    mfa_error_format: str
    mfa_error_status: str
    change_password_unknown_user: str
    client_grants: tuple[ClientGrant, ...]
    clients: tuple[ClientConfig, ...]
    apis: tuple[ApiConfig, ...]
    connections: tuple[ConnectionConfig, ...]
    brute_force: BruteForceSettings
    suspicious_ip: SuspiciousIpSettings
    breached_password: BreachedPasswordSettings
    bot_detection: BotDetectionSettings


def load_tenant_file(path: str | Path) -> TenantConfig:
    """Read and validate a tenant file; ``ValidationError`` says which field is wrong."""
    text = Path(path).read_text(encoding="utf-8")
    return parse_tenant(yaml.safe_load(text))


def parse_tenant(document: object) -> TenantConfig:
    root = as_mapping(document, "tenant file")
    reject_unknown(
        root,
        {"tenant", "clients", "client_grants", "apis", "connections", "attack_protection"},
        "tenant file",
    )
    tenant = as_mapping(root.get("tenant", {}), "tenant")
    reject_unknown(
        tenant,
        {
            "name",
            "issuer",
            "default_directory",
            "default_audience",
            "management_api_token",
            "password_hashing",
            "id_token_lifetime",
            "rate_limit",
            "flags",
            "mfa_error_format",
            "mfa_error_status",
            "change_password_unknown_user",
        },
        "tenant",
    )
    flags = as_mapping(tenant.get("flags", {}), "tenant.flags")
    reject_unknown(flags, {"revoke_refresh_token_grant"}, "tenant.flags")
    hashing = as_mapping(tenant.get("password_hashing", {}), "tenant.password_hashing")
    reject_unknown(hashing, {"algorithm", "rounds"}, "tenant.password_hashing")
    read_choice(hashing, "algorithm", "tenant.password_hashing", "bcrypt", {"bcrypt"})
    clients = tuple(parse_client(item, f"clients[{i}]") for i, item in enumerate(_list(root, "clients")))
    apis = tuple(_api(item, f"apis[{i}]") for i, item in enumerate(_list(root, "apis")))
    connections = tuple(
        _connection(item, f"connections[{i}]") for i, item in enumerate(_list(root, "connections"))
    )
    grants = tuple(
        parse_client_grant(item, f"client_grants[{i}]") for i, item in enumerate(_list(root, "client_grants"))
    )
    _unique([c.client_id for c in clients], "clients: duplicate client_id")
    known_clients = {c.client_id for c in clients}
    for i, client_grant in enumerate(grants):
        if client_grant.client_id not in known_clients:
            raise ValidationError(f"client_grants[{i}].client_id: no client with that client_id")
    _unique([a.identifier for a in apis], "apis: duplicate identifier")
    _unique([c.name for c in connections], "connections: duplicate name")
    _unique([u.user_id for c in connections for u in c.users], "users: duplicate user_id")
    config = TenantConfig(
        name=read_str(tenant, "name", "tenant", "local"),
        issuer=read_optional_str(tenant, "issuer", "tenant"),
        default_directory=read_optional_str(tenant, "default_directory", "tenant"),
        default_audience=read_optional_str(tenant, "default_audience", "tenant"),
        management_api_token=read_str(tenant, "management_api_token", "tenant"),
        bcrypt_rounds=read_int(hashing, "rounds", "tenant.password_hashing", 10, (4, 31)),
        id_token_lifetime=read_int(tenant, "id_token_lifetime", "tenant", 36_000, (1, None)),
        rate_limit=_rate_limit(tenant.get("rate_limit", {})),
        revoke_refresh_token_grant=read_bool(flags, "revoke_refresh_token_grant", "tenant.flags", False),
        mfa_error_format=read_choice(tenant, "mfa_error_format", "tenant", "legacy", MFA_ERROR_FORMATS),
        mfa_error_status=read_choice(tenant, "mfa_error_status", "tenant", "forbidden", MFA_ERROR_STATUSES),
        change_password_unknown_user=read_choice(
            tenant, "change_password_unknown_user", "tenant", "ok", UNKNOWN_USER_ANSWERS
        ),
        client_grants=grants,
        clients=clients,
        apis=apis,
        connections=connections,
        **_attack_protection(root.get("attack_protection", {})),
    )
    if config.default_directory and config.default_directory not in {c.name for c in connections}:
        raise ValidationError("tenant.default_directory: no connection with that name")
    if config.default_audience and config.default_audience not in {a.identifier for a in apis}:
        raise ValidationError("tenant.default_audience: no API with that identifier")
    return config


def _list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if not isinstance(value, list):
        raise ValidationError(f"{key}: expected a list")
    return value


def _unique(values: list[str], message: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value.lower() in seen:
            raise ValidationError(f"{message} {value!r}")
        seen.add(value.lower())


def _api(item: object, path: str) -> ApiConfig:
    data = as_mapping(item, path)
    reject_unknown(data, {"identifier", "scopes", "token_lifetime", "allow_offline_access"}, path)
    return ApiConfig(
        identifier=read_str(data, "identifier", path),
        scopes=read_str_list(data, "scopes", path, ()),
        token_lifetime=read_int(data, "token_lifetime", path, 86_400, (1, None)),
        allow_offline_access=read_bool(data, "allow_offline_access", path, False),
    )


def _connection(item: object, path: str) -> ConnectionConfig:
    data = as_mapping(item, path)
    reject_unknown(data, {"id", "name", "requires_username", "users"}, path)
    name = read_str(data, "name", path)
    requires_username = read_bool(data, "requires_username", path, False)
    users = tuple(_user(u, f"{path}.users[{i}]") for i, u in enumerate(_list(data, "users")))
    _unique([u.email for u in users], f"{path}.users: duplicate email")
    usernames = [u.username for u in users if u.username is not None]
    if usernames and not requires_username:
        raise ValidationError(f"{path}.users: a username needs requires_username: true on the connection")
    _unique(usernames + [u.email for u in users], f"{path}.users: a username repeats a username or email")
    return ConnectionConfig(
        id=read_str(data, "id", path, f"con_{name}"),
        name=name,
        users=users,
        requires_username=requires_username,
    )


def _user(item: object, path: str) -> UserConfig:
    data = as_mapping(item, path)
    reject_unknown(
        data, {"user_id", "email", "username", "password_hash", "email_verified", "blocked", "mfa"}, path
    )
    password_hash = read_str(data, "password_hash", path)
    if not is_bcrypt_hash(password_hash):
        raise ValidationError(f"{path}.password_hash: expected a bcrypt hash ($2b$...)")
    mfa = as_mapping(data.get("mfa") or {}, f"{path}.mfa")
    reject_unknown(mfa, {"totp_secret", "recovery_codes", "sms", "push"}, f"{path}.mfa")
    totp_secret = read_optional_str(mfa, "totp_secret", f"{path}.mfa")
    if totp_secret is not None:
        try:
            pyotp.TOTP(totp_secret).now()
        except Exception as exc:  # pyotp raises binascii/ValueError variants for bad base32
            raise ValidationError(f"{path}.mfa.totp_secret: not valid base32") from exc
    sms_phone = None
    if mfa.get("sms") is not None:
        sms = as_mapping(mfa["sms"], f"{path}.mfa.sms")
        reject_unknown(sms, {"phone_number"}, f"{path}.mfa.sms")
        sms_phone = read_str(sms, "phone_number", f"{path}.mfa.sms")
    push_name = None
    if mfa.get("push") is not None:
        push = as_mapping(mfa["push"], f"{path}.mfa.push")
        reject_unknown(push, {"name"}, f"{path}.mfa.push")
        push_name = read_str(push, "name", f"{path}.mfa.push", "Guardian")
    recovery_codes = read_str_list(mfa, "recovery_codes", f"{path}.mfa", ())
    if recovery_codes and not (totp_secret or sms_phone or push_name):
        raise ValidationError(f"{path}.mfa.recovery_codes: need an otp, sms or push factor too")
    email = read_str(data, "email", path)
    return UserConfig(
        user_id=read_str(data, "user_id", path, f"auth0|{email}"),
        email=email,
        password_hash=password_hash,
        email_verified=read_bool(data, "email_verified", path, True),
        blocked=read_bool(data, "blocked", path, False),
        totp_secret=totp_secret,
        recovery_codes=recovery_codes,
        sms_phone_number=sms_phone,
        push_device_name=push_name,
        username=read_optional_str(data, "username", path),
    )


def _rate_limit(item: object) -> RateLimitConfig:
    data = as_mapping(item, "tenant.rate_limit")
    reject_unknown(data, {"enabled", "limit", "period_seconds"}, "tenant.rate_limit")
    return RateLimitConfig(
        enabled=read_bool(data, "enabled", "tenant.rate_limit", True),
        limit=read_int(data, "limit", "tenant.rate_limit", 300, (1, None)),
        period_seconds=read_int(data, "period_seconds", "tenant.rate_limit", 60, (1, None)),
    )


def _attack_protection(item: object) -> dict[str, Any]:
    data = as_mapping(item, "attack_protection")
    keys = {
        "brute_force_protection",
        "suspicious_ip_throttling",
        "breached_password_detection",
        "bot_detection",
    }
    reject_unknown(data, keys, "attack_protection")
    path = "attack_protection"
    return {
        "brute_force": BruteForceSettings().patched(
            data.get("brute_force_protection", {}), f"{path}.brute_force_protection"
        ),
        "suspicious_ip": SuspiciousIpSettings().patched(
            data.get("suspicious_ip_throttling", {}), f"{path}.suspicious_ip_throttling"
        ),
        "breached_password": BreachedPasswordSettings().patched(
            data.get("breached_password_detection", {}), f"{path}.breached_password_detection"
        ),
        "bot_detection": BotDetectionSettings.parse(data.get("bot_detection", {}), f"{path}.bot_detection"),
    }
