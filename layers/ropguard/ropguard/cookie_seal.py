"""The refresh-token cookie's value: the token sealed with AES-256-GCM, never the token itself.

Cookie mode (``TokenDelivery=cookie``) keeps the refresh token out of page script: it travels in
an ``HttpOnly`` cookie whose value only the stack can open. A value is::

    base64url( version | key id | nonce | AES-256-GCM(expires_at | refresh token) )

* **Authenticated**: GCM's tag rejects any changed byte; the additional data binds the version,
  the key id and the cookie's name, so a value cut from another cookie does not open as this one.
* **A fresh random 96-bit nonce per seal** (NIST SP 800-38D's recommended IV length).
* **Keyed and versioned**: the key secret (Secrets Manager, JSON) holds ``current`` and,
  after a rotation, ``previous``; values are sealed under ``current`` and opened by whichever
  key their id names, so cookies sealed before a rotation keep working. An id neither key has
  re-reads the secret (at most once per ``reread_after_seconds``: another container may already
  seal with a newer key), never per request.
* **Expiring**: the absolute expiry travels sealed inside, so a copied value stops opening when
  the cookie's ``Max-Age`` would have ended it, and a rotated cookie keeps the first one's expiry.

A value that does not open is ``None``, never an exception: the edge answers it as it answers no
cookie at all. Nothing here logs, and no message holds a key or a value. ``cryptography`` is
imported on the first use, so only cookie mode pays for it.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Protocol

from ropguard.errors import SecretUnavailableError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

VERSION: Final = 1
KEY_ID_BYTES: Final = 4
NONCE_BYTES: Final = 12  # 96 bits
TAG_BYTES: Final = 16
_EXPIRY: Final = struct.Struct(">Q")
_HEADER_BYTES: Final = 1 + KEY_ID_BYTES + NONCE_BYTES
#: Key material shorter than this is refused: it is the whole strength of the seal.
MIN_KEY_MATERIAL_CHARS: Final = 32
#: Browsers keep cookies up to 4096 bytes (name, value and attributes together; RFC 6265 section 6.1).
MAX_VALUE_CHARS: Final = 3800
_HKDF_INFO: Final = b"ropguard cookie seal v1"
#: The JSON fields of the key secret.
CURRENT_FIELD: Final = "current"
PREVIOUS_FIELD: Final = "previous"


@dataclass(frozen=True, slots=True)
class SealKey:
    """One AES-256 key and the public id cookies sealed under it carry."""

    key_id: bytes
    aead: AESGCM = field(repr=False)


@dataclass(frozen=True, slots=True)
class CookieKeys:
    """The key that seals, and every key that opens (current first)."""

    current: SealKey
    previous: SealKey | None = None

    def by_id(self, key_id: bytes) -> SealKey | None:
        for key in (self.current, self.previous):
            if key is not None and key.key_id == key_id:
                return key
        return None


def derive_key(material: str) -> SealKey:
    """HKDF-SHA256 over the secret's text: 32 bytes of key and 4 of id from one expansion.

    The secret is text (Secrets Manager generates text); HKDF turns any long enough text into a
    uniform key, and the id comes from the same output, so it says nothing of the key's bytes.
    """
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: PLC0415 - cookie mode only
    from cryptography.hazmat.primitives.hashes import SHA256  # noqa: PLC0415
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF  # noqa: PLC0415

    if len(material) < MIN_KEY_MATERIAL_CHARS:
        raise SecretUnavailableError(
            f"cookie key material must be at least {MIN_KEY_MATERIAL_CHARS} characters"
        )
    derived = HKDF(algorithm=SHA256(), length=32 + KEY_ID_BYTES, salt=None, info=_HKDF_INFO).derive(
        material.encode("utf-8")
    )
    return SealKey(key_id=derived[32:], aead=AESGCM(derived[:32]))


def keys_from_secret(
    secret_string: str | None,
    secret_id: str = "the cookie key secret",  # noqa: S107 - a name, not a value
) -> CookieKeys:
    """``{"current": "...", "previous": "..."}`` (previous optional) → the keys; errors name no value."""
    try:
        value = json.loads(secret_string or "")
    except ValueError:
        raise SecretUnavailableError(f"{secret_id} does not hold JSON") from None
    if not isinstance(value, dict):
        raise SecretUnavailableError(f"{secret_id} does not hold a JSON object")
    current, previous = value.get(CURRENT_FIELD), value.get(PREVIOUS_FIELD)
    if not isinstance(current, str):
        raise SecretUnavailableError(f"{secret_id} has no string {CURRENT_FIELD!r}")
    if previous is not None and not isinstance(previous, str):
        raise SecretUnavailableError(f"{secret_id}: {PREVIOUS_FIELD!r} must be a string")
    current_key = derive_key(current)
    previous_key = derive_key(previous) if previous and previous != current else None
    return CookieKeys(current_key, previous_key)


class KeySource(Protocol):
    """Where the sealer gets its keys; ``refresh`` asks for a fresh read (an unknown key id)."""

    def keys(self, *, refresh: bool = False) -> CookieKeys: ...


class SecretStages(Protocol):
    """``ropguard.credentials.CachedSecret``'s reading side."""

    secret_id: str

    def value(self, stage: str = "AWSCURRENT", *, refresh: bool = False) -> str | None: ...


class SecretKeySource:
    """The keys in one Secrets Manager secret, through the shared cached reader.

    Keys are derived once per secret value, not per request; a forced re-read happens at most once
    per ``reread_after_seconds``, so cookies with made-up key ids cannot make every request a
    Secrets Manager call.
    """

    def __init__(
        self,
        secret: SecretStages,
        *,
        reread_after_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret = secret
        self._reread_after = reread_after_seconds
        self._clock = clock
        self._raw: str | None = None
        self._keys: CookieKeys | None = None
        self._last_forced: float | None = None

    def keys(self, *, refresh: bool = False) -> CookieKeys:
        force = False
        if refresh:
            now = self._clock()
            if self._last_forced is None or now - self._last_forced >= self._reread_after:
                self._last_forced, force = now, True
        raw = self._secret.value(refresh=force)
        if self._keys is None or raw != self._raw:
            self._keys, self._raw = keys_from_secret(raw, self._secret.secret_id), raw
        return self._keys


@dataclass(frozen=True, slots=True)
class Opened:
    """What a cookie held: the refresh token and when the cookie ends (Unix seconds)."""

    refresh_token: str = field(repr=False)
    expires_at: int


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes | None:
    if not text.isascii():
        return None
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        return None


class CookieSealer:
    """Seals and opens the values of one cookie (its name is bound into every value)."""

    def __init__(
        self,
        cookie_name: str,
        keys: KeySource,
        *,
        clock: Callable[[], float] = time.time,
        random_bytes: Callable[[int], bytes] = os.urandom,
    ) -> None:
        self.cookie_name = cookie_name
        self._keys = keys
        self._clock = clock
        self._random = random_bytes

    def _aad(self, header: bytes) -> bytes:
        return header[: 1 + KEY_ID_BYTES] + self.cookie_name.encode("utf-8")

    def seal(self, refresh_token: str, expires_at: int) -> str:
        """The cookie value for ``refresh_token``, opening until ``expires_at`` (Unix seconds)."""
        key = self._keys.keys().current
        header = bytes([VERSION]) + key.key_id + self._random(NONCE_BYTES)
        plaintext = _EXPIRY.pack(expires_at) + refresh_token.encode("utf-8")
        value = _b64encode(header + key.aead.encrypt(header[-NONCE_BYTES:], plaintext, self._aad(header)))
        if len(value) > MAX_VALUE_CHARS:
            raise ValueError(f"a sealed value of {len(value)} characters does not fit in a cookie")
        return value

    def open(self, value: str) -> Opened | None:
        """The token and expiry in ``value``; None when it is malformed, forged, foreign or expired."""
        from cryptography.exceptions import InvalidTag  # noqa: PLC0415 - cookie mode only

        if len(value) > MAX_VALUE_CHARS:
            return None
        data = _b64decode(value)
        if data is None or len(data) < _HEADER_BYTES + TAG_BYTES + _EXPIRY.size or data[0] != VERSION:
            return None
        header, sealed = data[:_HEADER_BYTES], data[_HEADER_BYTES:]
        key_id = header[1 : 1 + KEY_ID_BYTES]
        key = self._keys.keys().by_id(key_id) or self._keys.keys(refresh=True).by_id(key_id)
        if key is None:
            return None
        try:
            plaintext = key.aead.decrypt(header[-NONCE_BYTES:], sealed, self._aad(header))
        except InvalidTag:
            return None
        (expires_at,) = _EXPIRY.unpack_from(plaintext)
        if expires_at <= self._clock():
            return None
        try:
            token = plaintext[_EXPIRY.size :].decode("utf-8")
        except UnicodeDecodeError:
            return None
        return Opened(token, expires_at) if token else None
