"""``prove`` and ``smoke``: live proof that Auth0 counts the forwarded address, read from its logs.

Both send one deliberately failing login for a canary identifier that does not exist (so no real
user's brute-force count moves), then read the tenant logs (``GET /api/v2/logs``) until that
event appears, within a bounded wait. Auth0's own advice for this flow: the event of a
server-side login shows ``ip`` = the forwarded end-user address and ``client_ip`` = the caller.

- ``prove`` calls the token endpoint itself, as the login client with its secret, forwarding a
  fresh random address from a documentation range, and passes only when ``ip`` is that address.
- ``smoke`` logs in through the deployed API, so the route, the function, its secret and Auth0 are
  all on the path, and passes when ropguard answers in its dialect and ``ip`` differs from
  ``client_ip`` (a header Auth0 ignored would leave the function's own address in both).

The canary's password is random and never printed; neither is any secret or token.
"""

from __future__ import annotations

import ipaddress
import random
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from ropguard.auth0_client import basic_authorization
from ropguard.credentials import ClientCredentials
from ropguard.outbound import TRANSPORT_ERRORS, Origin, Reply, Timeouts, json_content
from ropguard.settings import CLIENT_SECRET_BASIC, CLIENT_SECRET_POST
from ropguard_doctor.credentials import Credentials
from ropguard_doctor.errors import DoctorError, ManagementApiError
from ropguard_doctor.management import ManagementApi, auth0_message
from ropguard_doctor.routes import PASSWORD, PASSWORD_REALM

if TYPE_CHECKING:
    from ropguard_doctor.config import Target

#: RFC 5737's documentation ranges: never a real user's address.
DOCUMENTATION_NETWORKS = tuple(
    ipaddress.ip_network(text) for text in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
)
CANARY_PREFIX = "ropguard-doctor-canary-"
CANARY_DOMAIN = "canary.invalid"  # RFC 2606: can never be a real mailbox
DEFAULT_WAIT_SECONDS = 60.0
POLL_SECONDS = 2.0
#: The loopback source the smoke test uses against the offline stack (any 127.x.y.z is local).
OFFLINE_SMOKE_SOURCE = "127.0.0.42"
PROOF_TIMEOUTS = Timeouts(connect_seconds=5.0, read_seconds=15.0)
SMOKE_TIMEOUTS = Timeouts(connect_seconds=5.0, read_seconds=30.0)


def documentation_address(rng: random.Random | None = None) -> str:
    chooser = rng or secrets.SystemRandom()
    network = chooser.choice(DOCUMENTATION_NETWORKS)
    return str(network.network_address + chooser.randint(1, network.num_addresses - 2))


def canary_identifier() -> str:
    return f"{CANARY_PREFIX}{secrets.token_hex(6)}@{CANARY_DOMAIN}"


@dataclass(frozen=True)
class Proof:
    """The outcome of ``prove`` or ``smoke``; ``cause`` says what most likely went wrong."""

    name: str
    passed: bool
    canary: str
    expected_ip: str | None
    answer: str
    event: dict[str, Any] | None = None
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "check": self.name,
            "passed": self.passed,
            "canary": self.canary,
            "expected_ip": self.expected_ip,
            "answer": self.answer,
            "event": self.event,
            "cause": self.cause,
        }

    def render_text(self) -> str:
        lines = [f"{self.name}: {'PASSED' if self.passed else 'FAILED'}", f"  canary login: {self.canary}"]
        if self.expected_ip:
            lines.append(f"  forwarded/source address: {self.expected_ip}")
        lines.append(f"  answer: {self.answer}")
        if self.event is not None:
            lines.append(
                f"  Auth0 log event {self.event.get('log_id')} type {self.event.get('type')}: "
                f"ip {self.event.get('ip')}, client_ip {self.event.get('client_ip')}"
            )
        if self.cause:
            lines.append(f"  likely cause: {self.cause}")
        return "\n".join(lines)


def _event_summary(event: dict[str, Any]) -> dict[str, Any]:
    keys = ("log_id", "date", "type", "ip", "client_ip", "client_id", "user_name", "description")
    return {key: event.get(key) for key in keys if key in event}


def _answer(response: Reply) -> tuple[str, str | None]:
    """``"403 invalid_grant"`` and the error code (never the body: a success would hold tokens)."""
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
    return (f"{response.status} {error}" if error else str(response.status)), error


@dataclass
class LogReader:
    """Polls the tenant logs for the canary's event within a bounded wait."""

    api: ManagementApi
    wait_seconds: float = DEFAULT_WAIT_SECONDS
    poll_seconds: float = POLL_SECONDS
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)

    def event_for(self, canary: str) -> dict[str, Any] | None:
        deadline = self.clock() + self.wait_seconds
        while True:
            events = self.api.logs(f'user_name:"{canary}"')
            matching = [event for event in events if event.get("user_name") == canary]
            if matching:
                return matching[0]
            if self.clock() >= deadline:
                return None
            self.sleep(self.poll_seconds)


def likely_cause(api: ManagementApi, client_id: str, logged_ip: Any, expected: str | None) -> str:
    """Why Auth0 logged ``logged_ip``: read the client's two settings that decide it."""
    fields = ("token_endpoint_auth_method", "is_token_endpoint_ip_header_trusted")
    try:
        client = api.client(client_id, fields)
    except ManagementApiError as exc:
        return f"Auth0 logged ip {logged_ip}; the client could not be read to say why ({exc})"
    if client.get("token_endpoint_auth_method") in (None, "none"):
        return (
            f"the login client's token_endpoint_auth_method is none (a public client): Auth0 ignores "
            f"auth0-forwarded-for and logged ip {logged_ip}, the caller's own address"
        )
    if client.get("is_token_endpoint_ip_header_trusted") is not True:
        return (
            f"Trust Token Endpoint IP Header is off (is_token_endpoint_ip_header_trusted="
            f"{str(client.get('is_token_endpoint_ip_header_trusted')).lower()}): Auth0 ignored "
            f"auth0-forwarded-for and logged ip {logged_ip}, the caller's own address"
        )
    return (
        f"the client trusts the header and is confidential, yet Auth0 logged ip {logged_ip}"
        + (f" instead of {expected}" if expected else "")
        + ": something between the caller and Auth0 rewrote or dropped the header, or the "
        "call did not carry the client secret"
    )


@dataclass
class Prover:
    """``prove``: one failing password grant with a forwarded documentation address."""

    base_url: str
    login: Credentials = field(repr=False)
    api: ManagementApi
    logs: LogReader
    realm: str | None = None
    #: How the deployment authenticates the login client (``AUTH0_CLIENT_AUTH_METHOD``): the proof
    #: sends its secret the same way, or a Basic-only client refuses it.
    client_auth_method: str = CLIENT_SECRET_POST
    http: Origin = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.http = Origin(self.base_url, PROOF_TIMEOUTS)

    @classmethod
    def for_target(cls, target: Target, login: Credentials, api: ManagementApi, logs: LogReader) -> Prover:
        """The proof as the deployment logs in: its login client, realm and client authentication."""
        return cls(target.base_url, login, api, logs, target.realm, target.context.client_auth_method)

    def prove(self, forwarded: str | None = None) -> Proof:
        forwarded = forwarded or documentation_address()
        canary = canary_identifier()
        body = {
            "grant_type": PASSWORD_REALM if self.realm else PASSWORD,
            "username": canary,
            "password": secrets.token_urlsafe(24),
            "scope": "openid",
        }
        if self.realm:
            body["realm"] = self.realm
        headers = [("Content-Type", "application/x-www-form-urlencoded"), ("auth0-forwarded-for", forwarded)]
        client = ClientCredentials(self.login.client_id, self.login.client_secret)
        if self.client_auth_method == CLIENT_SECRET_BASIC:
            headers.append(("Authorization", basic_authorization(client)))
        else:
            body |= {"client_id": client.client_id, "client_secret": client.client_secret}
        try:
            response = self.http.request(
                "POST", "/oauth/token", headers=headers, content=urlencode(body).encode("ascii")
            )
        except TRANSPORT_ERRORS as exc:
            raise DoctorError(f"POST {self.base_url}/oauth/token: {type(exc).__name__}") from None
        answer, error = _answer(response)
        refused = _refused(response.status, error, body["grant_type"], self.login.client_id)
        if refused is not None:
            return Proof(
                "prove", False, canary, forwarded, answer, cause=refused + f" ({auth0_message(response)})"
            )
        event = self.logs.event_for(canary)
        if event is None:
            return Proof("prove", False, canary, forwarded, answer, cause=_no_event(self.logs.wait_seconds))
        if str(event.get("ip")) == forwarded:
            return Proof("prove", True, canary, forwarded, answer, _event_summary(event))
        cause = likely_cause(self.api, self.login.client_id, event.get("ip"), forwarded)
        return Proof("prove", False, canary, forwarded, answer, _event_summary(event), cause)


def _refused(status: int, error: str | None, grant: str, client_id: str) -> str | None:
    """A refusal before Auth0 judged the user: no login event will follow."""
    if error in ("invalid_client", "access_denied") and status == 401:
        return f"the login client {client_id} was refused: its client_id or secret is wrong"
    if error == "unauthorized_client":
        return f"the grant {grant} is not enabled on the login client {client_id}"
    if error == "too_many_requests":
        return "the tenant's rate limit answered 429: try again in a minute"
    if status >= 500:
        return f"Auth0 answered {status}: try again later"
    if error == "invalid_request" or status == 400:
        return "Auth0 rejected the request as malformed (is the realm a database connection of this client?)"
    return None


def _no_event(wait: float) -> str:
    return (
        f"no tenant log event for the canary within {wait:g} s: Auth0's logs can lag; try again with "
        "a longer --wait-seconds (the Management API answered, so read:logs is granted)"
    )


@dataclass
class SmokeTest:
    """``smoke --api URL``: one canary login through the deployed API, then its log event."""

    api_url: str
    api: ManagementApi
    logs: LogReader
    login_client_id: str | None = None
    source_address: str | None = None

    def run(self) -> Proof:
        canary = canary_identifier()
        source = self.source_address
        if source is None and is_loopback_url(self.api_url):
            source = OFFLINE_SMOKE_SOURCE
        login = json_content({"username": canary, "password": secrets.token_urlsafe(24)})
        try:
            with Origin(self.api_url, SMOKE_TIMEOUTS, local_address=source) as http:
                response = http.request(
                    "POST", "/login", headers=[("Content-Type", "application/json")], content=login
                )
        except TRANSPORT_ERRORS as exc:  # binding the source address, connecting, answering
            where = f"POST {self.api_url}/login from {source or 'this host'}"
            raise DoctorError(f"{where}: {type(exc).__name__}: {exc}") from None
        answer, error = _answer(response)
        if not (response.status == 403 and error == "invalid_grant"):
            return Proof("smoke", False, canary, source, answer, cause=_smoke_cause(response.status, error))
        event = self.logs.event_for(canary)
        if event is None:
            return Proof("smoke", False, canary, source, answer, cause=_no_event(self.logs.wait_seconds))
        ip, client_ip = event.get("ip"), event.get("client_ip")
        summary = _event_summary(event)
        if not client_ip:
            return Proof("smoke", False, canary, source, answer, summary, "the log event has no client_ip")
        if str(ip) == str(client_ip):
            cause = (
                likely_cause(self.api, self.login_client_id, ip, source)
                if self.login_client_id
                else f"Auth0 logged the function's own address {ip} as both ip and client_ip: the "
                "header is ignored (run `ropguard-doctor check`)"
            )
            return Proof("smoke", False, canary, source, answer, summary, cause)
        if source and str(ip) != source:
            return Proof(
                "smoke",
                False,
                canary,
                source,
                answer,
                summary,
                f"Auth0 logged ip {ip}, not this host's source address {source}: the API took the "
                "address from somewhere else (a proxy in front of it?)",
            )
        return Proof("smoke", True, canary, source, answer, summary)


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _smoke_cause(status: int, error: str | None) -> str:
    if status == 404:
        return "the API has no POST /login: wrong --api URL, or the route is not deployed"
    if status == 503:
        return "the function could not read its Auth0 client secret (Secrets Manager)"
    if status == 502 and error == "server_error":
        return "Auth0 refused the function's request (client credentials or grant type): run `check`"
    if status in (502, 504):
        return "the function could not reach Auth0 in time"
    if status == 500:
        return "the function is misconfigured or saw no source address (see its logs)"
    if status == 429:
        return "throttled (API Gateway, or Auth0 counted this address): try again later"
    return f"unexpected answer {status} {error or ''}: this is not ropguard's wrong-credentials answer"
