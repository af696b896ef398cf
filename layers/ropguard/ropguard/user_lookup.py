"""The email address of a user who logs in with a username, through Auth0's Management API.

Auth0 emails the reset link to the user's address, so a breached user whose login name is not an
address is looked up: ``GET /api/v2/users`` with ``q=username:"..."`` restricted to the reset
connection, ``search_engine=v3`` (``/api/v2/users-by-email`` takes addresses only). The token comes
from the management application's ``client_credentials`` grant (scope ``read:users``) and is kept
until shortly before it expires. Only with a management credential configured; otherwise the
reset function skips such users (docs/operations.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import KW_ONLY, dataclass, field
from typing import Any, Final

from ropguard.credentials import SecretCredentials
from ropguard.errors import PermanentResetError, TransientResetError
from ropguard.outbound import TIMEOUT_ERRORS, TRANSPORT_ERRORS, Origin, Reply, json_content

USERS_PATH: Final = "/api/v2/users"
TOKEN_PATH: Final = "/oauth/token"  # noqa: S105 - a URL path
#: A token is renewed this long before Auth0 says it expires.
TOKEN_MARGIN_SECONDS: Final = 60.0


def lucene_phrase(value: str) -> str:
    """``value`` as a quoted Lucene phrase: backslashes and quotes escaped, nothing else special inside."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


@dataclass(eq=False)
class UserLookup:
    """Finds a user's email by username in one connection; failures are reset failures."""

    origin: Origin
    credentials: SecretCredentials = field(repr=False)
    _: KW_ONLY
    connection: str
    clock: Callable[[], float] = time.monotonic
    _token: tuple[str, float] | None = field(default=None, init=False, repr=False)

    def email_for(self, username: str) -> str | None:
        """The user's address, or None when the connection has no such user (or it has no address)."""
        connection = lucene_phrase(self.connection)
        query = f"username:{lucene_phrase(username)} AND identities.connection:{connection}"
        reply = self._call(
            "GET",
            USERS_PATH,
            params={"q": query, "search_engine": "v3", "fields": "email", "include_fields": "true"},
            headers=[("Authorization", f"Bearer {self._bearer()}")],
        )
        users = _json(reply)
        if not isinstance(users, list):
            raise TransientResetError("management_answer_not_a_list")
        for user in users:
            email = user.get("email") if isinstance(user, dict) else None
            if isinstance(email, str) and email:
                return email
        return None

    def _bearer(self) -> str:
        now = self.clock()
        if self._token is not None and now < self._token[1]:
            return self._token[0]
        credentials = self.credentials.get()
        body = {
            "grant_type": "client_credentials",
            "client_id": credentials.client_id,
            "client_secret": credentials.client_secret,
            "audience": f"{self.origin.base_url}/api/v2/",
        }
        reply = self._call(
            "POST", TOKEN_PATH, headers=[("Content-Type", "application/json")], content=json_content(body)
        )
        answer = _json(reply)
        token = answer.get("access_token") if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise TransientResetError("management_token_missing")
        lifetime = answer.get("expires_in")
        seconds = float(lifetime) if isinstance(lifetime, int | float) else 0.0
        self._token = (token, now + max(seconds - TOKEN_MARGIN_SECONDS, 0.0))
        return token

    def _call(self, method: str, path: str, **options: Any) -> Reply:
        try:
            reply = self.origin.request(method, path, **options)
        except TIMEOUT_ERRORS as exc:
            raise TransientResetError("management_timeout") from exc
        except TRANSPORT_ERRORS as exc:
            raise TransientResetError(f"management_unreachable:{type(exc).__name__}") from exc
        if reply.status == 200:
            return reply
        if reply.status == 429 or reply.status >= 500:
            raise TransientResetError(f"management_status_{reply.status}")
        # 401/403: the management application lacks the grant or the read:users scope.
        raise PermanentResetError(f"management_status_{reply.status}")

    def close(self) -> None:
        self.origin.close()


def _json(reply: Reply) -> Any:
    try:
        return reply.json()
    except ValueError:
        raise TransientResetError("management_answer_not_json") from None
