"""Cookie mode (``TokenDelivery=cookie``): the refresh token travels in one sealed ``HttpOnly`` cookie.

The IETF browser-apps draft's *token-mediating backend*: page script gets the short-lived access
token, never the refresh token. What this module decides, for the edge to apply in one place:

* **CSRF** (``csrf_refusal``): every request must carry ``X-CSRF: 1`` (a header a cross-site form
  cannot send, and which makes a cross-origin ``fetch`` preflight first) and, when the browser sends
  an ``Origin``, one listed in ``AllowedOrigins``. Checked before anything else: no Auth0 call.
* **The cookie** (``CookieDelivery``): a token answer loses its ``refresh_token``, which comes back
  as ``__Host-ropguard-refresh=<sealed>; Secure; HttpOnly; SameSite=Strict; Path=/; Max-Age=...``;
  the value is ``ropguard.cookie_seal``'s, never the token. A refresh reads the token back from the
  cookie and keeps its absolute expiry; a logout clears it with the same attributes and ``Max-Age=0``.

``cryptography`` (through ``cookie_seal``) is imported on the first seal or open, so body mode,
which never builds a ``CookieDelivery``, never imports it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from ropguard.api_event import ApiEvent
from ropguard.cookie_seal import CookieSealer, KeySource, Opened, SecretKeySource
from ropguard.errors import ConfigurationError

BODY: Final = "body"
COOKIE: Final = "cookie"
TOKEN_DELIVERIES: Final = (BODY, COOKIE)
#: ``__Host-``: the browser keeps it only if Secure, Path=/ and no Domain (RFC 6265bis cookie prefixes).
COOKIE_NAME: Final = "__Host-ropguard-refresh"
ATTRIBUTES: Final = "Secure; HttpOnly; SameSite=Strict; Path=/"
CSRF_HEADER: Final = "x-csrf"
CSRF_VALUE: Final = "1"
REFRESH_TOKEN_FIELD: Final = "refresh_token"  # noqa: S105 - a field name


def read_origins(env: Mapping[str, str], name: str) -> frozenset[str]:
    """Comma-separated origins; ``*`` or a wildcard is refused (credentials need exact origins)."""
    origins = frozenset(part.strip().rstrip("/") for part in env.get(name, "").split(",") if part.strip())
    if any("*" in origin for origin in origins):
        raise ConfigurationError(name, "must list exact origins in cookie mode, never '*'")
    return origins


def csrf_refusal(event: ApiEvent, allowed_origins: frozenset[str]) -> str | None:
    """Why the request cannot be a page of ours (safe to log), or None when it passes."""
    if (event.header(CSRF_HEADER) or "").strip() != CSRF_VALUE:
        return "the X-CSRF: 1 header is missing"
    origin = event.header("origin")
    if origin is not None and origin.strip().rstrip("/") not in allowed_origins:
        return "the Origin is not one of AllowedOrigins"
    return None


def set_cookie(value: str, max_age: int) -> str:
    return f"{COOKIE_NAME}={value}; {ATTRIBUTES}; Max-Age={max_age}"


#: The same name and attributes, no value, ``Max-Age=0``: the browser deletes its cookie.
CLEAR_COOKIE: Final = f"{COOKIE_NAME}=; {ATTRIBUTES}; Max-Age=0"


@dataclass(frozen=True, slots=True)
class Delivered:
    """A token answer's body as page script gets it, and the Set-Cookie headers that go with it."""

    body: Any
    cookies: tuple[str, ...] = ()


class CookieDelivery:
    """Seals refresh tokens into the cookie and opens them out of it, for one function."""

    def __init__(
        self,
        sealer: CookieSealer,
        *,
        lifetime_seconds: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sealer = sealer
        self.lifetime_seconds = lifetime_seconds
        self._clock = clock

    @classmethod
    def from_keys(cls, keys: KeySource, *, lifetime_seconds: int) -> CookieDelivery:
        return cls(CookieSealer(COOKIE_NAME, keys), lifetime_seconds=lifetime_seconds)

    @classmethod
    def from_secret(cls, secret_id: str, *, max_age_seconds: int, lifetime_seconds: int) -> CookieDelivery:
        """Keys from the stack's cookie key secret, read through the shared cached reader."""
        from ropguard.credentials import CachedSecret  # noqa: PLC0415 - cookie mode only

        secret = CachedSecret(secret_id, max_age_seconds=max_age_seconds)
        return cls.from_keys(SecretKeySource(secret), lifetime_seconds=lifetime_seconds)

    def opened(self, event: ApiEvent) -> Opened | None:
        """The refresh token the request's cookie holds; None without a cookie or one that does not open."""
        value = event.cookie(COOKIE_NAME)
        return self._sealer.open(value) if value else None

    def deliver(self, body: Any, came_from: Opened | None = None) -> Delivered:
        """Take ``refresh_token`` out of a token answer and into the cookie.

        A refreshed token keeps the expiry of the cookie it came from (``came_from``): the
        refresh token's absolute lifetime runs from the login, not from each rotation.
        """
        if not isinstance(body, dict) or not isinstance(body.get(REFRESH_TOKEN_FIELD), str):
            return Delivered(body)
        now = int(self._clock())
        expires_at = came_from.expires_at if came_from is not None else now + self.lifetime_seconds
        max_age = expires_at - now
        rest = {key: value for key, value in body.items() if key != REFRESH_TOKEN_FIELD}
        if max_age <= 0:
            return Delivered(rest, (CLEAR_COOKIE,))
        sealed = self._sealer.seal(body[REFRESH_TOKEN_FIELD], expires_at)
        return Delivered(rest, (set_cookie(sealed, max_age),))
