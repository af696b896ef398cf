"""The sample login page's server (ropguard_offline.browser_page) and the page's own promises that need
no API: its files only, the API's URL injected as data, a CSP that lets it call that API only,
labelled fields and buttons in a real Chromium, and a script that touches no storage."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect

from ropguard_offline.browser_page import (
    PAGE_DIRECTORY,
    PORT_VARIABLE,
    BrowserPage,
    localhost_url,
    main,
    port_from_env,
)

pytestmark = [pytest.mark.integration, pytest.mark.browser]

API = "http://localhost:3999"


@pytest.fixture
def page_server() -> Iterator[BrowserPage]:
    with BrowserPage(API, port=0) as page:
        yield page


def get(page: BrowserPage, path: str) -> httpx.Response:
    return httpx.get(f"http://127.0.0.1:{page.port}{path}")


def test_the_page_and_its_files_are_served(page_server: BrowserPage) -> None:
    for path, kind in (("/", "text/html"), ("/app.js", "text/javascript"), ("/style.css", "text/css")):
        answer = get(page_server, path)
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith(kind)
        name = path.lstrip("/") or "index.html"
        assert answer.content == (PAGE_DIRECTORY / name).read_bytes()


@pytest.mark.parametrize(
    "path", ["/../ropguard_offline/stack.py", "/%2e%2e/Makefile", "/README.md", "/examples/", "/x"]
)
def test_nothing_else_is_served(page_server: BrowserPage, path: str) -> None:
    assert get(page_server, path).status_code == 404


def test_config_holds_the_api_url_as_data(page_server: BrowserPage) -> None:
    assert (
        get(page_server, "/config.js").text
        == 'window.ROPGUARD_CONFIG = {"apiBaseUrl": "http://localhost:3999"};\n'
    )
    page_server.api_url = 'http://x/";alert(1);"'
    assert get(page_server, "/config.js").text == (
        'window.ROPGUARD_CONFIG = {"apiBaseUrl": "http://x/\\";alert(1);\\""};\n'
    )


def test_answers_let_the_page_call_its_api_only(page_server: BrowserPage) -> None:
    headers = get(page_server, "/").headers
    policy = headers["content-security-policy"]
    assert "default-src 'self'" in policy
    assert "connect-src http://localhost:3999;" in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


def test_the_port_comes_from_the_variable() -> None:
    assert port_from_env({}) == 3002
    assert port_from_env({PORT_VARIABLE: "3123"}) == 3123


def test_a_taken_port_is_one_clear_line(page_server: BrowserPage, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--api-url", API, "--port", str(page_server.port)]) == 1
    assert PORT_VARIABLE in capsys.readouterr().err


def test_the_committed_config_points_at_the_page_own_origin() -> None:
    text = (PAGE_DIRECTORY / "config.js").read_text()
    assert 'window.ROPGUARD_CONFIG = { apiBaseUrl: "" };' in text


def test_the_script_touches_no_storage_and_no_readable_cookie() -> None:
    script = (PAGE_DIRECTORY / "app.js").read_text()
    code = re.sub(r"//[^\n]*", "", script)  # comments may name what the page never does
    for forbidden in ("localStorage", "sessionStorage", "document.cookie", "indexedDB", "caches."):
        assert forbidden not in code, forbidden
    assert code.count('"X-CSRF": "1"') == 1
    assert code.count('credentials: "include"') == 1


def test_in_chromium_every_field_and_button_is_labelled(
    page_server: BrowserPage, browser_context: BrowserContext
) -> None:
    errors: list[str] = []
    page = browser_context.new_page()
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(page_server.url)
    expect(page.get_by_label("Email", exact=True)).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_be_visible()
    for name in ("Log in", "Refresh", "Log out"):
        expect(page.get_by_role("button", name=name, exact=True)).to_be_visible()
    # The second factor's fields exist, hidden until a login asks for them.
    expect(page.get_by_label("Code", exact=True)).to_be_hidden()
    expect(page.get_by_label("Recovery code", exact=True)).to_be_hidden()
    expect(page.get_by_role("button", name="Verify", exact=True)).to_be_hidden()
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("status")).to_have_text("Enter your email and password.")
    assert errors == []


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("http://127.0.0.1:3000", "http://localhost:3000"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://auth.example.com", "https://auth.example.com"),
        ("http://10.0.0.5:3000", "http://10.0.0.5:3000"),
    ],
)
def test_the_api_is_called_on_the_pages_own_host(url: str, expected: str) -> None:
    assert localhost_url(url) == expected
