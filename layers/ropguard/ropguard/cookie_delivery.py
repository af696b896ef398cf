"""Cookie mode (``TokenDelivery=cookie``): the refresh token travels in one sealed ``HttpOnly`` cookie.

The IETF browser-apps draft's *token-mediating backend*: page script gets the short-lived access
token, never the refresh token. The edge applies this module in one place, around every route:

* **CSRF** (``CookieDelivery.csrf_refusal``), before anything else (no secret read, no Auth0
  call): every request carries ``X-CSRF: 1`` (a header a cross-site form cannot send, and which
  makes a cross-origin ``fetch`` preflight first) and, when the browser sends an ``Origin``, one of
  ``AllowedOrigins``.
* **The session cookie** (``CookieDelivery.serve``): the routes that take a refresh token
  (``SessionCookie.PRESENTED``: /token/refresh; ``ENDED``: /logout) take it from the cookie, never
  from the body; no usable cookie answers at once, without Auth0. Every answer that carries a
  ``refresh_token`` loses it to ``__Host-ropguard-refresh=<sealed>; Secure; HttpOnly;
  SameSite=Strict; Path=/; Max-Age=...`` (``ropguard.cookie_seal``: the value is never the token),
  and a logout clears the cookie with the same attributes and ``Max-Age=0``.

``cookie_seal`` is imported when a ``CookieDelivery`` is built, and ``cryptography`` (through it)
on the first seal or open, so body mode, which never builds one, imports neither.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ropguard.answers import Answer, error_body
from ropguard.api_event import ApiEvent
from ropguard.errors import InvalidRequestError
from ropguard.request_body import body_fields, is_given

if TYPE_CHECKING:
    from ropguard.cookie_seal import CookieSealer, KeySource, Opened
    from ropguard.settings import ApiSettings

#: ``__Host-``: the browser keeps it only if Secure, Path=/ and no Domain (RFC 6265bis cookie prefixes).
COOKIE_NAME: Final = "__Host-ropguard-refresh"
ATTRIBUTES: Final = "Secure; HttpOnly; SameSite=Strict; Path=/"
#: The same name and attributes, no value, ``Max-Age=0``: the browser deletes its cookie.
CLEAR_COOKIE: Final = f"{COOKIE_NAME}=; {ATTRIBUTES}; Max-Age=0"
CSRF_HEADER: Final = "x-csrf"
CSRF_VALUE: Final = "1"
REFRESH_TOKEN: Final = "refresh_token"  # noqa: S105 - a field name

#: Metric outcomes (the route's prefix goes in front): a refused request, and no usable cookie.
CSRF_REFUSED: Final = "CsrfRefused"
NO_SESSION_COOKIE: Final = "NoSessionCookie"


class SessionCookie(enum.Enum):
    """What a route does with the session cookie in cookie mode."""

    NONE = "none"  # may set it (a token answer), never reads it
    PRESENTED = "presented"  # the refresh token comes from it (/token/refresh)
    ENDED = "ended"  # the refresh token comes from it, and a 200 clears it (/logout)


def set_cookie(value: str, max_age: int) -> str:
    return f"{COOKIE_NAME}={value}; {ATTRIBUTES}; Max-Age={max_age}"


CSRF_REFUSAL: Final = error_body(
    "access_denied", "This API answers only its own pages: send X-CSRF: 1 from an allowed origin."
)
NO_COOKIE_REFUSAL: Final = error_body("invalid_grant", f"No usable refresh token cookie ({COOKIE_NAME}).")
IN_BODY = (
    f"in cookie mode the refresh token travels in the {COOKIE_NAME} cookie, never in field 'refresh_token'"
)


@dataclasses.dataclass(eq=False)
class CookieDelivery:
    """Seals refresh tokens into the cookie and opens them out of it, for one API function."""

    sealer: CookieSealer = dataclasses.field(repr=False)
    _: dataclasses.KW_ONLY
    lifetime_seconds: int
    allowed_origins: frozenset[str]
    max_body_bytes: int
    clock: Callable[[], float] = time.time

    @classmethod
    def with_keys(
        cls, keys: KeySource, api: ApiSettings, *, clock: Callable[[], float] = time.time
    ) -> CookieDelivery:
        if api.cookie is None:
            raise ValueError("the API is in body mode")
        from ropguard.cookie_seal import CookieSealer  # noqa: PLC0415 - cookie mode only

        return cls(
            CookieSealer(COOKIE_NAME, keys, clock=clock),
            lifetime_seconds=api.cookie.lifetime_seconds,
            allowed_origins=api.cookie.allowed_origins,
            max_body_bytes=api.max_body_bytes,
            clock=clock,
        )

    @classmethod
    def for_api(cls, api: ApiSettings) -> CookieDelivery | None:
        """Cookie mode's delivery (keys read on the first seal or open), None in body mode."""
        if api.cookie is None:
            return None
        from ropguard.cookie_seal import SecretKeySource  # noqa: PLC0415 - cookie mode only
        from ropguard.credentials import CachedSecret, secret_reader  # noqa: PLC0415 - cookie mode only

        secret = CachedSecret(
            api.cookie.key_secret_id,
            max_age_seconds=api.auth0.secret_max_age_seconds,
            reader=secret_reader(api.auth0.secrets),
        )
        return cls.with_keys(SecretKeySource(secret), api)

    def csrf_refusal(self, event: ApiEvent) -> Answer | None:
        """The 403 for a request that cannot be a page of ours, or None when it passes."""
        if (event.header(CSRF_HEADER) or "").strip() != CSRF_VALUE:
            reason = "the X-CSRF: 1 header is missing"
        else:
            origin = event.header("origin")
            if origin is None or origin.strip().rstrip("/") in self.allowed_origins:
                return None
            reason = "the Origin is not one of AllowedOrigins"
        return Answer(CSRF_REFUSED, 403, dict(CSRF_REFUSAL), log_fields={"reason": reason})

    def opened(self, event: ApiEvent) -> Opened | None:
        """The refresh token the request's cookie holds; None without a cookie or one that does not open."""
        value = event.cookie(COOKIE_NAME)
        return self.sealer.open(value) if value else None

    def serve(self, use: SessionCookie, event: ApiEvent, handle: Callable[[ApiEvent], Answer]) -> Answer:
        """The route's answer in cookie mode: its refresh token from the cookie, its tokens into one."""
        came_from = None
        if use is not SessionCookie.NONE:
            fields = body_fields(event, self.max_body_bytes) if event.body else {}
            if is_given(fields, REFRESH_TOKEN):
                raise InvalidRequestError(IN_BODY)
            came_from = self.opened(event)
            if came_from is None:
                return self._without_cookie(use)
            event = _with_fields(event, {**fields, REFRESH_TOKEN: came_from.refresh_token})
        answer = self.deliver(handle(event), came_from)
        if use is SessionCookie.ENDED and answer.status == 200:
            return dataclasses.replace(answer, cookies=(*answer.cookies, CLEAR_COOKIE))
        return answer

    def _without_cookie(self, use: SessionCookie) -> Answer:
        if use is SessionCookie.ENDED:  # nothing to revoke: logged out all the same
            return Answer(NO_SESSION_COOKIE, 200, {}, cookies=(CLEAR_COOKIE,))
        return Answer(NO_SESSION_COOKIE, 403, dict(NO_COOKIE_REFUSAL))

    def deliver(self, answer: Answer, came_from: Opened | None = None) -> Answer:
        """Take ``refresh_token`` out of a token answer and into the cookie.

        A rotated token keeps the expiry of the cookie it came from (``came_from``): the refresh
        token's absolute lifetime runs from the login, not from each rotation.
        """
        body = answer.body
        if not isinstance(body, dict) or not isinstance(body.get(REFRESH_TOKEN), str):
            return answer
        rest = {key: value for key, value in body.items() if key != REFRESH_TOKEN}
        now = int(self.clock())
        expires_at = came_from.expires_at if came_from is not None else now + self.lifetime_seconds
        if expires_at <= now:
            return dataclasses.replace(answer, body=rest, cookies=(*answer.cookies, CLEAR_COOKIE))
        sealed = self.sealer.seal(body[REFRESH_TOKEN], expires_at)
        return dataclasses.replace(
            answer, body=rest, cookies=(*answer.cookies, set_cookie(sealed, expires_at - now))
        )


def _with_fields(event: ApiEvent, fields: dict[str, Any]) -> ApiEvent:
    """The event as body mode's parser reads it: these fields as a JSON body."""
    headers = {**event.headers, "content-type": "application/json"}
    return dataclasses.replace(event, body=json.dumps(fields), is_base64_encoded=False, headers=headers)
