"""The sample login page in a real Chromium against the offline stack in cookie mode.

A person's view: they type into the labelled fields, press the buttons and read the page. The
browser holds the only copy of the refresh token's cookie; the tests look inside it with the
stack's key to check what the page must never see. Every scenario runs the real template, the
real functions and the Auth0 emulator; nothing is mocked.
"""

from __future__ import annotations

from typing import Any

import httpx
import pyotp
import pytest
from playwright.sync_api import BrowserContext, Page, Response, expect

from ropguard_offline.browser_page import BrowserPage
from tests.fixtures.cookie_stack import COOKIE_NAME, CookieStack
from tests.fixtures.emulator import CAROL_RECOVERY_CODES, CAROL_TOTP_SECRET, DEMO_USERS

pytestmark = [pytest.mark.integration, pytest.mark.browser, pytest.mark.slow]

ALICE = DEMO_USERS["alice"]
CAROL = DEMO_USERS["carol"]
ERIN = DEMO_USERS["erin"]
FRANK = DEMO_USERS["frank"]
CAROL_RECOVERY_CODE = CAROL_RECOVERY_CODES[0]
#: A push is polled every 5 seconds: room for a few polls.
PUSH_WAIT_MS = 30_000


class Watched:
    """A page, and every API answer its script received (to prove what it never saw)."""

    def __init__(self, page: Page, stack: CookieStack) -> None:
        self.page = page
        self.stack = stack
        self.bodies: list[str] = []
        page.on("response", self._record)

    def _record(self, response: Response) -> None:
        if response.url.startswith(self.stack.api_url) and response.request.method != "OPTIONS":
            try:
                self.bodies.append(response.text())
            except Exception:
                self.bodies.append("")

    def log_in(self, email: str, password: str) -> None:
        self.page.get_by_label("Email", exact=True).fill(email)
        self.page.get_by_label("Password", exact=True).fill(password)
        self.page.get_by_role("button", name="Log in", exact=True).click()

    def press(self, name: str) -> None:
        self.page.get_by_role("button", name=name, exact=True).click()

    def expect_signed_in_as(self, email: str) -> None:
        expect(self.page.locator("#user-email")).to_have_text(email)
        expect(self.page.locator("#expires-at")).not_to_be_empty()

    def message(self) -> Any:
        return expect(self.page.get_by_role("status"))


@pytest.fixture
def browser(cookie_stack: CookieStack, browser_context: BrowserContext) -> Watched:
    page = browser_context.new_page()
    watched = Watched(page, cookie_stack)
    page.goto(cookie_stack.page_url)
    return watched


def refresh_cookie(context: BrowserContext) -> dict[str, Any] | None:
    return next((dict(c) for c in context.cookies() if c["name"] == COOKIE_NAME), None)


def test_alice_logs_in_and_sees_her_email(browser: Watched, browser_context: BrowserContext) -> None:
    browser.log_in(*ALICE)
    browser.expect_signed_in_as("alice@example.com")
    cookie = refresh_cookie(browser_context)
    assert cookie is not None
    assert (cookie["httpOnly"], cookie["secure"], cookie["sameSite"], cookie["path"]) == (
        True,
        True,
        "Strict",
        "/",
    )
    browser.stack.registry.add("cookie", cookie["value"])
    browser.stack.open(cookie["value"])


def test_page_script_can_read_no_refresh_token(browser: Watched, browser_context: BrowserContext) -> None:
    browser.log_in(*ALICE)
    browser.expect_signed_in_as("alice@example.com")
    cookie = refresh_cookie(browser_context)
    assert cookie is not None
    refresh_token = browser.stack.open(cookie["value"]).refresh_token
    seen = browser.page.evaluate(
        """() => ({
            cookie: document.cookie,
            local: JSON.stringify(Object.entries(localStorage)),
            session: JSON.stringify(Object.entries(sessionStorage)),
            html: document.documentElement.outerHTML,
        })"""
    )
    assert seen["cookie"] == ""
    assert seen["local"] == "[]"
    assert seen["session"] == "[]"
    for place in (*seen.values(), *browser.bodies):
        assert refresh_token not in place
        assert cookie["value"] not in place
        assert "refresh_token" not in place
    assert browser.bodies  # the login's answer was seen


def test_after_a_reload_refresh_works_from_the_cookie(
    browser: Watched, browser_context: BrowserContext
) -> None:
    browser.log_in(*ALICE)
    browser.expect_signed_in_as("alice@example.com")
    first = refresh_cookie(browser_context)
    browser.page.reload()
    expect(browser.page.locator("#user-email")).to_be_empty()  # the access token was in memory only
    browser.press("Refresh")
    browser.expect_signed_in_as("alice@example.com")
    browser.message().to_have_text("Your session was refreshed.")
    second = refresh_cookie(browser_context)
    assert first is not None
    assert second is not None
    assert second["value"] != first["value"]  # rotated
    assert (
        browser.stack.open(second["value"]).refresh_token != browser.stack.open(first["value"]).refresh_token
    )


def test_log_out_clears_the_cookie_and_a_later_refresh_fails(
    browser: Watched, browser_context: BrowserContext
) -> None:
    browser.log_in(*ALICE)
    browser.expect_signed_in_as("alice@example.com")
    cookie = refresh_cookie(browser_context)
    assert cookie is not None
    refresh_token = browser.stack.open(cookie["value"]).refresh_token
    browser.press("Log out")
    browser.message().to_have_text("You are logged out.")
    assert refresh_cookie(browser_context) is None
    calls = browser.stack.auth0_calls()
    browser.press("Refresh")
    browser.message().to_have_text("Your session has ended. Log in again.")
    assert browser.stack.auth0_calls() == calls  # no cookie: Auth0 not asked
    revoked = browser.stack.refresh_at_auth0(refresh_token)
    assert (revoked.status_code, revoked.json()["error"]) == (403, "invalid_grant")


def test_carol_logs_in_with_her_totp(browser: Watched) -> None:
    browser.log_in(*CAROL)
    expect(browser.page.get_by_label("Code", exact=True)).to_be_visible()
    code = pyotp.TOTP(CAROL_TOTP_SECRET).now()
    browser.stack.registry.add_otp(code)
    browser.page.get_by_label("Code", exact=True).fill(code)
    browser.press("Verify")
    browser.expect_signed_in_as("carol@example.com")


def test_carol_logs_in_with_a_recovery_code_and_sees_the_new_one(browser: Watched) -> None:
    browser.log_in(*CAROL)
    browser.page.get_by_label("Recovery code", exact=True).fill(CAROL_RECOVERY_CODE)
    browser.press("Verify")
    browser.expect_signed_in_as("carol@example.com")
    new_code = browser.page.locator("#new-recovery-code")
    expect(new_code).to_be_visible()
    shown = new_code.inner_text()
    browser.stack.registry.add("recovery_code", shown)
    assert shown
    assert shown != CAROL_RECOVERY_CODE


def test_carol_is_told_when_her_code_is_wrong(browser: Watched) -> None:
    browser.log_in(*CAROL)
    browser.page.get_by_label("Code", exact=True).fill("000000")
    browser.press("Verify")
    browser.message().to_have_text("That code is not right. Check it and try again.")
    expect(browser.page.get_by_label("Code", exact=True)).to_be_visible()  # she may try again


def test_erin_logs_in_with_the_code_sent_to_her_phone(browser: Watched) -> None:
    browser.log_in(*ERIN)
    expect(browser.page.locator("#mfa-prompt")).to_have_text("We sent a code to your phone. Enter it here.")
    outbox = httpx.get(f"{browser.stack.stack.auth0_url}/__emulator/outbox", timeout=30).json()
    (code,) = [mail["code"] for mail in outbox if mail["to"] == ERIN[0] and mail["kind"] == "mfa_code"]
    browser.stack.registry.add_code("binding_code", code)
    browser.page.get_by_label("Code", exact=True).fill(code)
    browser.press("Verify")
    browser.expect_signed_in_as("erin@example.com")


def test_frank_approves_a_push_and_the_polling_page_signs_him_in(browser: Watched) -> None:
    browser.log_in(*FRANK)
    browser.message().to_have_text("Waiting for your approval…")
    httpx.post(
        f"{browser.stack.stack.auth0_url}/__emulator/mfa/approve", json={"user": FRANK[0]}, timeout=30
    ).raise_for_status()
    expect(browser.page.locator("#user-email")).to_have_text("frank@example.com", timeout=PUSH_WAIT_MS)


@pytest.mark.parametrize(
    ("email", "password", "sentence"),
    [
        (ALICE[0], "not-alices-password", "That email and password don't match. Check them and try again."),
        (
            "dave@example.com",
            "dave-is-blocked-0",
            "This account is blocked. Contact support to get it unblocked.",
        ),
        (
            "bob@example.com",
            "AUTH0-TEST-bob-breached-1",
            "This password appeared in a data breach elsewhere, so it can't be used. "
            "Check your email: we sent you a link to set a new one.",
        ),
    ],
    ids=["wrong-password", "blocked", "leaked-password"],
)
def test_each_refusal_is_a_sentence_a_person_can_act_on(
    browser: Watched, email: str, password: str, sentence: str
) -> None:
    browser.stack.registry.add("password", password)
    browser.log_in(email, password)
    browser.message().to_have_text(sentence)
    expect(browser.page.get_by_label("Email", exact=True)).to_be_visible()


def test_too_many_attempts_says_check_your_email(browser: Watched) -> None:
    threshold = 10  # the demo tenant's brute-force max_attempts
    for _ in range(threshold):
        browser.log_in(ALICE[0], "not-alices-password")
        browser.message().to_have_text("That email and password don't match. Check them and try again.")
        browser.page.evaluate("() => { document.getElementById('message').textContent = ''; }")
    browser.log_in(*ALICE)
    browser.message().to_have_text(
        "Too many failed attempts: this account is locked for now. "
        "Check your email for a link to unlock it, or try again later."
    )


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"], ids=["another-site", "same-site-other-origin"])
def test_a_page_elsewhere_cannot_refresh_with_alices_cookie(
    browser: Watched, browser_context: BrowserContext, host: str
) -> None:
    browser.log_in(*ALICE)
    browser.expect_signed_in_as("alice@example.com")
    assert refresh_cookie(browser_context) is not None
    with BrowserPage(browser.stack.api_url, port=0) as elsewhere:
        page = browser_context.new_page()  # the same browser: alice's cookie is in its jar
        page.goto(f"http://{host}:{elsewhere.port}/")
        calls = browser.stack.auth0_calls()
        outcome = page.evaluate(
            """async (api) => {
                try {
                    const r = await fetch(api + "/token/refresh", {
                        method: "POST", credentials: "include",
                        headers: {"X-CSRF": "1", "Content-Type": "application/json"}, body: "{}",
                    });
                    return "answered " + r.status + " " + (await r.text());
                } catch (e) {
                    return "blocked";
                }
            }""",
            browser.stack.api_url,
        )
    assert outcome == "blocked"  # the API gave that origin no CORS headers: the script reads nothing
    assert browser.stack.auth0_calls() == calls
    # ...and alice's own page still refreshes: nothing was spent.
    browser.press("Refresh")
    browser.expect_signed_in_as("alice@example.com")
