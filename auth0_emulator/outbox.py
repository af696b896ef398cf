"""Emails the tenant would send, kept for tests and the demo instead of being delivered."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

EmailKind = Literal["reset_password", "unblock", "breach_alert", "mfa_code"]


@dataclass(frozen=True)
class Email:
    to: str
    kind: EmailKind
    link: str | None
    sent_at: float
    code: str | None = field(default=None, repr=False)  # an SMS binding code (kind mfa_code)
    phone_number: str | None = None

    def to_json(self) -> dict[str, str | None]:
        sent = datetime.fromtimestamp(self.sent_at, tz=UTC).isoformat(timespec="milliseconds")
        body = {"to": self.to, "kind": self.kind, "link": self.link, "sent_at": sent.replace("+00:00", "Z")}
        if self.kind == "mfa_code":
            body.update(code=self.code, phone_number=self.phone_number)
        return body


class Outbox:
    """Sent emails, oldest first, plus the "at most one per window" memory Auth0 applies to notices."""

    def __init__(self) -> None:
        self._emails: list[Email] = []
        self._last_sent: dict[tuple[str, ...], float] = {}

    def send(self, email: Email) -> None:
        self._emails.append(email)

    def may_notify(self, key: tuple[str, ...], now: float, window_seconds: float) -> bool:
        """True (and remembered) when no notice with this key went out within the window."""
        last = self._last_sent.get(key)
        if last is not None and now - last < window_seconds:
            return False
        self._last_sent[key] = now
        return True

    def emails(self) -> list[Email]:
        return list(self._emails)
