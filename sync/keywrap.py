"""A random data key wrapped under a passphrase, for the key files of devices and hubs.

The key-encryption key is ``scrypt(passphrase, salt, n, r=8, p=1)`` (RFC 7914);
``n=2**15`` is 32 MiB and about 0.1 s per unlock, the interactive setting, so
each guess at a stolen machine's passphrase costs an attacker the same. The
KDF parameters are the wrap's associated data: a key file edited to a cheaper
cost no longer opens. The data key itself is random and never changes, so a
new passphrase rewraps 32 bytes instead of re-sealing a database.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from sync.codec import KEY_BYTES, AesGcmCodec
from sync.errors import SealBroken
from sync.revid import canonical_json

__all__ = ["SCRYPT_N", "b64", "new_kdf", "unb64", "unwrap_key", "wrap_key"]

SCRYPT_N = 2**15
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
_DAMAGED = "The key file is damaged."


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: Any) -> bytes:
    """Bytes from base64; a key file field that is not base64 is a damaged file."""
    try:
        return base64.b64decode(str(text), validate=True)
    except (binascii.Error, ValueError):
        raise SealBroken(_DAMAGED) from None


def new_kdf(n: int = SCRYPT_N) -> dict[str, Any]:
    """Fresh scrypt parameters (a new salt) for one wrap."""
    return {
        "name": "scrypt",
        "n": n,
        "r": SCRYPT_R,
        "p": SCRYPT_P,
        "salt": b64(os.urandom(SALT_BYTES)),
    }


def _kek(passphrase: str, kdf: dict[str, Any]) -> AesGcmCodec:
    try:
        derived = Scrypt(
            salt=unb64(kdf["salt"]),
            length=KEY_BYTES,
            n=int(kdf["n"]),
            r=int(kdf["r"]),
            p=int(kdf["p"]),
        ).derive(passphrase.encode("utf-8"))
    except (KeyError, TypeError, ValueError):
        raise SealBroken(_DAMAGED) from None
    return AesGcmCodec(derived)


def _aad(kdf: dict[str, Any]) -> bytes:
    return b"beatsync\0wrapped-key\0" + canonical_json(kdf)


def wrap_key(data_key: bytes, passphrase: str, kdf: dict[str, Any]) -> str:
    """``data_key`` sealed under ``passphrase`` with ``kdf`` (from :func:`new_kdf`), base64."""
    return b64(_kek(passphrase, kdf).seal(_aad(kdf), data_key))


def unwrap_key(wrapped: Any, passphrase: str, kdf: dict[str, Any]) -> bytes:
    """The data key :func:`wrap_key` sealed; ``SealBroken`` for a wrong passphrase
    or an edited file (GCM cannot tell them apart)."""
    return _kek(passphrase, kdf).open(_aad(kdf), unb64(wrapped))
