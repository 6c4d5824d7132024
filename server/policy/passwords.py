"""Password hashing with scrypt, a memory-hard KDF (RFC 7914).

Parameters n=2**14, r=8, p=1 (16 MiB per hash, ~50 ms here) are the ones the
``hashlib.scrypt`` docs and OWASP's cheat sheet give as the interactive-login
minimum; they are stored in every hash so they can be raised later without
invalidating old passwords. The KDF runs in a worker thread so a login never
stalls the event loop that serves every other device.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "dummy_hash",
    "hash_password",
    "hash_password_async",
    "verify_password",
    "verify_password_async",
]

MIN_PASSWORD_LENGTH = 8
_N, _R, _P = 2**14, 8, 1
_SALT_BYTES = 16
_KEY_BYTES = 32


def _kdf(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=_KEY_BYTES,
        maxmem=256 * 1024 * 1024,
    )


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$key`` (base64 fields), a fresh salt per password."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _kdf(password, salt, _N, _R, _P)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(key).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        actual = _kdf(password, base64.b64decode(salt), int(n), int(r), int(p))
    except (ValueError, TypeError):
        return False
    # Constant-time comparison: timing must not reveal how much of the key matched.
    return hmac.compare_digest(actual, expected)


@functools.cache
def dummy_hash() -> str:
    """A hash of no one's password, for logins of unknown ids: verifying against
    it costs the same KDF time as a real officer's hash (same parameters)."""
    return hash_password(secrets.token_urlsafe(16))


async def hash_password_async(password: str) -> str:
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password: str, stored: str) -> bool:
    return await asyncio.to_thread(verify_password, password, stored)
