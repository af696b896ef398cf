"""``RefreshStore`` without HTTP (``auth0_emulator/refresh.py``): the cap on live families per user
and client, and revocation of a whole grant, from the per-(user, client) index."""

from __future__ import annotations

from auth0_emulator.refresh import MAX_ACTIVE_PER_USER_AND_CLIENT, RefreshStore


def issue(store: RefreshStore, user: str = "u1", client: str = "c1", audience: str | None = "api") -> str:
    return store.issue(user_id=user, client_id=client, audience=audience, scopes=("offline_access",), now=0.0)


def test_the_oldest_family_beyond_the_cap_is_revoked_and_only_that_one() -> None:
    store = RefreshStore()
    tokens = [issue(store) for _ in range(MAX_ACTIVE_PER_USER_AND_CLIENT)]
    other = issue(store, user="u2")
    newest = issue(store)
    assert [store.family_of(token).revoked for token in (tokens[0], tokens[1], newest, other)] == [  # type: ignore[union-attr]
        True,
        False,
        False,
        False,
    ]


def test_a_family_revoked_earlier_frees_its_place_under_the_cap() -> None:
    store = RefreshStore()
    tokens = [issue(store) for _ in range(MAX_ACTIVE_PER_USER_AND_CLIENT)]
    assert store.revoke(tokens[5], "c1", whole_grant=False) == 1
    issue(store)
    assert not store.family_of(tokens[0]).revoked  # type: ignore[union-attr]


def test_revoking_the_whole_grant_takes_every_family_of_that_user_client_and_audience() -> None:
    store = RefreshStore()
    mine = [issue(store) for _ in range(3)]
    other_audience, other_user = issue(store, audience="other"), issue(store, user="u2")
    assert store.revoke(mine[0], "c1", whole_grant=True) == 3
    assert all(store.family_of(token).revoked for token in mine)  # type: ignore[union-attr]
    assert not store.family_of(other_audience).revoked  # type: ignore[union-attr]
    assert not store.family_of(other_user).revoked  # type: ignore[union-attr]
