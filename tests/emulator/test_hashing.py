"""``auth0_emulator/hashing.py``: bcrypt answers, remembered without keeping any password."""

from __future__ import annotations

from auth0_emulator import hashing


def test_answers_stay_right_when_remembered() -> None:
    stored = hashing.hash_password("right-password-1", rounds=4)
    for _ in range(2):  # the second round comes from memory
        assert hashing.verify_password("right-password-1", stored)
        assert not hashing.verify_password("wrong-password-1", stored)
    assert not hashing.verify_password("right-password-1", None)


def test_the_memory_of_answers_holds_no_password() -> None:
    password = "memo-password-" + "x" * 10
    stored = hashing.hash_password(password, rounds=4)
    hashing.verify_password(password, stored)
    assert hashing._RESULTS
    assert password not in repr(hashing._RESULTS)
    assert password.encode() not in b"".join(digest for _, digest in hashing._RESULTS)
