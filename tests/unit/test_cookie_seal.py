"""Unit tests of ropguard.cookie_seal: values that only the stack's keys open, under their cookie's name,
until their expiry, through a rotation; the keys read through the shared cached secret reader."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ropguard.cookie_seal import (
    KEY_ID_BYTES,
    MAX_VALUE_CHARS,
    NONCE_BYTES,
    CookieKeys,
    CookieSealer,
    SecretKeySource,
    derive_key,
    keys_from_secret,
)
from ropguard.credentials import CachedSecret
from ropguard.errors import SecretUnavailableError

ROOT = Path(__file__).resolve().parents[2]
COOKIE = "__Host-ropguard-rt"
TOKEN = "v1.refresh-token-seal-test-never-log-me-Hq7"
OLD_MATERIAL = "old-cookie-key-material-never-log-me-0123456789abcdef"
NEW_MATERIAL = "new-cookie-key-material-never-log-me-fedcba9876543210"
NOW = 1_900_000_000
LATER = NOW + 3600


@pytest.fixture(autouse=True)
def _register_secrets(secret_registry: Any) -> None:
    secret_registry.add("secret", TOKEN, OLD_MATERIAL, NEW_MATERIAL)


class StaticKeys:
    """A key source holding fixed keys; counts the forced re-reads it was asked for."""

    def __init__(self, keys: CookieKeys) -> None:
        self.current = keys
        self.refreshes = 0

    def keys(self, *, refresh: bool = False) -> CookieKeys:
        self.refreshes += refresh
        return self.current


def sealer(
    material: str = NEW_MATERIAL, *, name: str = COOKIE, now: float = NOW, **kwargs: Any
) -> CookieSealer:
    return CookieSealer(name, StaticKeys(CookieKeys(derive_key(material))), clock=lambda: now, **kwargs)


def raw(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def test_a_sealed_value_opens_to_the_token_and_its_expiry() -> None:
    seal = sealer()
    opened = seal.open(seal.seal(TOKEN, LATER))
    assert opened is not None
    assert (opened.refresh_token, opened.expires_at) == (TOKEN, LATER)
    assert TOKEN not in repr(opened)


def test_the_value_is_cookie_safe_and_never_holds_the_token() -> None:
    value = sealer().seal(TOKEN, LATER)
    assert TOKEN not in value
    assert TOKEN.encode() not in raw(value)
    assert set(value) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_each_seal_takes_a_fresh_96_bit_nonce() -> None:
    drawn: list[int] = []

    def random_bytes(size: int) -> bytes:
        drawn.append(size)
        return bytes([len(drawn)]) * size

    seal = sealer(random_bytes=random_bytes)
    first, second = seal.seal(TOKEN, LATER), seal.seal(TOKEN, LATER)
    assert drawn == [NONCE_BYTES, NONCE_BYTES]
    assert NONCE_BYTES * 8 == 96
    header = 1 + KEY_ID_BYTES
    assert raw(first)[header : header + NONCE_BYTES] == b"\x01" * NONCE_BYTES
    assert raw(second)[header : header + NONCE_BYTES] == b"\x02" * NONCE_BYTES
    assert first != second
    real = sealer()
    assert real.seal(TOKEN, LATER) != real.seal(TOKEN, LATER)


def test_every_changed_byte_is_refused() -> None:
    seal = sealer()
    data = raw(seal.seal(TOKEN, LATER))
    for index in range(len(data)):
        changed = bytearray(data)
        changed[index] ^= 0x01
        assert seal.open(encode(bytes(changed))) is None, index


def test_a_value_is_bound_to_its_cookie_name() -> None:
    value = sealer(name="__Host-other").seal(TOKEN, LATER)
    assert sealer().open(value) is None


def test_another_key_does_not_open_it() -> None:
    value = sealer(OLD_MATERIAL).seal(TOKEN, LATER)
    assert sealer(NEW_MATERIAL).open(value) is None


def test_an_expired_value_does_not_open() -> None:
    value = sealer().seal(TOKEN, LATER)
    assert sealer(now=LATER - 1).open(value) is not None
    assert sealer(now=LATER).open(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a",
        "!!!!",
        "é" * 40,
        "A" * (MAX_VALUE_CHARS + 1),
        encode(b"\x02" + b"\x00" * 60),
        encode(b"\x01" * 20),
    ],
)
def test_garbage_does_not_open(value: str) -> None:
    assert sealer().open(value) is None


def test_a_token_too_long_for_a_cookie_is_refused() -> None:
    with pytest.raises(ValueError, match="does not fit in a cookie"):
        sealer().seal("x" * 4000, LATER)


# --- keys from the secret ---------------------------------------------------------------------------


class Reader:
    """The secret reader CachedSecret reads through: a fixed SecretString, reads counted."""

    def __init__(self, value: str) -> None:
        self.value = value
        self.reads = 0

    def read(self, secret_id: str, stage: str) -> str | None:
        self.reads += 1
        return self.value


def secret_json(current: str, previous: str | None = None) -> str:
    return json.dumps({"current": current, **({"previous": previous} if previous else {})})


def test_the_previous_key_still_opens_after_a_rotation() -> None:
    reader = Reader(secret_json(OLD_MATERIAL))
    source = SecretKeySource(CachedSecret("cookie-key", max_age_seconds=300, reader=reader))
    seal = CookieSealer(COOKIE, source, clock=lambda: NOW)
    before = seal.seal(TOKEN, LATER)
    reader.value = secret_json(NEW_MATERIAL, OLD_MATERIAL)  # the rotation: new current, old previous
    after = CookieSealer(
        COOKIE, SecretKeySource(CachedSecret("cookie-key", max_age_seconds=300, reader=reader))
    )
    opened = after.open(before)
    assert opened is not None
    assert opened.refresh_token == TOKEN
    resealed = after.seal(TOKEN, LATER)
    assert (
        raw(resealed)[1 : 1 + KEY_ID_BYTES] != raw(before)[1 : 1 + KEY_ID_BYTES]
    )  # sealed under the new key
    reader.value = secret_json(NEW_MATERIAL)  # the old key retired
    retired = CookieSealer(
        COOKIE, SecretKeySource(CachedSecret("cookie-key", max_age_seconds=300, reader=reader))
    )
    assert retired.open(before) is None
    assert retired.open(resealed) is not None


def test_an_unknown_key_id_rereads_the_secret_at_most_once_per_window() -> None:
    reader = Reader(secret_json(OLD_MATERIAL))
    clock = [1000.0]
    cached = CachedSecret("cookie-key", max_age_seconds=300, reader=reader, clock=lambda: clock[0])
    source = SecretKeySource(cached, reread_after_seconds=30, clock=lambda: clock[0])
    old = CookieSealer(COOKIE, source, clock=lambda: NOW)
    newer = sealer(NEW_MATERIAL).seal(TOKEN, LATER)  # another container already seals with the new key
    assert old.open(newer) is None
    assert reader.reads == 2  # the first read, then one forced re-read
    assert old.open(newer) is None
    assert old.open(newer) is None
    assert reader.reads == 2  # not again within the window
    reader.value = secret_json(NEW_MATERIAL, OLD_MATERIAL)
    clock[0] += 30
    opened = old.open(newer)
    assert opened is not None
    assert opened.refresh_token == TOKEN
    assert reader.reads == 3


def test_keys_are_derived_once_per_secret_value() -> None:
    reader = Reader(secret_json(OLD_MATERIAL))
    source = SecretKeySource(CachedSecret("cookie-key", max_age_seconds=0, reader=reader))
    assert source.keys() is source.keys()
    assert reader.reads == 2


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("not json " + OLD_MATERIAL, "does not hold JSON"),
        (json.dumps([OLD_MATERIAL]), "does not hold a JSON object"),
        (json.dumps({"key": OLD_MATERIAL}), "has no string 'current'"),
        (json.dumps({"current": OLD_MATERIAL, "previous": 7}), "'previous' must be a string"),
        (json.dumps({"current": "too-short-never-log-me"}), "at least 32 characters"),
    ],
)
def test_an_unusable_secret_is_unavailable_without_its_value(secret: str, problem: str) -> None:
    with pytest.raises(SecretUnavailableError, match=problem) as raised:
        keys_from_secret(secret, "cookie-key")
    assert OLD_MATERIAL not in str(raised.value)
    assert "never-log-me" not in str(raised.value)


def test_the_same_previous_as_current_is_one_key() -> None:
    keys = keys_from_secret(secret_json(OLD_MATERIAL, OLD_MATERIAL))
    assert keys.previous is None


def test_importing_the_module_does_not_import_cryptography() -> None:
    code = "import sys, ropguard.cookie_seal; print('cryptography' in sys.modules)"
    result = subprocess.run(  # noqa: S603 - this venv's interpreter, our own code
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "False"
