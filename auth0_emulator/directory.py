"""Clients, connections and users as they are now (the tenant file is only where they start)."""

from __future__ import annotations

from dataclasses import dataclass, field

from auth0_emulator.clients import ClientConfig
from auth0_emulator.tenant import ConnectionConfig, TenantConfig


@dataclass
class User:
    user_id: str
    email: str
    connection: str
    password_hash: str
    email_verified: bool
    blocked: bool
    totp_secret: str | None
    sms_phone_number: str | None = None
    push_device_name: str | None = None
    recovery_codes: list[str] = field(default_factory=list, repr=False)
    username: str | None = None

    @property
    def has_mfa(self) -> bool:
        """Enrolled in a factor that a login must pass (recovery codes alone are only a fallback)."""
        return bool(self.totp_secret or self.sms_phone_number or self.push_device_name)


def normalise_recovery_code(code: str) -> str:
    """Recovery codes compare ignoring spaces, dashes and case, as people type them."""
    return code.replace(" ", "").replace("-", "").upper()


class Directory:
    def __init__(self, config: TenantConfig) -> None:
        self._clients = {client.client_id: client for client in config.clients}
        self._connections = {connection.name: connection for connection in config.connections}
        self._users: dict[tuple[str, str], User] = {}
        self._usernames: dict[tuple[str, str], User] = {}
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
                    sms_phone_number=entry.sms_phone_number,
                    push_device_name=entry.push_device_name,
                    recovery_codes=[normalise_recovery_code(code) for code in entry.recovery_codes],
                    username=entry.username,
                )
                self._users[(connection.name, entry.email.lower())] = user
                if entry.username is not None:
                    self._usernames[(connection.name, entry.username.lower())] = user
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

    def login_user(self, connection: str, identifier: str) -> User | None:
        """The user a password login names: by email, or by username where the connection has them."""
        key = (connection, identifier.lower())
        return self._users.get(key) or self._usernames.get(key)

    def users(self) -> list[User]:
        """Every user, in the tenant file's order."""
        return list(self._by_id.values())

    def user_by_id(self, user_id: str) -> User | None:
        return self._by_id.get(user_id)

    def user_by_email(self, email: str) -> User | None:
        return next((u for u in self._by_id.values() if u.email.lower() == email.lower()), None)
