"""ropguard.change_password: the password-reset function's httpx client keeps no state between users."""

from __future__ import annotations

from pytest_httpserver import HTTPServer

from ropguard.change_password import build_http_client
from ropguard.settings import Auth0Settings
from tests.fixtures.cookies import cookie_setting_answer


def settings_for(server: HTTPServer) -> Auth0Settings:
    return Auth0Settings(
        base_url=server.url_for("").rstrip("/"),
        secret_id="unused",
        connect_timeout_seconds=2,
        read_timeout_seconds=2,
        secret_max_age_seconds=300,
    )


def test_a_cookie_set_on_one_answer_is_never_sent_with_the_next_request(httpserver: HTTPServer) -> None:
    """Auth0 may set device or session cookies; one user's must not ride along on another's reset."""
    seen: list[str | None] = []

    httpserver.expect_request("/dbconnections/change_password").respond_with_handler(
        cookie_setting_answer(seen)
    )
    with build_http_client(settings_for(httpserver)) as client:
        for _ in range(3):
            assert client.post("/dbconnections/change_password", json={}).status_code == 200
        assert list(client.cookies.jar) == []

    assert seen == [None, None, None]
