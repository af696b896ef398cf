"""Who is calling: client authentication on ``/oauth/token``, ``/mfa/*`` and ``/oauth/revoke``, and
the IP the call is attributed to (which only a client that proved its secret may forward).

A ``client_secret_basic`` client must send its credentials in ``Authorization: Basic`` (RFC 6749
section 2.3.1); a secret in the body fails. A ``client_secret_post`` client may use either.
"""

from __future__ import annotations

import hmac
import logging
import threading

from auth0_emulator import errors
from auth0_emulator.attribution import Attribution, attribute_ip
from auth0_emulator.calls import Outcome, TokenCall
from auth0_emulator.clients import ClientConfig
from auth0_emulator.directory import Directory
from auth0_emulator.errors import OAuthError

log = logging.getLogger("ropguard.emulator")

BASIC = "client_secret_basic"


def _refused() -> OAuthError:
    return OAuthError(401, "invalid_client", errors.CLIENT_AUTH_FAILED)


class ClientAuthentication:
    def __init__(self, directory: Directory, lock: threading.RLock) -> None:
        self._directory = directory
        self._lock = lock

    def attribute(self, call: TokenCall, outcome: Outcome) -> tuple[ClientConfig, bool, Attribution]:
        """The authenticated client, whether it proved a secret, and the call's attributed IP."""
        client, secret_verified = self.authenticate(call)
        outcome.client = client
        attribution = attribute_ip(call.peer_ip, call.forwarded_for, client, secret_verified)
        outcome.record.attributed_ip = attribution.ip
        log.info(
            "attributed ip=%s source=%s client=%s: %s",
            attribution.ip,
            attribution.source,
            client.client_id,
            attribution.reason,
        )
        return client, secret_verified, attribution

    def authenticate(self, call: TokenCall) -> tuple[ClientConfig, bool]:
        params = call.params
        secret: str | None
        if "client_assertion" in params:
            raise OAuthError(401, "invalid_client", "private_key_jwt is not emulated")
        if call.basic_auth is not None:
            client_id, secret = call.basic_auth
            if params.get("client_id") not in (None, client_id):
                raise _refused()
        else:
            client_id, secret = params.get("client_id") or "", params.get("client_secret")
        if not client_id:
            raise _refused()
        with self._lock:
            client = self._directory.client(client_id)
        if client is None:
            log.info("client authentication failed: unknown client_id=%s", client_id)
            raise _refused()
        if not client.is_confidential:
            return client, False
        if client.token_endpoint_auth_method == BASIC and (
            call.basic_auth is None or "client_secret" in params
        ):
            log.info("client authentication failed: client=%s must use HTTP Basic", client_id)
            raise _refused()
        expected = (client.client_secret or "").encode()
        if secret is None or not hmac.compare_digest(secret.encode(), expected):
            log.info("client authentication failed: wrong or missing secret for client=%s", client_id)
            raise _refused()
        return client, True
