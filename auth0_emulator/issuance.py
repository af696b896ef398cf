"""The token answer every successful user grant ends with: access token, ID token, refresh token.

Scopes are filtered here (OIDC scopes always pass, API scopes only when the API defines them,
``offline_access`` only when a refresh token may be issued), so every grant grants alike.
"""

from __future__ import annotations

import logging
from typing import Any

from auth0_emulator.clients import GRANT_REFRESH_TOKEN, ClientConfig
from auth0_emulator.directory import User
from auth0_emulator.errors import OAuthError
from auth0_emulator.refresh import RefreshStore
from auth0_emulator.replies import Reply
from auth0_emulator.tenant import ApiConfig
from auth0_emulator.tenant_settings import TenantSettings
from auth0_emulator.tokens import TokenSigner

log = logging.getLogger("ropguard.emulator")

OIDC_SCOPES = frozenset({"openid", "profile", "email", "address", "phone", "offline_access"})
USERINFO_PATH = "userinfo"
DEFAULT_ACCESS_TOKEN_SECONDS = 86_400
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class TokenIssuer:
    def __init__(self, settings: TenantSettings, signer: TokenSigner, refresh: RefreshStore) -> None:
        self._settings = settings
        self._signer = signer
        self._refresh = refresh

    def api(self, identifier: str | None) -> ApiConfig | None:
        """The API of an audience the tenant already accepted (None when it is gone or absent)."""
        return next((a for a in self._settings.config.apis if a.identifier == identifier), None)

    def requested_api(self, audience: str | None) -> ApiConfig | None:
        """The API a request names (or the default audience); 403 when there is no such API."""
        audience = audience or self._settings.config.default_audience
        if audience is None:
            return None
        api = self.api(audience)
        if api is None:
            raise OAuthError(403, "access_denied", f"Service not found: {audience}")
        return api

    def issue(
        self,
        user: User,
        *,
        client: ClientConfig,
        api: ApiConfig | None,
        requested: tuple[str, ...],
        now: float,
        grant: str,
        allow_refresh: bool,
    ) -> Reply:
        settings = self._settings
        issuer = settings.issuer
        granted = [s for s in requested if s in OIDC_SCOPES or (api is not None and s in api.scopes)]
        offline_allowed = GRANT_REFRESH_TOKEN in client.grant_types and (
            api is None or api.allow_offline_access
        )
        if "offline_access" in granted and not offline_allowed:
            granted.remove("offline_access")
        issued_at = int(now)
        lifetime = api.token_lifetime if api is not None else DEFAULT_ACCESS_TOKEN_SECONDS
        userinfo = f"{issuer}{USERINFO_PATH}"
        audience: str | list[str] = userinfo
        if api is not None:
            audience = [api.identifier, userinfo] if "openid" in granted else api.identifier
        claims: dict[str, Any] = {
            "iss": issuer,
            "sub": user.user_id,
            "aud": audience,
            "iat": issued_at,
            "exp": issued_at + lifetime,
            "azp": client.client_id,
            "scope": " ".join(granted),
            "gty": "password",
        }
        body: dict[str, Any] = {
            "access_token": self._signer.sign(claims),
            "token_type": "Bearer",
            "expires_in": lifetime,
        }
        if "openid" in granted:
            id_claims: dict[str, Any] = {
                "iss": issuer,
                "sub": user.user_id,
                "aud": client.client_id,
                "iat": issued_at,
                "exp": issued_at + settings.config.id_token_lifetime,
                "email": user.email,
                "email_verified": user.email_verified,
                "name": user.email,
            }
            if grant == "mfa":
                id_claims["amr"] = ["mfa"]
            body["id_token"] = self._signer.sign(id_claims)
        if allow_refresh and "offline_access" in granted:
            body["refresh_token"] = self._refresh.issue(
                user_id=user.user_id,
                client_id=client.client_id,
                audience=api.identifier if api else None,
                scopes=tuple(granted),
                now=now,
            )
        if tuple(granted) != requested:
            body["scope"] = " ".join(granted)
        log.info("tokens issued: user=%s client=%s grant=%s", user.user_id, client.client_id, grant)
        return Reply(200, body, dict(NO_STORE))
