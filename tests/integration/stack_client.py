"""What the spoofing, fault and load suites do to the offline stack, over real HTTP only.

Logins go to the local API from a chosen loopback source address (the end user's address as API
Gateway would see it); what Auth0 saw comes from the emulator's test hooks. Every password sent and
every token received is registered with the session's secret scanner, and every error body is
checked here, so no test can forget either.
"""

from __future__ import annotations

import contextlib
import http.client
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from ropguard_offline.stack import OfflineStack
from tests.fixtures.offline_stack import client_from
from tests.fixtures.secret_hygiene import SecretRegistry

MANAGEMENT_TOKEN = "local-management-token"  # the demo tenant's, documented in docs/emulator.md
RESET_QUEUE = "PasswordResetQueue"
DEAD_LETTER_QUEUE = "PasswordResetDeadLetterQueue"


def assert_error_body_clean(response: httpx.Response, registry: SecretRegistry) -> None:
    """A non-200 body holds no registered secret; an ``mfa_required`` body may hold its own
    ``mfa_token`` (the client needs it to continue), and nothing else."""
    if response.status_code == 200:
        return
    text = response.text
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("error") == "mfa_required":
        text = json.dumps({key: value for key, value in body.items() if key != "mfa_token"})
    leaked = registry.found_in(text)
    assert not leaked, f"a {response.status_code} body carries registered secret(s) of kind {leaked}"


@dataclass
class StackClient:
    """Drives one offline stack as end users and operators would."""

    stack: OfflineStack
    registry: SecretRegistry

    # -- end users ---------------------------------------------------------------------------

    def login(
        self,
        username: str,
        password: str,
        *,
        source: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> httpx.Response:
        """POST /login from ``source``; registers the password and any token in the answer."""
        self.registry.add("password", password)
        with client_from(source, timeout=30) as client:
            response = client.post(
                f"{self.stack.api_url}/login",
                json={"username": username, "password": password},
                headers=list(headers),
            )
        self.check(response)
        return response

    def raw_login(
        self,
        username: str,
        password: str,
        *,
        source: str,
        header_lines: Iterable[tuple[str, str]],
        api_url: str | None = None,
    ) -> httpx.Response:
        """POST /login with header lines written to the socket exactly as given (names, casing,
        repeats and surrounding spaces kept), which httpx would normalise or refuse. ``api_url``
        defaults to the stack's ``api_url`` (in CloudFront mode: the distribution)."""
        self.registry.add("password", password)
        api = urlsplit(api_url or self.stack.api_url)
        body = json.dumps({"username": username, "password": password}).encode()
        connection = http.client.HTTPConnection(
            api.hostname or "127.0.0.1", api.port, timeout=30, source_address=(source, 0)
        )
        try:
            connection.putrequest("POST", "/login", skip_accept_encoding=True)
            connection.putheader("Content-Type", "application/json")
            connection.putheader("Content-Length", str(len(body)))
            for name, value in header_lines:
                connection.putheader(name, value)
            connection.endheaders(body)
            answer = connection.getresponse()
            response = httpx.Response(answer.status, headers=answer.getheaders(), content=answer.read())
        finally:
            connection.close()
        self.check(response)
        return response

    def call(
        self,
        method: str,
        path: str,
        *,
        source: str,
        json: Any = None,
        data: Mapping[str, str] | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> httpx.Response:
        """Any route of the API from ``source``; registers every token and code sent or answered."""
        for fields in (json, data):
            if isinstance(fields, Mapping):
                self.registry.add_tokens_from(fields)
                for name in ("otp", "binding_code"):
                    if fields.get(name):
                        self.registry.add_code(name, str(fields[name]))
        with client_from(source, timeout=30) as client:
            response = client.request(
                method, f"{self.stack.api_url}{path}", json=json, data=data, headers=list(headers)
            )
        self.check(response)
        return response

    def check(self, response: httpx.Response) -> None:
        """Register the answer's tokens, then make sure an error body leaks nothing."""
        with contextlib.suppress(ValueError):
            self.registry.add_tokens_from(response.json())
        assert_error_body_clean(response, self.registry)

    # -- the emulator's test hooks -----------------------------------------------------------

    def _auth0(self, method: str, path: str, **options: Any) -> httpx.Response:
        response = httpx.request(method, f"{self.stack.auth0_url}{path}", timeout=30, **options)
        return response.raise_for_status()

    def token_requests(self) -> list[dict[str, Any]]:
        return list(self._auth0("GET", "/__emulator/token-requests").json())

    def reset_emails(self) -> list[str]:
        """Recipients of reset emails, one entry per email (so doubles show)."""
        emails = self._auth0("GET", "/__emulator/outbox").json()
        return sorted(email["to"] for email in emails if email["kind"] == "reset_password")

    def inject_fault(self, route: str = "/oauth/token", **fault: Any) -> None:
        self._auth0("POST", "/__emulator/faults", json={"route": route, **fault})

    def pending_faults(self) -> list[dict[str, Any]]:
        return list(self._auth0("GET", "/__emulator/faults").json())

    def decide_push(self, decision: str, **target: str) -> None:
        """Approve or deny a pending push challenge (``oob_code=`` or ``user=``)."""
        self._auth0("POST", f"/__emulator/mfa/{decision}", json=target)

    def sms_codes(self, email: str) -> list[str]:
        """Binding codes sent to ``email``, oldest first (registered as secrets)."""
        sent = self._auth0("GET", "/__emulator/outbox").json()
        codes = [str(item["code"]) for item in sent if item["kind"] == "mfa_code" and item["to"] == email]
        for code in codes:
            self.registry.add_code("binding_code", code)
        return codes

    def advance_clock(self, seconds: int) -> None:
        self._auth0("POST", "/__emulator/clock", json={"advance_seconds": seconds})

    def set_password(self, user_id: str, password: str) -> None:
        """Auth0's supported way to change a password: a Management API ticket, then its form.

        A password starting with ``AUTH0-TEST-`` makes the user breached (Auth0's breached-password
        test convention, docs/emulator.md).
        """
        self.registry.add("password", password)
        ticket = self._auth0(
            "POST",
            "/api/v2/tickets/password-change",
            json={"user_id": user_id},
            headers={"Authorization": f"Bearer {MANAGEMENT_TOKEN}"},
        ).json()["ticket"]
        self.registry.add("ticket", ticket)
        httpx.post(ticket, data={"password": password}, timeout=30).raise_for_status()

    # -- AWS (moto) ------------------------------------------------------------------------------

    def sqs(self) -> Any:
        return self.stack.aws.client("sqs")

    def queue_url(self, logical_id: str = RESET_QUEUE) -> str:
        return self.stack.queue_urls[logical_id]

    def dead_letters(self) -> int:
        attributes = self.sqs().get_queue_attributes(
            QueueUrl=self.queue_url(DEAD_LETTER_QUEUE),
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())

    def drain(self, timeout: float = 60.0) -> None:
        assert self.stack.drain(timeout=timeout), f"the reset queue did not drain within {timeout}s"


def breached_event(username: str, *, event_id: str, request_id: str, source_ip: str) -> str:
    """A ``password.breached`` message body exactly as the design's contract spells it."""
    return json.dumps(
        {
            "type": "password.breached",
            "version": 1,
            "id": event_id,
            "occurred_at": "2026-01-01T00:00:00Z",
            "username": username,
            "realm": None,
            "source_ip": source_ip,
            "request_id": request_id,
        }
    )


def type_attribute() -> Mapping[str, Any]:
    return {"type": {"DataType": "String", "StringValue": "password.breached"}}
