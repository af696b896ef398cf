"""The tenant file's applications: grant types, client authentication methods, refresh-token
policy and client grants, parsed from YAML or a Management API body into immutable values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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

GRANT_PASSWORD = "password"
GRANT_PASSWORD_REALM = "http://auth0.com/oauth/grant-type/password-realm"
GRANT_MFA_OTP = "http://auth0.com/oauth/grant-type/mfa-otp"
GRANT_MFA_OOB = "http://auth0.com/oauth/grant-type/mfa-oob"
GRANT_MFA_RECOVERY_CODE = "http://auth0.com/oauth/grant-type/mfa-recovery-code"
GRANT_REFRESH_TOKEN = "refresh_token"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
MFA_GRANTS = {GRANT_MFA_OTP, GRANT_MFA_OOB, GRANT_MFA_RECOVERY_CODE}
SUPPORTED_GRANTS = {
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_REFRESH_TOKEN,
    GRANT_CLIENT_CREDENTIALS,
    *MFA_GRANTS,
}
# Grants a client may list although the emulator does not serve them (answered unsupported_grant_type).
KNOWN_GRANTS = SUPPORTED_GRANTS | {"authorization_code", "implicit"}
AUTH_METHODS = {"none", "client_secret_post", "client_secret_basic"}
APP_TYPES = {"regular_web", "non_interactive", "spa", "native"}
# In a client grant's audience, this placeholder stands for the issuer (the emulator's base URL + "/"),
# so the Management API audience "{issuer}api/v2/" works on whatever port the emulator listens.
ISSUER_PLACEHOLDER = "{issuer}"


@dataclass(frozen=True)
class RefreshTokenPolicy:
    """A client's ``refresh_token`` settings, in the Management API's field names (seconds)."""

    rotation_type: str = "non-rotating"
    expiration_type: str = "non-expiring"
    token_lifetime: int = 2_592_000
    idle_token_lifetime: int = 1_296_000
    leeway: int = 0

    @property
    def rotating(self) -> bool:
        return self.rotation_type == "rotating"

    @property
    def expiring(self) -> bool:
        return self.expiration_type == "expiring"

    def patched(self, body: object, path: str) -> RefreshTokenPolicy:
        data = as_mapping(body, path)
        allowed = {
            "rotation_type",
            "expiration_type",
            "token_lifetime",
            "idle_token_lifetime",
            "leeway",
            "infinite_token_lifetime",
            "infinite_idle_token_lifetime",
        }
        reject_unknown(data, allowed, path)
        return RefreshTokenPolicy(
            rotation_type=read_choice(
                data, "rotation_type", path, self.rotation_type, {"rotating", "non-rotating"}
            ),
            expiration_type=read_choice(
                data, "expiration_type", path, self.expiration_type, {"expiring", "non-expiring"}
            ),
            token_lifetime=read_int(data, "token_lifetime", path, self.token_lifetime, (1, 157_680_000)),
            idle_token_lifetime=read_int(
                data, "idle_token_lifetime", path, self.idle_token_lifetime, (1, 157_680_000)
            ),
            leeway=read_int(data, "leeway", path, self.leeway, (0, 60)),
        )

    def to_api(self) -> dict[str, Any]:
        return {
            "rotation_type": self.rotation_type,
            "expiration_type": self.expiration_type,
            "token_lifetime": self.token_lifetime,
            "idle_token_lifetime": self.idle_token_lifetime,
            "infinite_token_lifetime": not self.expiring,
            "infinite_idle_token_lifetime": not self.expiring,
            "leeway": self.leeway,
        }


@dataclass(frozen=True)
class ClientConfig:
    client_id: str
    name: str
    client_secret: str | None
    token_endpoint_auth_method: str
    is_token_endpoint_ip_header_trusted: bool
    grant_types: tuple[str, ...]
    refresh_token: RefreshTokenPolicy = RefreshTokenPolicy()
    app_type: str | None = None

    @property
    def is_confidential(self) -> bool:
        return self.token_endpoint_auth_method != "none"

    @property
    def effective_app_type(self) -> str:
        if self.app_type is not None:
            return self.app_type
        return "regular_web" if self.is_confidential else "native"


@dataclass(frozen=True)
class ClientGrant:
    """Which scopes of which API a client may get through ``client_credentials`` (Auth0's client grant)."""

    client_id: str
    audience: str
    scope: tuple[str, ...]


def parse_client(item: object, path: str) -> ClientConfig:
    data = as_mapping(item, path)
    reject_unknown(
        data,
        {
            "client_id",
            "name",
            "client_secret",
            "token_endpoint_auth_method",
            "is_token_endpoint_ip_header_trusted",
            "grant_types",
            "refresh_token",
            "app_type",
        },
        path,
    )
    method = read_choice(data, "token_endpoint_auth_method", path, "client_secret_post", AUTH_METHODS)
    secret = read_optional_str(data, "client_secret", path)
    if method != "none" and secret is None:
        raise ValidationError(f"{path}.client_secret: required unless token_endpoint_auth_method is none")
    trusted = read_bool(data, "is_token_endpoint_ip_header_trusted", path, False)
    if trusted and method == "none":
        raise ValidationError(f"{path}.is_token_endpoint_ip_header_trusted: {TRUSTED_NEEDS_SECRET}")
    client_id = read_str(data, "client_id", path)
    app_type = None
    if data.get("app_type") is not None:
        app_type = read_choice(data, "app_type", path, "regular_web", APP_TYPES)
    return ClientConfig(
        client_id=client_id,
        name=read_str(data, "name", path, client_id),
        client_secret=secret,
        token_endpoint_auth_method=method,
        is_token_endpoint_ip_header_trusted=trusted,
        grant_types=read_str_list(data, "grant_types", path, (), KNOWN_GRANTS),
        refresh_token=RefreshTokenPolicy().patched(data.get("refresh_token", {}), f"{path}.refresh_token"),
        app_type=app_type,
    )


TRUSTED_NEEDS_SECRET = "can only be true when token_endpoint_auth_method is not none"


def parse_client_grant(item: object, path: str) -> ClientGrant:
    data = as_mapping(item, path)
    reject_unknown(data, {"client_id", "audience", "scope"}, path)
    return ClientGrant(
        client_id=read_str(data, "client_id", path),
        audience=read_str(data, "audience", path),
        scope=read_str_list(data, "scope", path, ()),
    )
