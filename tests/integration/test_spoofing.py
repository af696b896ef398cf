"""No header lets a client choose the address Auth0 counts, through the whole offline stack.

Each case connects from its own loopback source address (the TCP peer, which the local API puts
in ``requestContext.http.sourceIp`` as API Gateway does), sends forged address headers, and logs
in. The emulator's record of the token request must show that address both as the
``auth0-forwarded-for`` ropguard sent and as the IP Auth0 attributed, and the answer must be the
one an honest request gets.

Both modes of ``ClientAddressSource``:

* ``request-context`` (the default stack): ``CloudFront-Viewer-Address`` and ``X-Origin-Verify``
  are forgeable headers and are ignored like the rest.
* ``cloudfront`` (a second stack): its ``api_url`` plays the distribution, so the same forged
  headers are replaced and Auth0 sees the viewer (the TCP peer); its ``direct_api_url`` is the API's
  own endpoint, where only a request carrying the origin secret's current or previous value gets
  its ``CloudFront-Viewer-Address`` to Auth0, and everything else is a 403 that never reaches it.
"""

from __future__ import annotations

from typing import Any

import pyotp
import pytest

from ropguard_offline.stack import DEFAULT_TENANT, OfflineStack, demo_client
from tests.fixtures.emulator import CAROL_TOTP_SECRET, DEMO_USERS
from tests.fixtures.secret_hygiene import SECRETS
from tests.integration.stack_client import StackClient

pytestmark = pytest.mark.integration

ALICE = DEMO_USERS["alice"]

Headers = tuple[tuple[str, str], ...]

#: Every way a client can claim an address, one case each (name, header lines as sent).
FORGED: dict[str, Headers] = {
    # X-Forwarded-For in its shapes
    "xff-single": (("X-Forwarded-For", "203.0.113.7"),),
    "xff-comma-list": (("X-Forwarded-For", "203.0.113.7,198.51.100.9"),),
    "xff-list-with-spaces": (("X-Forwarded-For", "  203.0.113.7 ,  198.51.100.9  "),),
    "xff-list-with-tabs": (("X-Forwarded-For", "\t203.0.113.7\t,\t198.51.100.9"),),
    "xff-obs-folded-line": (("X-Forwarded-For", "203.0.113.7,\r\n\t198.51.100.9"),),
    "xff-ipv6": (("X-Forwarded-For", "2001:db8::7"),),
    "xff-ipv6-bracketed-port": (("X-Forwarded-For", "[2001:db8::7]:443"),),
    "xff-ipv4-port": (("X-Forwarded-For", "203.0.113.7:8443"),),
    "xff-ipv4-mapped": (("X-Forwarded-For", "::ffff:203.0.113.7"),),
    "xff-unknown": (("X-Forwarded-For", "unknown"),),
    "xff-garbage": (("X-Forwarded-For", "not-an-ip; DROP TABLE users"),),
    "xff-empty": (("X-Forwarded-For", ""),),
    "xff-loopback-of-another-user": (("X-Forwarded-For", "127.0.0.1"),),
    "xff-repeated-lines": (("X-Forwarded-For", "203.0.113.7"), ("X-Forwarded-For", "198.51.100.9")),
    "xff-lower-case": (("x-forwarded-for", "203.0.113.7"),),
    "xff-upper-case": (("X-FORWARDED-FOR", "203.0.113.7"),),
    "xff-mixed-case": (("x-FoRwArDeD-fOr", "203.0.113.7"),),
    "xff-underscores": (("X_Forwarded_For", "203.0.113.7"),),
    # RFC 7239 Forwarded
    "forwarded-for": (("Forwarded", "for=203.0.113.7"),),
    "forwarded-quoted-ipv6": (("Forwarded", 'for="[2001:db8:cafe::17]:4711"'),),
    "forwarded-obfuscated": (("Forwarded", "for=_hidden, for=_SEVKISEK"),),
    "forwarded-unknown": (("Forwarded", "for=unknown"),),
    "forwarded-chain": (("Forwarded", "for=192.0.2.43, for=198.51.100.17;proto=https;by=203.0.113.60"),),
    "forwarded-repeated-lines": (("Forwarded", "for=192.0.2.43"), ("forwarded", "for=198.51.100.17")),
    # single-address headers of proxies and CDNs
    "x-real-ip": (("X-Real-IP", "203.0.113.7"),),
    "true-client-ip": (("True-Client-IP", "203.0.113.7"),),
    "cf-connecting-ip": (("CF-Connecting-IP", "203.0.113.7"),),
    "cf-connecting-ipv6": (("CF-Connecting-IPv6", "2001:db8::7"),),
    "x-client-ip": (("X-Client-IP", "203.0.113.7"),),
    "x-cluster-client-ip": (("X-Cluster-Client-IP", "203.0.113.7"),),
    "fastly-client-ip": (("Fastly-Client-IP", "203.0.113.7"),),
    "x-originating-ip": (("X-Originating-IP", "203.0.113.7"),),
    "x-remote-addr": (("X-Remote-Addr", "203.0.113.7"),),
    "client-ip": (("Client-IP", "203.0.113.7"),),
    # the header ropguard itself sends to Auth0
    "auth0-forwarded-for": (("auth0-forwarded-for", "203.0.113.7"),),
    "auth0-forwarded-for-upper-case": (("AUTH0-FORWARDED-FOR", "203.0.113.7"),),
    "auth0-forwarded-for-ipv6": (("Auth0-Forwarded-For", "2001:db8::7"),),
    "auth0-forwarded-for-repeated": (
        ("auth0-forwarded-for", "203.0.113.7"),
        ("Auth0-Forwarded-For", "198.51.100.9"),
    ),
    "auth0-forwarded-for-garbage": (("auth0-forwarded-for", "999.999.999.999"),),
    # CloudFront, without any trusted mode
    "cloudfront-viewer-address": (("CloudFront-Viewer-Address", "203.0.113.7:46532"),),
    "cloudfront-viewer-address-ipv6": (("cloudfront-viewer-address", "2001:db8::7:46532"),),
    "cloudfront-with-a-guessed-origin-secret": (
        ("CloudFront-Viewer-Address", "203.0.113.7:46532"),
        ("X-Origin-Verify", "guessed-origin-secret"),
    ),
    "cloudfront-viewer-address-ipv6-full": (
        ("CloudFront-Viewer-Address", "2001:db8::8a2e:370:7334:46532"),
        ("x-origin-verify", "guessed-origin-secret"),
    ),
    "cloudfront-viewer-address-garbage": (("CloudFront-Viewer-Address", "garbage; 203.0.113.7"),),
    "cloudfront-viewer-address-repeated": (
        ("CloudFront-Viewer-Address", "203.0.113.7:443"),
        ("cloudfront-viewer-address", "198.51.100.9:443"),
    ),
    # everything at once, twice
    "all-at-once": (
        ("X-Forwarded-For", "203.0.113.7"),
        ("Forwarded", "for=203.0.113.8"),
        ("X-Real-IP", "203.0.113.9"),
        ("True-Client-IP", "203.0.113.10"),
        ("CF-Connecting-IP", "203.0.113.11"),
        ("X-Client-IP", "203.0.113.12"),
        ("X-Cluster-Client-IP", "203.0.113.13"),
        ("Fastly-Client-IP", "203.0.113.14"),
        ("auth0-forwarded-for", "203.0.113.15"),
        ("CloudFront-Viewer-Address", "203.0.113.16:443"),
        ("x-forwarded-for", "203.0.113.17"),
        ("AUTH0-FORWARDED-FOR", "203.0.113.18"),
    ),
}

#: Each case comes from its own address, so a fixed value could not pass by coincidence.
SOURCES = {name: f"127.0.23.{index}" for index, name in enumerate(FORGED, start=1)}


@pytest.fixture
def users(offline_stack: OfflineStack, secret_registry: Any) -> StackClient:
    """A freshly reset stack (brute-force counters empty)."""
    return StackClient(offline_stack, secret_registry)


@pytest.fixture(scope="module")
def warm_users(offline_stack_session: OfflineStack) -> StackClient:
    """The stack reset once for all header cases: each case has its own source address and
    reads only the records it caused, so they need no reset (and no cold start) each."""
    offline_stack_session.reset()
    SECRETS.add("client_secret", demo_client(DEFAULT_TENANT).client_secret)
    return StackClient(offline_stack_session, SECRETS)


@pytest.mark.parametrize("case", list(FORGED))
def test_forged_address_header_is_ignored(warm_users: StackClient, case: str) -> None:
    source = SOURCES[case]
    before = len(warm_users.token_requests())

    response = warm_users.raw_login(*ALICE, source=source, header_lines=FORGED[case])

    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"
    assert response.headers["cache-control"] == "no-store"
    (record,) = warm_users.token_requests()[before:]
    assert record["forwarded_for"] == record["attributed_ip"] == source
    assert (record["username"], record["status"], record["error"]) == (ALICE[0], 200, None)


OUTCOMES: dict[str, tuple[str, str, int, str | None]] = {
    "success": (*ALICE, 200, None),
    "wrong-password": (ALICE[0], "not-alices-password", 403, "invalid_grant"),
    "unknown-user": ("nobody@example.com", "nobodys-password", 403, "invalid_grant"),
    "breached": ("bob@example.com", "AUTH0-TEST-bob-breached-1", 401, "password_leaked"),
    "mfa-required": ("carol@example.com", "carol-has-mfa-9", 403, "mfa_required"),
    "admin-blocked": ("dave@example.com", "dave-is-blocked-0", 401, "unauthorized"),
}


@pytest.mark.parametrize("outcome", list(OUTCOMES))
def test_every_outcome_is_unaffected_by_forged_headers(warm_users: StackClient, outcome: str) -> None:
    """Each of Auth0's answers comes back as it would without the forged headers, and Auth0
    judged the login at the TCP peer's address (error bodies are checked for secrets by
    ``StackClient``; only ``mfa_required`` may carry its own ``mfa_token``)."""
    username, password, status, error = OUTCOMES[outcome]
    source = f"127.0.25.{list(OUTCOMES).index(outcome) + 1}"
    before = len(warm_users.token_requests())

    response = warm_users.raw_login(username, password, source=source, header_lines=FORGED["all-at-once"])

    body = response.json()
    assert (response.status_code, body.get("error")) == (status, error)
    if outcome == "mfa-required":
        assert body["mfa_token"]
        assert body["mfa_requirements"] == {"challenge": [{"type": "otp"}]}
    (record,) = warm_users.token_requests()[before:]
    assert record["forwarded_for"] == record["attributed_ip"] == source
    assert (record["username"], record["status"], record["error"]) == (username, status, error)


def test_an_honest_request_gets_the_same_answer(users: StackClient) -> None:
    """The baseline the forged cases are compared with: same status, same body fields."""
    response = users.login(*ALICE, source="127.0.23.250")

    assert response.status_code == 200
    assert {"access_token", "token_type", "expires_in"} <= set(response.json())
    (record,) = users.token_requests()
    assert record["forwarded_for"] == record["attributed_ip"] == "127.0.23.250"


ROTATED_HEADERS = ("X-Forwarded-For", "auth0-forwarded-for", "Forwarded", "X-Real-IP")


@pytest.mark.parametrize("header", ROTATED_HEADERS)
def test_rotating_a_forged_address_does_not_dodge_brute_force_protection(
    users: StackClient, header: str
) -> None:
    """Auth0's default threshold is 10 failures per (user, IP): the 11th attempt is refused
    whatever fresh address the attacker writes into a header, while the real user, from
    another address, still logs in."""
    attacker, victim = "127.0.24.1", "127.0.24.2"
    statuses = []
    for attempt in range(1, 12):
        forged = f"for=198.51.100.{attempt}" if header == "Forwarded" else f"198.51.100.{attempt}"
        response = users.login(
            ALICE[0], f"wrong-password-{attempt:02d}", source=attacker, headers=[(header, forged)]
        )
        statuses.append((response.status_code, response.json()["error"]))

    assert statuses[:10] == [(403, "invalid_grant")] * 10
    assert statuses[10] == (429, "too_many_attempts")
    # Blocked from that address even with the right password and yet another forged address.
    blocked = users.login(*ALICE, source=attacker, headers=[(header, "192.0.2.200")])
    assert (blocked.status_code, blocked.json()["error"]) == (429, "too_many_attempts")

    honest = users.login(*ALICE, source=victim)

    assert honest.status_code == 200
    records = users.token_requests()
    attributed = [r["attributed_ip"] for r in records]
    assert attributed[:11] == [attacker] * 11
    assert attributed[-1] == victim
    # The blocked retry: ropguard repeats Auth0's block without asking (docs/operations.md,
    # "Floods"), unless another warm container answered it, which asks Auth0 once.
    assert attributed[11:-1] in ([], [attacker])
    assert all(r["forwarded_for"] == r["attributed_ip"] for r in records)


# --- session routes (issue 9): MFA, refresh and logout forward the TCP peer too ---


def _session_calls(client: StackClient, source: str, forged: Headers) -> None:
    """carol's whole MFA conversation, then alice's refresh and logout, all with forged headers."""

    def post(path: str, **fields: str) -> Any:
        response = client.call("POST", path, source=source, json=fields, headers=forged)
        assert response.status_code == 200, (path, response.text)
        return response.json()

    carol = client.call(
        "POST", "/login", source=source, json={"username": "carol@example.com", "password": "carol-has-mfa-9"}
    ).json()
    mfa_token = carol["mfa_token"]
    listed = client.call(
        "GET",
        "/login/mfa/authenticators",
        source=source,
        headers=(*forged, ("Authorization", f"Bearer {mfa_token}")),
    )
    assert listed.status_code == 200
    post("/login/mfa/challenge", mfa_token=mfa_token, challenge_type="otp")
    post("/login/mfa", mfa_token=mfa_token, otp=pyotp.TOTP(CAROL_TOTP_SECRET).now())
    refresh_token = client.login(*ALICE, source=source).json()["refresh_token"]
    refresh_token = post("/token/refresh", refresh_token=refresh_token)["refresh_token"]
    assert post("/logout", refresh_token=refresh_token) == {}


@pytest.mark.parametrize("case", ["xff-single", "auth0-forwarded-for", "forwarded-for", "all-at-once"])
def test_session_routes_forward_the_tcp_peer_whatever_the_headers_say(users: StackClient, case: str) -> None:
    source = f"127.0.26.{list(FORGED).index(case) + 1}"

    _session_calls(users, source, FORGED[case])

    records = users.token_requests()
    endpoints = {record.get("endpoint") for record in records}
    assert {"/oauth/token", "/mfa/challenge", "/oauth/revoke"} <= endpoints
    assert {record["forwarded_for"] for record in records} == {source}
    assert {record["attributed_ip"] for record in records} == {source}


# --- ClientAddressSource=cloudfront ------------------------------------------------------------------

FORBIDDEN = {
    "error": "access_denied",
    "error_description": "The request was not received through the login service's front door.",
}


@pytest.fixture(scope="module")
def cloudfront_users(cloudfront_stack_session: OfflineStack) -> StackClient:
    """The CloudFront-mode stack, reset once; every case has its own source and viewer address."""
    cloudfront_stack_session.reset()
    SECRETS.add("client_secret", demo_client(DEFAULT_TENANT).client_secret)
    return StackClient(cloudfront_stack_session, SECRETS)


def origin_secret(stack: OfflineStack, stage: str = "AWSCURRENT") -> str:
    """The origin secret's value in moto (registered with the scanner: it must never be printed)."""
    client = stack.aws.client("secretsmanager")
    value = str(
        client.get_secret_value(SecretId=stack.physical("OriginVerifySecret"), VersionStage=stage)[
            "SecretString"
        ]
    )
    SECRETS.add("origin_secret", value)
    return value


@pytest.mark.parametrize("case", list(FORGED))
def test_distribution_replaces_forged_headers(cloudfront_users: StackClient, case: str) -> None:
    """Through the distribution every forged header, CloudFront's own included, changes nothing:
    Auth0 counts the viewer CloudFront saw (the TCP peer)."""
    source = SOURCES[case].replace("127.0.23.", "127.0.33.")
    before = len(cloudfront_users.token_requests())

    response = cloudfront_users.raw_login(*ALICE, source=source, header_lines=FORGED[case])

    assert response.status_code == 200, response.text
    (record,) = cloudfront_users.token_requests()[before:]
    assert record["forwarded_for"] == record["attributed_ip"] == source


def _direct(users: StackClient, source: str, *header_lines: tuple[str, str]) -> tuple[int, Any, list[Any]]:
    """POST /login on the API's own endpoint; the answer and the token requests it caused."""
    before = len(users.token_requests())
    response = users.raw_login(
        *ALICE, source=source, header_lines=header_lines, api_url=users.stack.direct_api_url
    )
    return response.status_code, response.json(), users.token_requests()[before:]


def _refused(status: int, body: Any, records: list[Any]) -> None:
    assert (status, body) == (403, FORBIDDEN)
    assert records == [], "a request that was not verified reached Auth0"


@pytest.mark.parametrize(
    ("case", "header_lines"),
    [
        ("no-secret", (("CloudFront-Viewer-Address", "203.0.113.7:46532"),)),
        (
            "wrong-secret",
            (("CloudFront-Viewer-Address", "203.0.113.7:46532"), ("X-Origin-Verify", "guessed")),
        ),
        ("empty-secret", (("CloudFront-Viewer-Address", "203.0.113.7:46532"), ("X-Origin-Verify", ""))),
        (
            "secret-as-xff",
            (("CloudFront-Viewer-Address", "203.0.113.7:46532"), ("X-Forwarded-For", "guessed")),
        ),
        ("no-headers-at-all", ()),
    ],
)
def test_api_endpoint_refuses_requests_without_the_secret(
    cloudfront_users: StackClient, case: str, header_lines: tuple[tuple[str, str], ...]
) -> None:
    index = ["no-secret", "wrong-secret", "empty-secret", "secret-as-xff", "no-headers-at-all"].index(case)
    _refused(*_direct(cloudfront_users, f"127.0.34.{index + 1}", *header_lines))


def test_api_endpoint_refuses_the_secret_sent_twice_or_mangled(cloudfront_users: StackClient) -> None:
    secret = origin_secret(cloudfront_users.stack)
    viewer = ("CloudFront-Viewer-Address", "203.0.113.7:46532")
    _refused(
        *_direct(
            cloudfront_users, "127.0.35.1", viewer, ("X-Origin-Verify", secret), ("X-Origin-Verify", "x")
        )
    )
    _refused(*_direct(cloudfront_users, "127.0.35.2", viewer, ("X-Origin-Verify", secret[:-1])))
    _refused(*_direct(cloudfront_users, "127.0.35.3", viewer, ("X-Origin-Verify", secret.upper())))


@pytest.mark.parametrize(
    "viewer",
    [
        None,
        "",
        "garbage",
        "203.0.113.7",
        "[2001:db8::7]:443",
        "203.0.113.7:99999",
        "203.0.113.7:443,198.51.100.9:1",
    ],
)
def test_verified_request_without_a_usable_viewer_address_fails_closed(
    cloudfront_users: StackClient, viewer: str | None
) -> None:
    secret = origin_secret(cloudfront_users.stack)
    lines = [("X-Origin-Verify", secret)] + (
        [("CloudFront-Viewer-Address", viewer)] if viewer is not None else []
    )
    _refused(*_direct(cloudfront_users, "127.0.36.1", *lines))


@pytest.mark.parametrize(
    ("viewer", "counted"),
    [
        ("198.51.100.10:46532", "198.51.100.10"),
        ("2001:db8::8a2e:370:7334:46532", "2001:db8::8a2e:370:7334"),
        ("::ffff:198.51.100.11:443", "198.51.100.11"),
    ],
)
def test_verified_viewer_address_is_what_auth0_counts(
    cloudfront_users: StackClient, viewer: str, counted: str
) -> None:
    """With the secret (what only the distribution sends) the viewer address reaches Auth0, and no
    other header (X-Forwarded-For, auth0-forwarded-for) or the TCP peer does."""
    status, body, records = _direct(
        cloudfront_users,
        "127.0.37.1",
        ("X-Origin-Verify", origin_secret(cloudfront_users.stack)),
        ("CloudFront-Viewer-Address", viewer),
        ("X-Forwarded-For", "192.0.2.1"),
        ("auth0-forwarded-for", "192.0.2.2"),
    )
    assert status == 200, body
    (record,) = records
    assert record["forwarded_for"] == record["attributed_ip"] == counted


def test_rotation_keeps_the_previous_secret_working_until_it_is_retired(
    cloudfront_users: StackClient,
) -> None:
    """A rotation in moto: the new value is current, the old one previous. Both carry the viewer
    address to Auth0 (so a distribution still sending the old one drops nothing); the value before
    that, and the old one once AWSPREVIOUS is removed, are refused without reaching Auth0."""
    stack = cloudfront_users.stack
    client = stack.aws.client("secretsmanager")
    secret_id = stack.physical("OriginVerifySecret")
    oldest = origin_secret(stack)
    client.put_secret_value(SecretId=secret_id, SecretString="first-rotation-" + "a" * 48)
    old = origin_secret(stack)
    client.put_secret_value(SecretId=secret_id, SecretString="second-rotation-" + "b" * 48)
    current = origin_secret(stack)
    assert origin_secret(stack, "AWSPREVIOUS") == old
    stack.reset()  # every function cold: their secret caches start empty (as after the cache age)

    viewer = ("CloudFront-Viewer-Address", "198.51.100.20:443")
    for index, value in enumerate((current, old), start=1):
        status, body, records = _direct(
            cloudfront_users, f"127.0.38.{index}", ("X-Origin-Verify", value), viewer
        )
        assert status == 200, body
        assert [(r["forwarded_for"], r["attributed_ip"]) for r in records] == [
            ("198.51.100.20", "198.51.100.20")
        ]
    _refused(*_direct(cloudfront_users, "127.0.38.3", ("X-Origin-Verify", oldest), viewer))

    # The distribution now sends the current value: Auth0 counts the TCP peer.
    before = len(cloudfront_users.token_requests())
    response = cloudfront_users.raw_login(*ALICE, source="127.0.38.4", header_lines=[viewer])
    assert response.status_code == 200
    (record,) = cloudfront_users.token_requests()[before:]
    assert record["forwarded_for"] == "127.0.38.4"

    # Retire the previous value; once the functions' caches are fresh it is refused.
    versions = client.describe_secret(SecretId=secret_id)["VersionIdsToStages"]
    previous_id = next(version for version, stages in versions.items() if "AWSPREVIOUS" in stages)
    client.update_secret_version_stage(
        SecretId=secret_id, VersionStage="AWSPREVIOUS", RemoveFromVersionId=previous_id
    )
    stack.reset()
    _refused(*_direct(cloudfront_users, "127.0.38.5", ("X-Origin-Verify", old), viewer))
    status, _, records = _direct(cloudfront_users, "127.0.38.6", ("X-Origin-Verify", current), viewer)
    assert status == 200
    assert [r["forwarded_for"] for r in records] == ["198.51.100.20"]
