"""The emulator over real HTTP on a loopback socket: bodies, attribution, hooks, faults, links."""

from __future__ import annotations

import base64
import http.client
from typing import Any

import httpx
import jwt
import pytest

from auth0_emulator import EmulatorServer, ManualClock
from tests.fixtures.emulator import (
    DEMO_AUDIENCE,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_CONNECTION,
    DEMO_USERS,
    UNTRUSTED_CLIENT_ID,
    UNTRUSTED_CLIENT_SECRET,
    EmulatorHandle,
)

pytestmark = pytest.mark.integration

ALICE, ALICE_PASSWORD = DEMO_USERS["alice"]
USER_IP = "203.0.113.50"
RECORD_KEYS = {
    "endpoint",
    "peer_ip",
    "forwarded_for",
    "attributed_ip",
    "client_id",
    "grant_type",
    "username",
    "status",
    "error",
}


def password_body(username: str = ALICE, password: str = ALICE_PASSWORD, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "password",
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "username": username,
        "password": password,
        "audience": DEMO_AUDIENCE,
        **extra,
    }


def post_token(
    emulator: EmulatorHandle, body: dict[str, str], forwarded_for: str | None = USER_IP
) -> httpx.Response:
    headers = {"auth0-forwarded-for": forwarded_for} if forwarded_for is not None else {}
    return emulator.http.post("/oauth/token", json=body, headers=headers)


# ---- bodies and client authentication ---------------------------------------------------------


def test_json_form_and_basic_bodies(auth0_emulator: EmulatorHandle) -> None:
    assert post_token(auth0_emulator, password_body()).status_code == 200
    assert auth0_emulator.http.post("/oauth/token", data=password_body()).status_code == 200
    basic = base64.b64encode(f"{DEMO_CLIENT_ID}:{DEMO_CLIENT_SECRET}".encode()).decode()
    body = {k: v for k, v in password_body().items() if k not in {"client_id", "client_secret"}}
    response = auth0_emulator.http.post(
        "/oauth/token", data=body, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[]", "application/json"),
        (b'{"grant_type": 5}', "application/json"),
        (b"grant_type=password&grant_type=password", "application/x-www-form-urlencoded"),
        (b"grant_type=password", "text/plain"),
        (b"\xff\xfe", "application/json"),
    ],
)
def test_malformed_bodies_are_400_invalid_request(
    auth0_emulator: EmulatorHandle, content, content_type
) -> None:
    response = auth0_emulator.http.post(
        "/oauth/token", content=content, headers={"Content-Type": content_type}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_oversized_body_is_refused(auth0_emulator: EmulatorHandle) -> None:
    response = auth0_emulator.http.post(
        "/oauth/token", content=b"x" * (1024 * 1024 + 1), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_connections_are_kept_alive(auth0_emulator: EmulatorHandle) -> None:
    host, port = auth0_emulator.domain.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        connection.request("GET", "/.well-known/jwks.json")
        connection.getresponse().read()
        first_socket = connection.sock
        for _ in range(3):
            connection.request("GET", "/.well-known/jwks.json")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
        assert connection.sock is first_socket
    finally:
        connection.close()


# ---- attribution as recorded by the hook ------------------------------------------------------


def test_trusted_client_is_attributed_the_forwarded_ip(auth0_emulator: EmulatorHandle) -> None:
    post_token(auth0_emulator, password_body())
    (record,) = auth0_emulator.token_requests()
    assert record == {
        "endpoint": "/oauth/token",
        "peer_ip": "127.0.0.1",
        "forwarded_for": USER_IP,
        "attributed_ip": USER_IP,
        "client_id": DEMO_CLIENT_ID,
        "grant_type": "password",
        "username": ALICE,
        "status": 200,
        "error": None,
    }


def test_untrusted_client_and_bad_header_fall_back_to_the_peer(auth0_emulator: EmulatorHandle) -> None:
    untrusted = password_body(client_id=UNTRUSTED_CLIENT_ID, client_secret=UNTRUSTED_CLIENT_SECRET)
    post_token(auth0_emulator, untrusted)
    post_token(auth0_emulator, password_body(), forwarded_for="203.0.113.1, 198.51.100.1")
    records = auth0_emulator.token_requests()
    assert [(r["forwarded_for"], r["attributed_ip"], r["status"]) for r in records] == [
        (USER_IP, "127.0.0.1", 200),
        ("203.0.113.1, 198.51.100.1", "127.0.0.1", 200),
    ]


def test_brute_force_through_http_and_the_outbox_hook(auth0_emulator: EmulatorHandle) -> None:
    statuses = [post_token(auth0_emulator, password_body(password="wrong")).status_code for _ in range(10)]
    assert statuses == [403] * 10
    blocked = post_token(auth0_emulator, password_body())
    assert (blocked.status_code, blocked.json()["error"]) == (429, "too_many_attempts")
    assert post_token(auth0_emulator, password_body(), forwarded_for="198.51.100.9").status_code == 200
    (email,) = auth0_emulator.outbox()
    assert set(email) == {"to", "kind", "link", "sent_at"}
    assert (email["to"], email["kind"]) == (ALICE, "unblock")
    assert email["link"].startswith(auth0_emulator.base_url)
    assert auth0_emulator.http.get(email["link"]).status_code == 200
    assert post_token(auth0_emulator, password_body()).status_code == 200
    assert all(set(r) == RECORD_KEYS for r in auth0_emulator.token_requests())


def test_reset_hook_empties_records_and_outbox(auth0_emulator: EmulatorHandle) -> None:
    post_token(auth0_emulator, password_body(*DEMO_USERS["bob"]))
    assert auth0_emulator.token_requests()
    assert auth0_emulator.outbox()
    auth0_emulator.reset()
    assert auth0_emulator.token_requests() == []
    assert auth0_emulator.outbox() == []


def test_clock_hook_moves_windows_without_sleeping(auth0_emulator: EmulatorHandle) -> None:
    for _ in range(10):
        post_token(auth0_emulator, password_body(password="wrong"))
    auth0_emulator.advance_clock(30 * 24 * 3600)
    assert post_token(auth0_emulator, password_body()).status_code == 200


# ---- faults -----------------------------------------------------------------------------------


def test_status_fault_for_the_next_count_requests(auth0_emulator: EmulatorHandle) -> None:
    auth0_emulator.inject_fault(status=503, count=2)
    assert auth0_emulator.http.get("/__emulator/faults").json()[0]["count"] == 2
    assert [post_token(auth0_emulator, password_body()).status_code for _ in range(3)] == [503, 503, 200]
    assert auth0_emulator.http.get("/.well-known/jwks.json").status_code == 200


def test_rate_limit_fault_carries_reset_header(auth0_emulator: EmulatorHandle) -> None:
    auth0_emulator.inject_fault(status=429)
    response = post_token(auth0_emulator, password_body())
    assert response.json()["error"] == "too_many_requests"
    assert int(response.headers["x-ratelimit-reset"]) > 0


def test_drop_connection_fault(auth0_emulator: EmulatorHandle) -> None:
    auth0_emulator.inject_fault(drop_connection=True)
    with httpx.Client(base_url=auth0_emulator.base_url) as client, pytest.raises(httpx.TransportError):
        client.post("/oauth/token", json=password_body())
    assert post_token(auth0_emulator, password_body()).status_code == 200


def test_malformed_body_and_wrong_content_type_faults(auth0_emulator: EmulatorHandle) -> None:
    auth0_emulator.inject_fault(malformed_body=True)
    auth0_emulator.inject_fault(content_type="text/html")
    malformed = post_token(auth0_emulator, password_body())
    assert malformed.status_code == 200
    with pytest.raises(ValueError, match=r"\w"):
        malformed.json()
    wrong_type = post_token(auth0_emulator, password_body())
    assert wrong_type.status_code == 200
    assert wrong_type.headers["content-type"] == "text/html"
    assert "access_token" in wrong_type.json()


def test_delay_only_fault_still_answers(auth0_emulator: EmulatorHandle) -> None:
    auth0_emulator.inject_fault(delay_ms=10)
    assert post_token(auth0_emulator, password_body()).status_code == 200
    assert auth0_emulator.http.get("/__emulator/faults").json() == []


@pytest.mark.parametrize(
    "fault",
    [{"status": 503}, {"route": "oauth/token"}, {"route": "/x", "count": 0}, {"route": "/x", "bogus": 1}],
)
def test_invalid_faults_are_refused(auth0_emulator: EmulatorHandle, fault: dict[str, Any]) -> None:
    assert auth0_emulator.http.post("/__emulator/faults", json=fault).status_code == 400


# ---- discovery and signatures -----------------------------------------------------------------


def test_tokens_verify_against_the_published_jwks(auth0_emulator: EmulatorHandle) -> None:
    config = auth0_emulator.http.get("/.well-known/openid-configuration").json()
    assert config["issuer"] == f"{auth0_emulator.base_url}/"
    token = post_token(auth0_emulator, password_body(scope="openid")).json()["id_token"]
    jwks = jwt.PyJWKClient(config["jwks_uri"])
    key = jwks.get_signing_key_from_jwt(token).key
    claims = jwt.decode(token, key, algorithms=["RS256"], audience=DEMO_CLIENT_ID, issuer=config["issuer"])
    assert claims["sub"] == "auth0|alice"


# ---- change password and the reset link -------------------------------------------------------


def test_change_password_email_link_sets_a_new_password(auth0_emulator: EmulatorHandle) -> None:
    response = auth0_emulator.http.post(
        "/dbconnections/change_password",
        json={"client_id": DEMO_CLIENT_ID, "email": ALICE, "connection": DEMO_CONNECTION},
    )
    assert response.status_code == 200
    assert response.text == "We've just sent you an email to reset your password."
    assert response.headers["content-type"].startswith("text/plain")
    (email,) = auth0_emulator.outbox()
    assert email["kind"] == "reset_password"
    assert auth0_emulator.http.get(email["link"]).status_code == 200
    ticket = email["link"].split("ticket=")[1]
    changed = auth0_emulator.http.post("/lo/reset", data={"ticket": ticket, "password": "new-horse-42"})
    assert changed.status_code == 200
    assert post_token(auth0_emulator, password_body(password="new-horse-42")).status_code == 200
    assert post_token(auth0_emulator, password_body()).status_code == 403
    assert auth0_emulator.http.get(email["link"]).status_code == 400


# ---- Management API over HTTP -----------------------------------------------------------------


@pytest.fixture
def admin(auth0_emulator: EmulatorHandle) -> httpx.Client:
    return httpx.Client(
        base_url=f"{auth0_emulator.base_url}/api/v2",
        headers={"Authorization": "Bearer local-management-token"},
    )


@pytest.mark.parametrize("authorization", [None, "Bearer wrong", "Basic bG9jYWw="])
def test_management_api_needs_the_tenant_token(auth0_emulator: EmulatorHandle, authorization) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = auth0_emulator.http.get("/api/v2/attack-protection/brute-force-protection", headers=headers)
    assert response.status_code == 401
    assert response.json()["statusCode"] == 401


def test_management_settings_round_trip(admin: httpx.Client) -> None:
    for kind in ["brute-force-protection", "suspicious-ip-throttling", "breached-password-detection"]:
        assert admin.get(f"/attack-protection/{kind}").status_code == 200
    patched = admin.patch("/attack-protection/brute-force-protection", json={"max_attempts": 3})
    assert patched.json()["max_attempts"] == 3
    assert admin.get("/attack-protection/suspicious-ip-throttling").json()["stage"]["pre-login"] == {
        "max_attempts": 100,
        "rate": 864000,
    }
    invalid = admin.patch("/attack-protection/brute-force-protection", json={"max_attempts": 0})
    assert (invalid.status_code, invalid.json()["errorCode"]) == (400, "invalid_body")
    assert admin.patch("/attack-protection/brute-force-protection", json={"mode": "x"}).status_code == 400
    assert admin.get("/attack-protection/nope").status_code == 404


def test_management_user_and_ip_blocks(auth0_emulator: EmulatorHandle, admin: httpx.Client) -> None:
    admin.patch("/attack-protection/brute-force-protection", json={"max_attempts": 2})
    admin.patch(
        "/attack-protection/suspicious-ip-throttling", json={"stage": {"pre-login": {"max_attempts": 2}}}
    )
    for _ in range(2):
        post_token(auth0_emulator, password_body(password="wrong"))
    blocks = admin.get("/user-blocks", params={"identifier": ALICE}).json()
    assert blocks == {"blocked_for": [{"identifier": ALICE, "ip": USER_IP, "connection": DEMO_CONNECTION}]}
    assert admin.get(f"/anomaly/blocks/ips/{USER_IP}").status_code == 200
    assert admin.get("/anomaly/blocks/ips/198.51.100.1").status_code == 404
    assert admin.get("/anomaly/blocks/ips/not-an-ip").status_code == 400
    assert admin.delete(f"/anomaly/blocks/ips/{USER_IP}").status_code == 204
    assert admin.delete("/user-blocks", params={"identifier": ALICE}).status_code == 204
    assert admin.get("/user-blocks", params={"identifier": ALICE}).json() == {"blocked_for": []}
    assert admin.get("/user-blocks").status_code == 400
    assert post_token(auth0_emulator, password_body()).status_code == 200


def test_management_clients_and_tickets(auth0_emulator: EmulatorHandle, admin: httpx.Client) -> None:
    client = admin.get(f"/clients/{DEMO_CLIENT_ID}").json()
    assert client["is_token_endpoint_ip_header_trusted"] is True
    patched = admin.patch(f"/clients/{DEMO_CLIENT_ID}", json={"is_token_endpoint_ip_header_trusted": False})
    assert patched.json()["is_token_endpoint_ip_header_trusted"] is False
    post_token(auth0_emulator, password_body())
    assert auth0_emulator.token_requests()[-1]["attributed_ip"] == "127.0.0.1"
    assert (
        admin.patch(f"/clients/{DEMO_CLIENT_ID}", json={"token_endpoint_auth_method": "x"}).status_code == 400
    )
    assert admin.get("/clients/nope").status_code == 404
    ticket = admin.post("/tickets/password-change", json={"user_id": "auth0|alice"})
    assert ticket.status_code == 201
    assert ticket.json()["ticket"].startswith(f"{auth0_emulator.base_url}/lo/reset?ticket=")


# ---- a private server on a manual clock -------------------------------------------------------


def test_in_process_server_with_a_manual_clock(manual_server: EmulatorServer, clock: ManualClock) -> None:
    with httpx.Client(base_url=manual_server.base_url) as client:
        statuses = [
            client.post(
                "/oauth/token", json=password_body(password="x"), headers={"auth0-forwarded-for": USER_IP}
            )
            for _ in range(10)
        ]
        assert {r.status_code for r in statuses} == {403}
        clock.advance(30 * 24 * 3600)
        ok = client.post("/oauth/token", json=password_body(), headers={"auth0-forwarded-for": USER_IP})
        assert ok.status_code == 200
    assert (
        manual_server.state.brute_force.count(ALICE, USER_IP, manual_server.state.brute_force_settings, 0)
        == 0
    )
