"""Password hashes: bcrypt, as Auth0 database connections use; the tenant file never holds a password."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import bcrypt

# bcrypt only reads the first 72 bytes; Auth0 caps database passwords at 72 bytes too, so longer
# passwords never match instead of silently matching on a prefix.
MAX_PASSWORD_BYTES = 72

# Verifying against this when the user does not exist keeps "unknown user" and "wrong password"
# equally slow, as the answers are equal.
_DUMMY_HASH = bcrypt.hashpw(b"no such user", bcrypt.gensalt(rounds=4))


def hash_password(password: str, rounds: int) -> str:
    encoded = password.encode("utf-8")
    if len(encoded) > MAX_PASSWORD_BYTES:
        raise ValueError(f"password longer than {MAX_PASSWORD_BYTES} bytes")
    return bcrypt.hashpw(encoded, bcrypt.gensalt(rounds=rounds)).decode("ascii")


# Results of bcrypt checks, keyed by the stored hash and a keyed digest of the password (never
# the password itself): a load run sends the same few passwords thousands of times, and its CPU
# should go to ropguard, not to recomputing one bcrypt answer. Answers stay the same.
_DIGEST_KEY = secrets.token_bytes(32)
_MAX_RESULTS = 4096
_RESULTS: dict[tuple[str, bytes], bool] = {}


def verify_password(password: str, password_hash: str | None) -> bool:
    encoded = password.encode("utf-8")
    if password_hash is None or len(encoded) > MAX_PASSWORD_BYTES:
        bcrypt.checkpw(b"no such user", _DUMMY_HASH)
        return False
    key = (password_hash, hmac.new(_DIGEST_KEY, encoded, hashlib.sha256).digest())
    known = _RESULTS.get(key)
    if known is None:
        known = bcrypt.checkpw(encoded, password_hash.encode("ascii"))
        if len(_RESULTS) >= _MAX_RESULTS:
            _RESULTS.clear()
        _RESULTS[key] = known
    return known


def is_bcrypt_hash(text: str) -> bool:
    return text.startswith(("$2a$", "$2b$", "$2y$")) and len(text) == 60
