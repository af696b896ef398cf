"""What the Management API subset can read and change in the tenant's state (no HTTP here)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Literal

from auth0_emulator.addresses import parse_ip
from auth0_emulator.clients import APP_TYPES, AUTH_METHODS, KNOWN_GRANTS, TRUSTED_NEEDS_SECRET, ClientConfig
from auth0_emulator.models import EmulatorState
from auth0_emulator.tenant_logs import LogQuery
from auth0_emulator.user_search import UserQuery, user_json
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

log = logging.getLogger("ropguard.emulator")

ProtectionKind = Literal["brute-force-protection", "suspicious-ip-throttling", "breached-password-detection"]
PROTECTION_KINDS: tuple[ProtectionKind, ...] = (
    "brute-force-protection",
    "suspicious-ip-throttling",
    "breached-password-detection",
)


class NotFoundError(LookupError):
    """The addressed resource does not exist (answered 404)."""


class Administration:
    """Management operations over an ``EmulatorState``, each under the state's lock.

    The Management API administers the whole tenant, so it alone works on the assembled state."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    def attack_protection(self, kind: ProtectionKind) -> dict[str, Any]:
        settings = self._state.settings
        with self._state.lock:
            if kind == "brute-force-protection":
                return settings.brute_force.to_api()
            if kind == "suspicious-ip-throttling":
                return settings.suspicious_ip.to_api()
            return settings.breached_password.to_api()

    def patch_attack_protection(self, kind: ProtectionKind, body: object) -> dict[str, Any]:
        settings = self._state.settings
        with self._state.lock:
            if kind == "brute-force-protection":
                settings.brute_force = settings.brute_force.patched(body)
            elif kind == "suspicious-ip-throttling":
                settings.suspicious_ip = settings.suspicious_ip.patched(body)
            else:
                settings.breached_password = settings.breached_password.patched(body)
            log.info("attack protection updated: %s", kind)
            return self.attack_protection(kind)

    def client(self, client_id: str, fields: list[str] | None = None, include: bool = True) -> dict[str, Any]:
        """The client as the Management API shows it; ``client_secret`` only when ``fields`` names it."""
        with self._state.lock:
            body = _client_json(self._client(client_id))
        if fields is None:
            body.pop("client_secret")
            return body
        if include:
            return {name: value for name, value in body.items() if name in fields}
        return {name: value for name, value in body.items() if name not in fields and name != "client_secret"}

    def logs(self, query: LogQuery) -> tuple[list[dict[str, Any]], int]:
        with self._state.lock:
            events, total = self._state.journal.logs.search(query)
            return [event.to_api() for event in events], total

    def users(self, query: UserQuery) -> list[dict[str, Any]]:
        """The users a search finds, in the tenant file's order."""
        with self._state.lock:
            return [user_json(user) for user in self._state.directory.users() if query.matches(user)]

    def log(self, log_id: str) -> dict[str, Any]:
        with self._state.lock:
            event = self._state.journal.logs.get(log_id)
        if event is None:
            raise NotFoundError("log not found")
        return event.to_api()

    def patch_client(self, client_id: str, body: object) -> dict[str, Any]:
        data = as_mapping(body, "client")
        allowed = {
            "name",
            "client_secret",
            "token_endpoint_auth_method",
            "is_token_endpoint_ip_header_trusted",
            "grant_types",
            "refresh_token",
            "app_type",
        }
        reject_unknown(data, allowed, "client")
        with self._state.lock:
            current = self._client(client_id)
            updated = dataclasses.replace(
                current,
                name=read_str(data, "name", "client", current.name),
                client_secret=read_optional_str(data, "client_secret", "client") or current.client_secret,
                token_endpoint_auth_method=read_choice(
                    data,
                    "token_endpoint_auth_method",
                    "client",
                    current.token_endpoint_auth_method,
                    AUTH_METHODS,
                ),
                is_token_endpoint_ip_header_trusted=read_bool(
                    data,
                    "is_token_endpoint_ip_header_trusted",
                    "client",
                    current.is_token_endpoint_ip_header_trusted,
                ),
                grant_types=read_str_list(data, "grant_types", "client", current.grant_types, KNOWN_GRANTS),
                refresh_token=current.refresh_token.patched(
                    data.get("refresh_token", {}), "client.refresh_token"
                ),
                app_type=read_choice(data, "app_type", "client", current.effective_app_type, APP_TYPES),
            )
            if updated.is_confidential and not updated.client_secret:
                raise ValidationError("client.client_secret: a confidential client needs a secret")
            if updated.is_token_endpoint_ip_header_trusted and not updated.is_confidential:
                raise ValidationError(f"client.is_token_endpoint_ip_header_trusted: {TRUSTED_NEEDS_SECRET}")
            self._state.directory.replace_client(updated)
            log.info(
                "client updated: %s auth_method=%s ip_header_trusted=%s",
                client_id,
                updated.token_endpoint_auth_method,
                updated.is_token_endpoint_ip_header_trusted,
            )
            return _client_json(updated)

    def tenant_settings(self) -> dict[str, Any]:
        """The one tenant setting the emulator honours: "Refresh Token Revocation Deletes Grant"."""
        with self._state.lock:
            return {"flags": {"revoke_refresh_token_grant": self._state.settings.revoke_refresh_token_grant}}

    def patch_tenant_settings(self, body: object) -> dict[str, Any]:
        data = as_mapping(body, "tenant settings")
        reject_unknown(data, {"flags"}, "tenant settings")
        flags = as_mapping(data.get("flags", {}), "flags")
        reject_unknown(flags, {"revoke_refresh_token_grant"}, "flags")
        with self._state.lock:
            settings = self._state.settings
            settings.revoke_refresh_token_grant = read_bool(
                flags, "revoke_refresh_token_grant", "flags", settings.revoke_refresh_token_grant
            )
            log.info(
                "tenant settings updated: revoke_refresh_token_grant=%s", settings.revoke_refresh_token_grant
            )
            return self.tenant_settings()

    def user_blocks(self, identifier: str) -> list[dict[str, Any]]:
        state = self._state
        with state.lock:
            blocks = state.brute_force.blocks(identifier, state.settings.brute_force, state.clock.now())
            return [{"identifier": b.identifier, "ip": b.ip, "connection": b.connection} for b in blocks]

    def delete_user_blocks(self, identifier: str) -> None:
        with self._state.lock:
            cleared = self._state.brute_force.clear_identifier(identifier)
            log.info("user blocks deleted by admin: identifier=%s entries=%s", identifier, cleared)

    def user_blocks_by_id(self, user_id: str) -> list[dict[str, Any]]:
        with self._state.lock:
            return self.user_blocks(self._user_email(user_id))

    def delete_user_blocks_by_id(self, user_id: str) -> None:
        with self._state.lock:
            self.delete_user_blocks(self._user_email(user_id))

    def ip_blocked(self, ip: str) -> bool:
        state = self._state
        address = _ip(ip)
        with state.lock:
            return state.suspicious_ip.is_throttled(address, state.settings.suspicious_ip, state.clock.now())

    def unblock_ip(self, ip: str) -> None:
        address = _ip(ip)
        with self._state.lock:
            removed = self._state.suspicious_ip.unblock(address)
            log.info("suspicious-ip block removed by admin: ip=%s had_counter=%s", address, removed)

    def password_change_ticket(self, body: object) -> dict[str, str]:
        data = as_mapping(body, "ticket")
        reject_unknown(data, {"user_id", "email", "connection_id", "result_url", "ttl_sec"}, "ticket")
        ttl = read_int(data, "ttl_sec", "ticket", 432_000, (0, None))
        state = self._state
        with state.lock:
            if data.get("user_id") is not None:
                user = state.directory.user_by_id(read_str(data, "user_id", "ticket"))
            else:
                connection = state.directory.connection_by_id(read_str(data, "connection_id", "ticket"))
                if connection is None:
                    raise NotFoundError("connection not found")
                user = state.directory.user(connection.name, read_str(data, "email", "ticket"))
            if user is None:
                raise NotFoundError("user not found")
            return {"ticket": state.passwords.password_change_ticket(user, ttl or 432_000)}

    def _client(self, client_id: str) -> ClientConfig:
        client = self._state.directory.client(client_id)
        if client is None:
            raise NotFoundError("client not found")
        return client

    def _user_email(self, user_id: str) -> str:
        user = self._state.directory.user_by_id(user_id)
        if user is None:
            raise NotFoundError("user not found")
        return user.email


def _ip(text: str) -> str:
    address = parse_ip(text)
    if address is None:
        raise ValidationError("id: not a valid IP address")
    return str(address)


def _client_json(client: ClientConfig) -> dict[str, Any]:
    return {
        "client_id": client.client_id,
        "name": client.name,
        "client_secret": client.client_secret,
        "token_endpoint_auth_method": client.token_endpoint_auth_method,
        "is_token_endpoint_ip_header_trusted": client.is_token_endpoint_ip_header_trusted,
        "grant_types": list(client.grant_types),
        "app_type": client.effective_app_type,
        "is_first_party": True,
        "oidc_conformant": True,
        "refresh_token": client.refresh_token.to_api(),
    }
