"""``make demo``: start the offline stack on free ports, play ropguard's story against it, stop.

Each step prints what was expected and what happened; the command exits non-zero if any step
differs. Different end users are different TCP source addresses: all of 127.0.0.0/8 is loopback,
so a client can bind 127.0.0.x. Tokens and ``mfa_token``s are never printed, only status codes
and Auth0 error codes.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp

from auth0_emulator.tenant import load_tenant_file
from ropguard.cookie_delivery import COOKIE_NAME
from ropguard_doctor.cli import main as doctor_main
from ropguard_doctor.credentials import Credentials
from ropguard_doctor.management import ManagementApi
from ropguard_offline.stack import (
    DEFAULT_TENANT,
    OfflineStack,
    Ports,
    StackConfig,
    demo_client,
    parameter_overrides,
)

#: The demo tenant's users, each as the body of its POST /login.
ALICE = {"username": "alice@example.com", "password": "correct-horse-battery-staple"}
BOB = {"username": "bob@example.com", "password": "AUTH0-TEST-bob-breached-1"}
CAROL = {"username": "carol@example.com", "password": "carol-has-mfa-9"}
DAVE = {"username": "dave@example.com", "password": "dave-is-blocked-0"}
MALLORY = {"username": "mallory@example.com", "password": "mallory-needs-a-captcha-4"}
ALICE_WRONG_PASSWORD = {**ALICE, "password": "not-alices-password"}
# --- session routes (issue 9): the demo tenant's documented MFA values ---
FRANK = {"username": "frank@example.com", "password": "frank-taps-push-3"}
CAROL_TOTP_SECRET = "ROPGUARDDEMOCAROLTOTPSECRETKEY22"
WRONG_OTP = "000000"

#: Cookie mode (TokenDelivery=cookie) requires it on every call; body mode ignores it.
CSRF = {"X-CSRF": "1"}

ALICE_HOME = "127.0.0.2"
ATTACKER = "127.0.0.66"
FRESH = "127.0.0.77"
SOMEONE = "127.0.0.9"
FORGED = "203.0.113.7"

#: Function logs and metrics would drown the story; ``--verbose`` shows them.
QUIET = {"POWERTOOLS_LOG_LEVEL": "ERROR", "POWERTOOLS_METRICS_DISABLED": "true"}


@dataclass(frozen=True)
class Step:
    title: str
    expected: str
    actual: str

    @property
    def ok(self) -> bool:
        return self.expected == self.actual

    def line(self, number: int) -> str:
        mark = "ok  " if self.ok else "FAIL"
        indent = " " * 10
        return (
            f"[{mark}] {number:2}. {self.title}\n"
            f"{indent}expected: {self.expected}\n"
            f"{indent}actual:   {self.actual}"
        )


class Story:
    """Plays the story against a running stack; the end users' requests go through the local HTTP API."""

    def __init__(self, stack: OfflineStack) -> None:
        self.stack = stack
        self.threshold = load_tenant_file(stack.config.tenant_path or DEFAULT_TENANT).brute_force.max_attempts
        self.auth0 = httpx.Client(base_url=stack.auth0_url, timeout=10)

    def call(
        self, address: str, path: str, fields: Mapping[str, str], headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """One POST of a JSON body from ``address`` through the local API, with ``X-CSRF: 1`` as a
        browser app sends it (cookie mode requires it; body mode ignores it)."""
        sent = {**CSRF, **(headers or {})}
        with httpx.Client(transport=httpx.HTTPTransport(local_address=address), timeout=30) as client:
            return client.post(f"{self.stack.api_url}{path}", json=dict(fields), headers=sent)

    def session(self, answer: httpx.Response) -> str:
        """What a client keeps to refresh: the body's refresh token, or in cookie mode the cookie."""
        if not self.stack.cookie_mode:
            return str(answer.json().get("refresh_token", ""))
        for header in answer.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            if name == COOKIE_NAME:
                return rest.split(";", 1)[0]
        return ""

    def with_session(
        self, address: str, path: str, session: str, fields: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """A call that presents ``session``: as ``refresh_token`` in the body, or as the cookie."""
        if self.stack.cookie_mode:
            return self.call(address, path, dict(fields or {}), {"Cookie": f"{COOKIE_NAME}={session}"})
        return self.call(address, path, {**(fields or {}), "refresh_token": session})

    def login(self, address: str, user: Mapping[str, str], headers: Mapping[str, str] | None = None) -> str:
        """``status error`` of one POST /login from ``address`` (never the tokens)."""
        return _outcome(self.call(address, "/login", user, headers))

    def refresh(self, address: str, session: str) -> httpx.Response:
        return self.with_session(address, "/token/refresh", session)

    def token_requests(self) -> list[dict[str, object]]:
        records: list[dict[str, object]] = (
            self.auth0.get("/__emulator/token-requests").raise_for_status().json()
        )
        return records

    def attributed(self) -> str:
        """The address Auth0 counted for the latest token request (its ``attributed_ip``)."""
        records = self.token_requests()
        return str(records[-1]["attributed_ip"]) if records else "(no token request)"

    def reset_emails(self, to: str) -> int:
        outbox = self.auth0.get("/__emulator/outbox").raise_for_status().json()
        return sum(1 for email in outbox if email["kind"] == "reset_password" and email["to"] == to)

    def steps(self) -> Iterator[Step]:
        yield Step(f"alice logs in from {ALICE_HOME}", "200", self.login(ALICE_HOME, ALICE))
        yield Step("...and Auth0 counted her address, not the server's", ALICE_HOME, self.attributed())

        wrong = Counter(self.login(ATTACKER, ALICE_WRONG_PASSWORD) for _ in range(self.threshold))
        yield Step(
            f"{self.threshold} wrong passwords for alice from {ATTACKER}",
            f"{self.threshold} x 403 invalid_grant",
            ", ".join(f"{count} x {outcome}" for outcome, count in wrong.items()) or "nothing",
        )
        yield Step(
            f"brute-force protection now blocks alice from {ATTACKER}, even with her password",
            "429 too_many_attempts",
            self.login(ATTACKER, ALICE),
        )
        yield Step(f"alice still logs in from {ALICE_HOME}", "200", self.login(ALICE_HOME, ALICE))

        forged_blocked = {"X-Forwarded-For": ATTACKER, "auth0-forwarded-for": ATTACKER}
        yield Step(
            f"from {FRESH}, headers claiming the blocked {ATTACKER} change nothing",
            f"200 counted as {FRESH}",
            f"{self.login(FRESH, ALICE, forged_blocked)} counted as {self.attributed()}",
        )
        # ropguard remembers Auth0's block of alice at ATTACKER and repeats it without calling Auth0
        # (docs/operations.md, "Floods"): had a header moved the address, Auth0 would be asked.
        forged_fresh = {"X-Forwarded-For": FORGED, "auth0-forwarded-for": FORGED}
        asked = len(self.token_requests())
        answer = self.login(ATTACKER, ALICE, forged_fresh)
        called = (
            "Auth0 not called" if len(self.token_requests()) == asked else f"counted as {self.attributed()}"
        )
        yield Step(
            f"from the blocked {ATTACKER}, headers claiming {FORGED} do not unblock it "
            "(ropguard repeats Auth0's block)",
            "429 too_many_attempts, Auth0 not called",
            f"{answer}, {called}",
        )

        yield Step("bob's password was breached", "401 password_leaked", self.login(SOMEONE, BOB))
        drained = self.stack.drain(timeout=60)
        yield Step(
            "...so a reset email reaches him through SNS -> SQS -> the reset function",
            "1 reset email to bob@example.com",
            f"{self.reset_emails(BOB['username'])} reset email to bob@example.com"
            + ("" if drained else " (queue not drained)"),
        )
        yield Step("carol has MFA enrolled", "403 mfa_required", self.login(SOMEONE, CAROL))
        yield Step("dave is blocked by an administrator", "401 unauthorized", self.login(SOMEONE, DAVE))
        yield Step(
            "Bot Detection wants a CAPTCHA from mallory: her app falls back to Universal Login",
            "401 requires_verification",
            self.login(SOMEONE, MALLORY),
        )
        # --- session routes (issue 9) ---
        yield from self.carol_totp_steps()
        yield from self.frank_push_steps()
        yield from self.alice_refresh_steps()
        yield from self.refresh_reuse_steps()
        yield from DoctorStory(self.stack).steps()  # the tenant doctor (issue 13)

    # --- session routes (issue 9): MFA, refresh, logout ---------------------------------------

    def carol_totp_steps(self) -> Iterator[Step]:
        mfa_token = self.call(SOMEONE, "/login", CAROL).json().get("mfa_token", "")
        wrong = self.call(SOMEONE, "/login/mfa", {"mfa_token": mfa_token, "otp": WRONG_OTP})
        yield Step("carol sends a wrong one-time code", "403 invalid_grant", _outcome(wrong))
        code = pyotp.TOTP(CAROL_TOTP_SECRET).now()
        right = self.call(SOMEONE, "/login/mfa", {"mfa_token": mfa_token, "otp": code})
        yield Step(
            "carol completes her login with the TOTP from her authenticator app",
            "200 with an access token",
            _outcome(right) + (" with an access token" if "access_token" in right.json() else ""),
        )
        yield Step("...and Auth0 counted her address on the MFA grant too", SOMEONE, self.attributed())

    def frank_push_steps(self) -> Iterator[Step]:
        mfa_token = self.call(SOMEONE, "/login", FRANK).json().get("mfa_token", "")
        push = {"mfa_token": mfa_token, "challenge_type": "oob"}
        oob_code = self.call(SOMEONE, "/login/mfa/challenge", push).json().get("oob_code", "")
        poll = {"mfa_token": mfa_token, "oob_code": oob_code}
        yield Step(
            "frank gets a push; his app polls before he taps it",
            "400 authorization_pending",
            _outcome(self.call(SOMEONE, "/login/mfa", poll)),
        )
        self.auth0.post("/__emulator/mfa/approve", json={"oob_code": oob_code}).raise_for_status()
        self.auth0.post("/__emulator/clock", json={"advance_seconds": 6}).raise_for_status()  # poll interval
        yield Step(
            "frank approves the push on his phone; the next poll logs him in",
            "200",
            _outcome(self.call(SOMEONE, "/login/mfa", poll)),
        )

    def alice_refresh_steps(self) -> Iterator[Step]:
        login = self.call(ALICE_HOME, "/login", {**ALICE, "scope": "openid offline_access"})
        first = self.session(login)
        yield Step(
            "alice logs in with offline_access and gets a refresh token",
            "200 with a refresh token",
            _outcome(login) + (" with a refresh token" if first else " without a refresh token"),
        )
        refreshed = self.refresh(ALICE_HOME, first)
        second = self.session(refreshed)
        yield Step(
            "alice refreshes: new tokens and a rotated refresh token",
            "200 rotated",
            _outcome(refreshed) + (" rotated" if second and second != first else " not rotated"),
        )
        logout = self.with_session(ALICE_HOME, "/logout", second)
        yield Step(
            "alice logs out (her refresh token is revoked)", "200 {}", f"{logout.status_code} {logout.text}"
        )
        again = self.refresh(ALICE_HOME, second)
        yield Step("her revoked refresh token is refused", "403 invalid_grant", _outcome(again))

    def refresh_reuse_steps(self) -> Iterator[Step]:
        first = self.session(self.call(ALICE_HOME, "/login", ALICE))
        second = self.session(self.refresh(ALICE_HOME, first))
        # past the leeway
        self.auth0.post("/__emulator/clock", json={"advance_seconds": 30}).raise_for_status()
        stolen = self.refresh(ATTACKER, first)
        yield Step(
            "a stolen, already rotated refresh token is replayed", "403 invalid_grant", _outcome(stolen)
        )
        yield Step(
            "reuse detection revoked the whole family: alice's current token is refused too",
            "403 invalid_grant",
            _outcome(self.refresh(ALICE_HOME, second)),
        )


# --- the tenant doctor (issue 13): is Auth0 really using the forwarded address? ---

#: The demo tenant's M2M client for the Management API (documented demo values).
DOCTOR_CLIENT = ("ropguard-doctor", "ropguard-doctor-secret-not-for-production")


class DoctorStory:
    """``ropguard-doctor`` against the stack's tenant: clean; the trust flag switched off through
    the Management API; ``check`` names it and ``prove`` fails; ``apply`` restores it."""

    def __init__(self, stack: OfflineStack) -> None:
        client = demo_client(stack.config.tenant_path or DEFAULT_TENANT)
        self.client_id = client.client_id
        self.env = {
            "AUTH0_DOMAIN": stack.auth0_url,
            "AUTH0_MANAGEMENT_CLIENT_ID": DOCTOR_CLIENT[0],
            "AUTH0_MANAGEMENT_CLIENT_SECRET": DOCTOR_CLIENT[1],
            "AUTH0_CLIENT_ID": client.client_id,
            "AUTH0_CLIENT_SECRET": client.client_secret,
            "ROPGUARD_EGRESS_ADDRESSES": "127.0.0.1",
        }
        self.auth0_url = stack.auth0_url

    def doctor(self, *argv: str) -> tuple[int, dict[str, Any]]:
        """Run ``ropguard-doctor <argv> --json`` in-process; its exit status and JSON document."""
        out = io.StringIO()
        status = doctor_main([*argv, "--json"], env=self.env, out=out)
        return status, json.loads(out.getvalue())

    def check(self) -> str:
        status, document = self.doctor("check")
        kinds = sorted({finding["kind"] for finding in document.get("findings", [])})
        return f"exit {status}: " + (", ".join(kinds) or "no findings")

    def prove(self) -> str:
        status, document = self.doctor("prove")
        if "error" in document:
            return f"exit {status}: {document['error']}"
        event = document.get("event") or {}
        verdict = "passed" if document["passed"] else "failed"
        forwarded = "the forwarded address" if event.get("ip") == document["expected_ip"] else event.get("ip")
        return f"exit {status}: {verdict}, Auth0 logged {forwarded}"

    def apply(self) -> str:
        status, document = self.doctor("apply", "--yes")
        if "error" in document:
            return f"exit {status}: {document['error']}"
        return f"exit {status}: {len(document['changes'])} change(s), {len(document['remaining'])} left"

    def steps(self) -> Iterator[Step]:
        proved = "exit 0: passed, Auth0 logged the forwarded address"
        yield Step(
            "ropguard-doctor check: the tenant is configured as tenant.yaml says",
            "exit 0: no findings",
            self.check(),
        )
        yield Step("ropguard-doctor prove: Auth0 logged the forwarded address", proved, self.prove())
        with ManagementApi(self.auth0_url, Credentials(*DOCTOR_CLIENT)) as api:
            client = api.patch_client(self.client_id, {"is_token_endpoint_ip_header_trusted": False})
        trusted = str(client["is_token_endpoint_ip_header_trusted"]).lower()
        yield Step(
            "an operator switches Trust Token Endpoint IP Header off (Management API)",
            "is_token_endpoint_ip_header_trusted=false",
            f"is_token_endpoint_ip_header_trusted={trusted}",
        )
        yield Step("ropguard-doctor check names it", "exit 1: header_not_trusted", self.check())
        yield Step(
            "ropguard-doctor prove fails: Auth0 logged our own address, not the forwarded one",
            "exit 1: failed, Auth0 logged 127.0.0.1",
            self.prove(),
        )
        yield Step(
            "ropguard-doctor apply --yes restores tenant.yaml's value",
            "exit 0: 1 change(s), 0 left",
            self.apply(),
        )
        yield Step("...and prove passes again", proved, self.prove())


def _outcome(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    return f"{response.status_code} {error}" if error else str(response.status_code)


def play(stack: OfflineStack, out: Callable[[str], Any] = print) -> bool:
    """Play the story; True when every step went as expected."""
    failures = 0
    for number, step in enumerate(Story(stack).steps(), start=1):
        out(step.line(number))
        failures += not step.ok
    out("")
    out(f"{failures} step(s) differed from what was expected" if failures else "every step went as expected")
    return failures == 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ropguard_tools.demo", description=__doc__)
    parser.add_argument("--verbose", action="store_true", help="show the stack's and the functions' logs")
    parser.add_argument("--parameter-overrides", nargs="*", default=[], metavar="KEY=VALUE",
                        help="template parameters, e.g. TokenDelivery=cookie")  # fmt: skip
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.ERROR, format="%(levelname)s %(name)s: %(message)s"
    )
    print("starting the offline stack on free loopback ports...", flush=True)
    with contextlib.ExitStack() as quiet:
        # The emulator and moto log from processes of their own: quiet means their output too.
        output = None if args.verbose else quiet.enter_context(open(os.devnull, "w", encoding="utf-8"))
        config = StackConfig(
            ports=Ports.free(),
            parameter_overrides=parameter_overrides(args.parameter_overrides),
            environment_overrides={} if args.verbose else QUIET,
            server_output=output,
            server_log_level="INFO" if args.verbose else "WARNING",
        )
        stack = quiet.enter_context(OfflineStack.start(config))
        print(
            f"local API {stack.api_url}, Auth0 emulator {stack.auth0_url}, moto {stack.aws_url}\n", flush=True
        )
        passed = play(stack, lambda line: print(line, flush=True))
    print("stack stopped", flush=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
