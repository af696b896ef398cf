"""Configuration from environment variables, validated once when a function starts.

Each function gets one frozen settings object built from small ``read_*`` helpers, so a bad value
fails the first invocation with one error naming the variable instead of surfacing mid-request.
``Auth0Settings`` is what every function that talks to Auth0 shares (login, password reset).
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from ropguard.errors import ConfigurationError

Environ = Mapping[str, str]


#: The name the functions and tests know; one class of ``ropguard.errors``.
SettingsError = ConfigurationError


def read_str(env: Environ, name: str, default: str | None = None) -> str:
    """A required string (stripped); ``default`` makes it optional."""
    value = env.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise SettingsError(name, "is required")
    return default


def read_optional_str(env: Environ, name: str) -> str | None:
    """A string where empty or unset both mean "not configured"."""
    return env.get(name, "").strip() or None


def read_number(env: Environ, name: str, default: float, *, minimum: float, maximum: float) -> float:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"must be a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(name, f"must be between {minimum:g} and {maximum:g}, got {raw}")
    return value


def read_int(env: Environ, name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise SettingsError(name, f"must be between {minimum} and {maximum}, got {value}")
    return value


def read_words(env: Environ, name: str, default: str) -> tuple[str, ...]:
    """Space-separated words, duplicates dropped, order kept."""
    return tuple(dict.fromkeys((env.get(name, "").strip() or default).split()))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_auth0_base_url(env: Environ, name: str, insecure_hosts: frozenset[str] = frozenset()) -> str:
    """The Auth0 base URL: a tenant domain means https; plain http only for loopback or opted-in hosts.

    Plain http would expose the client secret and users' passwords on the wire, so it is refused
    unless the host cannot leave this machine or the operator named it in AUTH0_INSECURE_HTTP_HOSTS
    (for `sam local invoke` reaching an emulator on the Docker host).
    """
    raw = read_str(env, name)
    if "://" not in raw:
        raw = f"https://{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise SettingsError(name, f"is not a valid domain or URL: {raw!r}") from None
    host = parts.hostname or ""
    if parts.scheme not in ("https", "http") or not host:
        raise SettingsError(name, f"must be a tenant domain or an http(s) base URL, got {raw!r}")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password:
        raise SettingsError(name, "must be a bare domain or base URL, without path, query or credentials")
    if parts.scheme == "http" and not (_is_loopback(host) or host in insecure_hosts):
        raise SettingsError(name, "plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost)")
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}{f':{port}' if port else ''}"


CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 - an authentication method's name
CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - an authentication method's name
#: The token endpoint's client authentication methods ropguard speaks; the first is the default.
CLIENT_AUTH_METHODS = (CLIENT_SECRET_POST, CLIENT_SECRET_BASIC)


def read_choice(env: Environ, name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``; the first is the default."""
    value = read_str(env, name, choices[0])
    if value not in choices:
        raise SettingsError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


@dataclass(frozen=True, slots=True)
class Auth0Settings:
    """How to reach the Auth0 tenant and where its client credentials live (shared by every function)."""

    base_url: str
    secret_id: str
    connect_timeout_seconds: float
    read_timeout_seconds: float
    secret_max_age_seconds: int
    #: The tenant application's ``token_endpoint_auth_method``: the secret in the body or in Basic.
    client_auth_method: str = CLIENT_SECRET_POST

    @classmethod
    def from_env(cls, env: Environ) -> Auth0Settings:
        insecure_hosts = frozenset(read_words(env, "AUTH0_INSECURE_HTTP_HOSTS", ""))
        return cls(
            base_url=read_auth0_base_url(env, "AUTH0_DOMAIN", insecure_hosts),
            secret_id=read_str(env, "AUTH0_SECRET_ID"),
            connect_timeout_seconds=read_number(
                env, "AUTH0_CONNECT_TIMEOUT_SECONDS", 2.0, minimum=0.1, maximum=30
            ),
            read_timeout_seconds=read_number(env, "AUTH0_READ_TIMEOUT_SECONDS", 8.0, minimum=0.1, maximum=60),
            secret_max_age_seconds=read_int(env, "SECRET_MAX_AGE_SECONDS", 300, minimum=0, maximum=86_400),
            client_auth_method=read_choice(env, "AUTH0_CLIENT_AUTH_METHOD", CLIENT_AUTH_METHODS),
        )


DEFAULT_SCOPES = "openid profile email"


@dataclass(frozen=True, slots=True)
class LoginSettings:
    """Settings of the login function.

    ``scopes`` are the scopes a client may ask for and, joined, the scope sent when it asks none.
    """

    auth0: Auth0Settings
    audience: str | None
    realm: str | None
    scopes: tuple[str, ...]
    max_body_bytes: int

    @classmethod
    def from_env(cls, env: Environ | None = None) -> LoginSettings:
        env = os.environ if env is None else env
        return cls(
            auth0=Auth0Settings.from_env(env),
            audience=read_optional_str(env, "AUTH0_AUDIENCE"),
            realm=read_optional_str(env, "AUTH0_REALM"),
            scopes=read_words(env, "AUTH0_SCOPES", DEFAULT_SCOPES),
            max_body_bytes=read_int(env, "MAX_BODY_BYTES", 4096, minimum=256, maximum=1_048_576),
        )

    @property
    def default_scope(self) -> str:
        return " ".join(self.scopes)


@dataclass(frozen=True, slots=True)
class SessionSettings:
    """Settings of the session function (MFA, refresh, logout).

    ``scopes`` are those a refresh may narrow to (the same ``AUTH0_SCOPES`` as the login function).
    """

    auth0: Auth0Settings
    scopes: tuple[str, ...]
    max_body_bytes: int

    @classmethod
    def from_env(cls, env: Environ | None = None) -> SessionSettings:
        env = os.environ if env is None else env
        return cls(
            auth0=Auth0Settings.from_env(env),
            scopes=read_words(env, "AUTH0_SCOPES", DEFAULT_SCOPES),
            max_body_bytes=read_int(env, "MAX_BODY_BYTES", 4096, minimum=256, maximum=1_048_576),
        )


@dataclass(frozen=True, slots=True)
class SecurityEventSettings:
    """Where the login function stores ``password.breached`` events: the topic, else the reset queue."""

    topic_arn: str
    fallback_queue_url: str

    @classmethod
    def from_env(cls, env: Environ | None = None) -> SecurityEventSettings:
        env = os.environ if env is None else env
        return cls(
            topic_arn=read_str(env, "SECURITY_EVENTS_TOPIC_ARN"),
            fallback_queue_url=read_str(env, "PASSWORD_RESET_QUEUE_URL"),
        )


@dataclass(frozen=True, slots=True)
class ResetSettings:
    """Settings of the password-reset function.

    ``max_receive_count`` mirrors the queue's redrive policy so the last delivery of a transient
    failure is dead-lettered with its reason instead of silently by SQS.
    """

    auth0: Auth0Settings
    connection: str
    idempotency_table_name: str
    window_seconds: int
    dead_letter_queue_url: str
    max_receive_count: int
    #: The management application's secret, to find the email of a user who logs in with a username.
    management_secret_id: str | None = None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> ResetSettings:
        env = os.environ if env is None else env
        return cls(
            auth0=Auth0Settings.from_env(env),
            connection=read_str(env, "AUTH0_CONNECTION"),
            idempotency_table_name=read_str(env, "IDEMPOTENCY_TABLE_NAME"),
            window_seconds=read_int(env, "RESET_WINDOW_SECONDS", 3600, minimum=60, maximum=30 * 86_400),
            dead_letter_queue_url=read_str(env, "PASSWORD_RESET_DLQ_URL"),
            max_receive_count=read_int(env, "PASSWORD_RESET_MAX_RECEIVE_COUNT", 5, minimum=1, maximum=1000),
            management_secret_id=read_optional_str(env, "AUTH0_MANAGEMENT_SECRET_ID"),
        )
