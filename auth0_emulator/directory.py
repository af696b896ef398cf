"""Clients, connections and users as they are now (the tenant file is only where they start)."""

from __future__ import annotations

from dataclasses import dataclass

from auth0_emulator.tenant import ClientConfig, ConnectionConfig, TenantConfig


@dataclass
class User:
    user_id: str
    email: str
    connection: str
    password_hash: str
    email_verified: bool
    blocked: bool
    totp_secret: str | None


class Directory:
    def __init__(self, config: TenantConfig) -> None:
        self._clients = {client.client_id: client for client in config.clients}
        self._connections = {connection.name: connection for connection in config.connections}
        self._users: dict[tuple[str, str], User] = {}
        self._by_id: dict[str, User] = {}
        for connection in config.connections:
            for entry in connection.users:
                user = User(
                    user_id=entry.user_id,
                    email=entry.email,
                    connection=connection.name,
                    password_hash=entry.password_hash,
                    email_verified=entry.email_verified,
                    blocked=entry.blocked,
                    totp_secret=entry.totp_secret,
                )
                self._users[(connection.name, entry.email.lower())] = user
                self._by_id[entry.user_id] = user

    def client(self, client_id: str) -> ClientConfig | None:
        return self._clients.get(client_id)

    def replace_client(self, client: ClientConfig) -> None:
        self._clients[client.client_id] = client

    def connection(self, name: str) -> ConnectionConfig | None:
        return self._connections.get(name)

    def connection_by_id(self, connection_id: str) -> ConnectionConfig | None:
        return next((c for c in self._connections.values() if c.id == connection_id), None)

    def user(self, connection: str, identifier: str) -> User | None:
        return self._users.get((connection, identifier.lower()))

    def user_by_id(self, user_id: str) -> User | None:
        return self._by_id.get(user_id)
