"""What the tenant writes down about each Authentication API call: the tenant-log events of
``tenant_logs`` (login, block and exchange events) and the request records of the test hook.

Call with the tenant's lock held; the events and records are in the order the requests were served.
"""

from __future__ import annotations

from typing import Any

from auth0_emulator.calls import CHALLENGE_PATH, REVOKE_PATH, Outcome, TokenRequestRecord
from auth0_emulator.clients import (
    GRANT_CLIENT_CREDENTIALS,
    GRANT_MFA_OOB,
    GRANT_MFA_OTP,
    GRANT_MFA_RECOVERY_CODE,
    GRANT_PASSWORD,
    GRANT_PASSWORD_REALM,
    GRANT_REFRESH_TOKEN,
)
from auth0_emulator.replies import Reply
from auth0_emulator.tenant_logs import TenantLogs

# grant_type -> (success event, failure event) written for every answer of /oauth/token.
EXCHANGE_EVENTS = {
    GRANT_PASSWORD: ("sepft", "fepft"),
    GRANT_PASSWORD_REALM: ("sepft", "fepft"),
    GRANT_MFA_OTP: ("seotpft", "feotpft"),
    GRANT_MFA_OOB: ("seoobft", "feoobft"),
    GRANT_MFA_RECOVERY_CODE: ("sercft", "fercft"),
    GRANT_REFRESH_TOKEN: ("sertft", "fertft"),
    GRANT_CLIENT_CREDENTIALS: ("seccft", "feccft"),
}


class Journal:
    def __init__(self) -> None:
        self.logs = TenantLogs()
        self._records: list[TokenRequestRecord] = []

    def event(self, event_type: str, outcome: Outcome, now: float, **overrides: Any) -> None:
        """Write one tenant-log event for this request, attributed as the request was."""
        record, client, user = outcome.record, outcome.client, outcome.user
        fields: dict[str, Any] = {
            "client_id": client.client_id if client else record.client_id,
            "client_name": client.name if client else None,
            "user_id": user.user_id if user else None,
            "user_name": user.email if user else record.username,
            "connection": outcome.connection or (user.connection if user else None),
        }
        fields.update(overrides)
        self.logs.write(event_type, now=now, ip=record.attributed_ip, client_ip=record.peer_ip, **fields)

    def answered(self, outcome: Outcome, reply: Reply, now: float) -> None:
        """Record the call and write its exchange event (a token answer only)."""
        record = outcome.record
        record.status = reply.status
        record.error = reply.body.get("error") if isinstance(reply.body, dict) else None
        self._records.append(record)
        if record.endpoint in (REVOKE_PATH, CHALLENGE_PATH):
            return  # a revocation writes srrt itself; a challenge is no exchange (gd_* not emulated)
        events = EXCHANGE_EVENTS.get(record.grant_type or "")
        if events is None:
            return  # a missing or unknown grant_type writes nothing
        details: dict[str, Any] = {"grant_type": record.grant_type}
        if reply.status == 200:
            self.event(events[0], outcome, now, details=details)
            return
        details["error"] = record.error
        if outcome.reason:
            details["reason"] = outcome.reason
        description = reply.body.get("error_description") if isinstance(reply.body, dict) else None
        self.event(events[1], outcome, now, description=description, details=details)

    def token_requests(self) -> list[dict[str, Any]]:
        return [record.to_json() for record in self._records]
