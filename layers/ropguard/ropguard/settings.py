"""Configuration from environment variables: the one module that reads the environment.

Each function gets one frozen settings object built from small ``read_*`` helpers, so a bad value
fails the first invocation with one error naming the variable instead of surfacing mid-request.
Every variable is parsed in exactly one place: ``Auth0Settings`` (with ``SecretStoreSettings``) is
what every function that talks to Auth0 shares; ``ApiSettings`` what both API functions read
(scopes, body limit, where the client address comes from); ``tracing_enabled`` and
``SecretStoreSettings`` read what the Lambda runtime sets. Other modules take these objects and
never look at ``os.environ`` themselves.

The settings are ``NamedTuple``s: immutable, and about ten times cheaper to define than a frozen
dataclass, which every login's cold start pays at import (docs/architecture.md, "Cold start"). Only
``SecretStoreSettings`` is a dataclass, to keep the session token out of its repr.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, NamedTuple
from urllib.parse import urlsplit

from ropguard.errors import ConfigurationError

Environ = Mapping[str, str]


def environment() -> Environ:
    """The function's environment: read here, and only here."""
    return os.environ


def read_str(env: Environ, name: str, default: str | None = None) -> str:
    """A required string (stripped); ``default`` makes it optional."""
    value = env.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise ConfigurationError(name, "is required")
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
        raise ConfigurationError(name, f"must be a number, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigurationError(name, f"must be between {minimum:g} and {maximum:g}, got {raw}")
    return value


def read_int(env: Environ, name: str, default: int, *, minimum: int, maximum: int) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigurationError(name, f"must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigurationError(name, f"must be between {minimum} and {maximum}, got {value}")
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


_DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")


def host_name(host: str) -> str | None:
    """The ASCII form of a DNS host name (IDNA: ``bücher.example`` is ``xn--bcher-kva.example``) or
    of an IP address; None for anything else (spaces, ``;``, an empty label, a zone id)."""
    if "%" in host:
        return None
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_host.split(".")
    if len(ascii_host) > 253 or not all(_DNS_LABEL.fullmatch(label) for label in labels):
        return None
    return ascii_host


def read_auth0_base_url(env: Environ, name: str, insecure_hosts: frozenset[str] = frozenset()) -> str:
    """The Auth0 base URL: a host name (IDNA) or IP address and an optional port, nothing else.

    A bare domain means https; an ``https://`` prefix and a trailing ``/`` are accepted. Plain
    ``http://`` would expose the client secret and users' passwords on the wire, so it is refused
    unless the host cannot leave this machine (``127.0.0.1``, ``::1``, ``localhost``: the offline
    stack and the tests pass ``http://127.0.0.1:<port>``) or the operator named it in
    AUTH0_INSECURE_HTTP_HOSTS (for ``sam local invoke`` reaching an emulator on the Docker host).
    Whitespace or a control character anywhere is refused, never silently dropped:
    ``tenant.auth0.com\nevil.example`` must not become another host.
    """
    raw = read_str(env, name)
    if any(char.isspace() or not char.isprintable() for char in raw):
        raise ConfigurationError(name, "must be a host name without spaces or control characters")
    if "://" not in raw:
        raw = f"https://{raw}"
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ConfigurationError(name, f"is not a valid domain or URL: {raw!r}") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigurationError(name, f"must be a tenant domain or an http(s) base URL, got {raw!r}")
    if parts.path.strip("/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ConfigurationError(
            name, "must be a bare domain or base URL, without path, query or credentials"
        )
    host = host_name(parts.hostname)
    if host is None or port == 0:
        raise ConfigurationError(
            name, f"must be a host name (IDNA) or IP address and optional port, got {raw!r}"
        )
    if parts.scheme == "http" and not (_is_loopback(host) or host in insecure_hosts):
        raise ConfigurationError(
            name, "plain http is allowed only for loopback hosts (127.0.0.1, ::1, localhost)"
        )
    netloc = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{netloc}{f':{port}' if port else ''}"


#: Set by template.yaml when AWS's extension layer is attached (and by the offline stack's stand-in).
EXTENSION_PORT_VARIABLE: Final = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
SESSION_TOKEN_VARIABLE: Final = "AWS_SESSION_TOKEN"  # noqa: S105 - a variable name


@dataclass(frozen=True, slots=True)
class SecretStoreSettings:
    """How secrets are read: the Parameters and Secrets extension on ``extension_port`` (it wants the
    execution environment's session token), or Secrets Manager through boto3 when that is None."""

    extension_port: int | None = None
    session_token: str = field(default="", repr=False)

    @classmethod
    def from_env(cls, env: Environ | None = None) -> SecretStoreSettings:
        env = environment() if env is None else env
        raw = env.get(EXTENSION_PORT_VARIABLE, "").strip()
        port = read_int(env, EXTENSION_PORT_VARIABLE, 0, minimum=1, maximum=65_535) if raw else None
        return cls(port, env.get(SESSION_TOKEN_VARIABLE, ""))


CLIENT_SECRET_POST = "client_secret_post"  # noqa: S105 - an authentication method's name
CLIENT_SECRET_BASIC = "client_secret_basic"  # noqa: S105 - an authentication method's name
#: The token endpoint's client authentication methods ropguard speaks; the first is the default.
CLIENT_AUTH_METHODS = (CLIENT_SECRET_POST, CLIENT_SECRET_BASIC)


def read_choice(env: Environ, name: str, choices: tuple[str, ...]) -> str:
    """One of ``choices``; the first is the default."""
    value = read_str(env, name, choices[0])
    if value not in choices:
        raise ConfigurationError(name, f"must be one of {', '.join(choices)}, got {value!r}")
    return value


class Auth0Settings(NamedTuple):
    """How to reach the Auth0 tenant and where its client credentials live (shared by every function)."""

    base_url: str
    secret_id: str
    connect_timeout_seconds: float
    read_timeout_seconds: float
    secret_max_age_seconds: int
    secrets: SecretStoreSettings = SecretStoreSettings()
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
            secrets=SecretStoreSettings.from_env(env),
            client_auth_method=read_choice(env, "AUTH0_CLIENT_AUTH_METHOD", CLIENT_AUTH_METHODS),
        )


DEFAULT_SCOPES = "openid profile email"

AddressSource = Literal["request-context", "cloudfront"]
REQUEST_CONTEXT: AddressSource = "request-context"
CLOUDFRONT: AddressSource = "cloudfront"


class ClientAddressSettings(NamedTuple):
    """Where the end-user address comes from (``ropguard.client_address``); in CloudFront mode, which
    secret proves the origin (kept as long as ``Auth0Settings.secret_max_age_seconds``)."""

    source: AddressSource = REQUEST_CONTEXT
    origin_verify_secret_id: str | None = None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> ClientAddressSettings:
        env = environment() if env is None else env
        raw = read_str(env, "CLIENT_ADDRESS_SOURCE", REQUEST_CONTEXT)
        if raw == REQUEST_CONTEXT:
            return cls(REQUEST_CONTEXT)
        if raw != CLOUDFRONT:
            raise ConfigurationError(
                "CLIENT_ADDRESS_SOURCE", f"must be {REQUEST_CONTEXT!r} or {CLOUDFRONT!r}, got {raw!r}"
            )
        secret_id = read_optional_str(env, "ORIGIN_VERIFY_SECRET_ID")
        if secret_id is None:
            raise ConfigurationError(
                "ORIGIN_VERIFY_SECRET_ID", f"is required when CLIENT_ADDRESS_SOURCE is {CLOUDFRONT}"
            )
        return cls(CLOUDFRONT, secret_id)


TokenDelivery = Literal["body", "cookie"]
TOKEN_DELIVERIES: tuple[TokenDelivery, ...] = ("body", "cookie")
#: The cookie's Max-Age unless REFRESH_TOKEN_LIFETIME_SECONDS says otherwise: 30 days.
DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS = 2_592_000


def read_origins(env: Environ, name: str) -> frozenset[str]:
    """Comma-separated exact origins (a trailing ``/`` dropped); a ``*`` anywhere is refused, since
    a browser sends credentials only to an exactly allowed origin."""
    origins = frozenset(part.strip().rstrip("/") for part in env.get(name, "").split(",") if part.strip())
    if any("*" in origin for origin in origins):
        raise ConfigurationError(name, "must list exact origins in cookie mode, never '*'")
    return origins


class CookieSettings(NamedTuple):
    """Cookie mode (``TOKEN_DELIVERY=cookie``): the refresh token in a sealed ``HttpOnly`` cookie.

    ``key_secret_id`` holds the seal's keys; ``lifetime_seconds`` is the cookie's ``Max-Age`` (the
    refresh token's absolute lifetime); ``allowed_origins`` are the only ``Origin`` values accepted.
    """

    key_secret_id: str
    lifetime_seconds: int
    allowed_origins: frozenset[str]

    @classmethod
    def from_env(cls, env: Environ) -> CookieSettings | None:
        """None in body mode (the default)."""
        if read_choice(env, "TOKEN_DELIVERY", TOKEN_DELIVERIES) == "body":
            return None
        origins = read_origins(env, "ALLOWED_ORIGINS")
        if not origins:
            raise ConfigurationError(
                "ALLOWED_ORIGINS", "is required in cookie mode (browsers send an Origin)"
            )
        return cls(
            key_secret_id=read_str(env, "COOKIE_KEY_SECRET_ID"),
            lifetime_seconds=read_int(
                env,
                "REFRESH_TOKEN_LIFETIME_SECONDS",
                DEFAULT_REFRESH_TOKEN_LIFETIME_SECONDS,
                minimum=60,
                maximum=31_536_000,
            ),
            allowed_origins=origins,
        )


class ApiSettings(NamedTuple):
    """What the API functions (login, session) read.

    ``scopes`` are the scopes a client may ask for (a refresh may narrow to them) and, joined, the
    scope a login sends when it asks none. ``cookie`` is None in body mode. ``audience`` and
    ``realm`` go into the login's password grant; the session routes do not use them.
    """

    auth0: Auth0Settings
    scopes: tuple[str, ...]
    max_body_bytes: int
    client_address: ClientAddressSettings
    cookie: CookieSettings | None
    #: How long a container answers Auth0's ``too_many_attempts`` itself (``ropguard.shedding``).
    shed_window_seconds: int
    audience: str | None = None
    realm: str | None = None

    @classmethod
    def from_env(cls, env: Environ | None = None) -> ApiSettings:
        env = environment() if env is None else env
        return cls(
            auth0=Auth0Settings.from_env(env),
            scopes=read_words(env, "AUTH0_SCOPES", DEFAULT_SCOPES),
            max_body_bytes=read_int(env, "MAX_BODY_BYTES", 4096, minimum=256, maximum=1_048_576),
            client_address=ClientAddressSettings.from_env(env),
            cookie=CookieSettings.from_env(env),
            shed_window_seconds=read_int(env, "SHED_WINDOW_SECONDS", 60, minimum=0, maximum=3600),
            audience=read_optional_str(env, "AUTH0_AUDIENCE"),
            realm=read_optional_str(env, "AUTH0_REALM"),
        )

    @property
    def default_scope(self) -> str:
        return " ".join(self.scopes)


class SecurityEventSettings(NamedTuple):
    """Where the login function stores ``password.breached`` events: the topic, else the reset queue."""

    topic_arn: str
    fallback_queue_url: str

    @classmethod
    def from_env(cls, env: Environ | None = None) -> SecurityEventSettings:
        env = environment() if env is None else env
        return cls(
            topic_arn=read_str(env, "SECURITY_EVENTS_TOPIC_ARN"),
            fallback_queue_url=read_str(env, "PASSWORD_RESET_QUEUE_URL"),
        )


class ResetSettings(NamedTuple):
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
        env = environment() if env is None else env
        return cls(
            auth0=Auth0Settings.from_env(env),
            connection=read_str(env, "AUTH0_CONNECTION"),
            idempotency_table_name=read_str(env, "IDEMPOTENCY_TABLE_NAME"),
            window_seconds=read_int(env, "RESET_WINDOW_SECONDS", 3600, minimum=60, maximum=30 * 86_400),
            dead_letter_queue_url=read_str(env, "PASSWORD_RESET_DLQ_URL"),
            max_receive_count=read_int(env, "PASSWORD_RESET_MAX_RECEIVE_COUNT", 5, minimum=1, maximum=1000),
            management_secret_id=read_optional_str(env, "AUTH0_MANAGEMENT_SECRET_ID"),
        )


TRACE_DISABLED_VARIABLE: Final = "POWERTOOLS_TRACE_DISABLED"
# The values Powertools reads as true (its strtobool).
_TRUE: Final = frozenset({"1", "y", "yes", "t", "true", "on"})


def tracing_enabled(env: Environ | None = None) -> bool:
    """Powertools' own rule: off when ``POWERTOOLS_TRACE_DISABLED`` is true, or outside Lambda
    (no ``LAMBDA_TASK_ROOT``), or under ``sam local`` (``AWS_SAM_LOCAL``): where Powertools would
    disable the Tracer anyway, there is no reason to import the X-Ray SDK."""
    env = environment() if env is None else env
    if env.get(TRACE_DISABLED_VARIABLE, "false").strip().lower() in _TRUE:
        return False
    return bool(env.get("LAMBDA_TASK_ROOT")) and not env.get("AWS_SAM_LOCAL")
