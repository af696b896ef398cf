"""User search without HTTP (``user_search.py``, ``directory.py``, ``tenant.py``): the Lucene subset
ropguard sends, which users it finds, and usernames in the tenant file."""

from __future__ import annotations

from typing import Any

import pytest

from auth0_emulator.directory import Directory
from auth0_emulator.tenant import load_tenant_file, parse_tenant
from auth0_emulator.user_search import UserQuery, UserQueryError, user_json
from auth0_emulator.validation import ValidationError
from tests.fixtures.emulator import BOB_USERNAME, DEMO_CONNECTION, DEMO_TENANT

HASH = "$2b$04$VyqsS3uBLsJ/6B5LCZTCceHlHD/k2J4snjJ4R2eci6zigfrh6MMam"


def demo() -> Directory:
    return Directory(load_tenant_file(DEMO_TENANT))


def found(q: str) -> list[str]:
    query = UserQuery.parse(q, "v3")
    return [user.user_id for user in demo().users() if query.matches(user)]


def test_the_products_query_finds_bob_by_username_in_the_connection() -> None:
    assert found(f'username:"{BOB_USERNAME}" AND identities.connection:"{DEMO_CONNECTION}"') == ["auth0|bob"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ('email:"BOB@example.com"', ["auth0|bob"]),  # Auth0 matches email ignoring case
        ('username:"Bob"', []),  # other fields exactly
        ('username:"bob" AND identities.connection:"Other-Connection"', []),
        ('username:"alice"', []),  # alice has no username
        (
            'identities.connection:"Username-Password-Authentication" AND email:"carol@example.com"',
            ["auth0|carol"],
        ),
        ('username:"b\\"ob"', []),  # an escaped quote is part of the value
    ],
)
def test_terms_are_joined_with_and(q: str, expected: list[str]) -> None:
    assert found(q) == expected


@pytest.mark.parametrize(
    "q",
    [
        "username:bob",  # unquoted
        'username:"bob" OR email:"x"',
        'NOT username:"bob"',
        'name:"bob"',  # not a field of the subset
        'username:"bob" AND',
        '(username:"bob")',
        "username:b*",  # a wildcard (inside quotes, * is a literal)
        "",
        " ",
    ],
)
def test_a_query_outside_the_subset_is_refused(q: str) -> None:
    with pytest.raises(UserQueryError):
        UserQuery.parse(q, "v3")


@pytest.mark.parametrize("engine", [None, "v1", "v2", "V3"])
def test_only_search_engine_v3(engine: str | None) -> None:
    with pytest.raises(UserQueryError, match="search_engine"):
        UserQuery.parse('username:"bob"', engine)


def test_a_user_looks_like_auth0s() -> None:
    bob = demo().user_by_id("auth0|bob")
    assert bob is not None
    assert user_json(bob) == {
        "user_id": "auth0|bob",
        "email": "bob@example.com",
        "email_verified": True,
        "username": "bob",
        "identities": [
            {"connection": DEMO_CONNECTION, "provider": "auth0", "user_id": "bob", "isSocial": False}
        ],
        "blocked": False,
    }


def test_a_username_logs_in_like_the_email_and_nothing_else_changes() -> None:
    directory = demo()
    assert directory.login_user(DEMO_CONNECTION, "BOB") is directory.user(DEMO_CONNECTION, "bob@example.com")
    assert directory.user(DEMO_CONNECTION, "bob") is None  # change_password and tickets take emails only
    assert directory.login_user(DEMO_CONNECTION, "alice") is None


def tenant(connection: dict[str, Any]) -> dict[str, Any]:
    return {
        "tenant": {"management_api_token": "t"},
        "clients": [{"client_id": "c", "client_secret": "s", "grant_types": ["password"]}],
        "connections": [{"name": "db", **connection}],
    }


def test_a_username_needs_requires_username() -> None:
    users = [{"email": "a@example.com", "username": "a", "password_hash": HASH}]
    with pytest.raises(ValidationError, match=r"connections\[0\].users: a username needs requires_username"):
        parse_tenant(tenant({"users": users}))
    (connection,) = parse_tenant(tenant({"requires_username": True, "users": users})).connections
    assert (connection.requires_username, connection.users[0].username) == (True, "a")


@pytest.mark.parametrize("second", ["A", "a@example.com"])
def test_a_username_is_unique_among_usernames_and_emails(second: str) -> None:
    users = [
        {"email": "a@example.com", "username": "a", "password_hash": HASH},
        {"email": "b@example.com", "username": second, "password_hash": HASH},
    ]
    with pytest.raises(ValidationError, match="repeats a username or email"):
        parse_tenant(tenant({"requires_username": True, "users": users}))
