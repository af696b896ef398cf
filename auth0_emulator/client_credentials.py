"""The ``client_credentials`` grant and the Management API tokens it issues (no HTTP here).

A machine-to-machine client gets a token for an audience only through a *client grant* (Auth0's
name: which client may get which scopes of which API). The Management API's audience is the
issuer plus ``api/v2/``; its tokens are RS256 JWTs signed with the tenant key, and the Management
API checks their signature, audience, expiry and the scope each endpoint needs.
"""

from __future__ import annotations

from typing import Any

from auth0_emulator.clients import ISSUER_PLACEHOLDER, ClientConfig, ClientGrant
from auth0_emulator.errors import OAuthError
from auth0_emulator.tenant import ApiConfig
from auth0_emulator.tokens import TokenSigner

MANAGEMENT_TOKEN_SECONDS = 86_400
MANAGEMENT_PATH = "api/v2/"


def management_audience(issuer: str) -> str:
    return f"{issuer}{MANAGEMENT_PATH}"


def client_credentials(
    *,
    client: ClientConfig,
    secret_verified: bool,
    audience: str | None,
    scope: str | None,
    issuer: str,
    grants: tuple[ClientGrant, ...],
    apis: tuple[ApiConfig, ...],
    signer: TokenSigner,
    now: float,
) -> dict[str, Any]:
    """The token answer for a confidential client with a client grant for ``audience``."""
    if not secret_verified:
        raise OAuthError(401, "invalid_client", "Client authentication failed")
    if not audience:
        raise OAuthError(
            403,
            "access_denied",
            "No audience parameter was provided, and no default audience has been configured",
        )
    grant = next(
        (
            g
            for g in grants
            if g.client_id == client.client_id and g.audience.replace(ISSUER_PLACEHOLDER, issuer) == audience
        ),
        None,
    )
    if grant is None:
        raise OAuthError(
            403,
            "access_denied",
            f'Client is not authorized to access "{audience}". '
            'You need to create a "client-grant" associated to this API.',
        )
    granted = list(grant.scope)
    if scope:
        requested = list(dict.fromkeys(scope.split()))
        missing = [s for s in requested if s not in grant.scope]
        if missing:
            raise OAuthError(403, "access_denied", f"Client has not been granted scopes: {','.join(missing)}")
        granted = requested
    if audience == management_audience(issuer):
        lifetime = MANAGEMENT_TOKEN_SECONDS
    else:
        api = next((a for a in apis if a.identifier == audience), None)
        if api is None:
            raise OAuthError(403, "access_denied", f"Service not found: {audience}")
        lifetime = api.token_lifetime
    issued_at = int(now)
    claims = {
        "iss": issuer,
        "sub": f"{client.client_id}@clients",
        "aud": audience,
        "iat": issued_at,
        "exp": issued_at + lifetime,
        "azp": client.client_id,
        "scope": " ".join(granted),
        "gty": "client-credentials",
    }
    return {
        "access_token": signer.sign(claims),
        "token_type": "Bearer",
        "expires_in": lifetime,
        "scope": " ".join(granted),
    }


def management_token_scopes(
    token: str, *, issuer: str, signer: TokenSigner, now: float
) -> frozenset[str] | None:
    """The scopes of a Management API token this tenant issued, or None when it is not one (or expired)."""
    claims = signer.verify(token, management_audience(issuer))
    if claims is None or claims.get("iss") != issuer:
        return None
    expires = claims.get("exp")
    if not isinstance(expires, int) or expires <= now:
        return None
    scope = claims.get("scope")
    return frozenset(scope.split()) if isinstance(scope, str) else frozenset()
