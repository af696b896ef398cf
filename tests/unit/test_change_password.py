"""ropguard.change_password: the reset function's client keeps no state between users; 404 is no user."""

from __future__ import annotations

from pytest_httpserver import HTTPServer

from ropguard.change_password import ChangePasswordClient, ResetRequest
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
    client = ChangePasswordClient.for_tenant(settings_for(httpserver))
    for user in ("alice", "bob", "carol"):
        taken = client.request_reset(email=f"{user}@example.com", connection="db", client_id="c")
        assert taken is ResetRequest.SENT
    client.close()

    assert seen == [None, None, None]


def test_user_not_found_is_an_answer_not_a_failure(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/dbconnections/change_password").respond_with_json(
        {"error": "user_not_found"}, status=404
    )
    client = ChangePasswordClient.for_tenant(settings_for(httpserver))
    assert client.request_reset(email="a@b.co", connection="db", client_id="c") is ResetRequest.USER_NOT_FOUND
    client.close()
