"""The key file: the replica's data key, wrapped by the officer's passphrase.

Layout (JSON, beside the database, mode 0600)::

    {"format": "beatsync-keyfile", "version": 1,
     "kdf": {"name": "scrypt", "n": 32768, "r": 8, "p": 1, "salt": <b64 16 bytes>},
     "wrapped_key": <b64 nonce||AES-GCM(KEK, data key)>,
     "device_key": <b64 nonce||AES-GCM(data key, Ed25519 private key)>,
     "public_key": <b64 Ed25519 public key>}

The data key is random and never changes, so changing the passphrase rewraps
32 bytes instead of re-encrypting the database, and wiping destroys this one
file (crypto-shredding). The KEK is ``scrypt(passphrase, salt, n=2**15, r=8,
p=1)``: 32 MiB of memory and about 0.1 s on a laptop per unlock, RFC 7914's
interactive setting, so each guess at a stolen device's passphrase costs an
attacker the same. The KDF parameters are the wrap's associated data: a key
file edited to a cheaper cost no longer opens.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from field_client.errors import NoReplica, SealBroken, WrongPassphrase
from field_client.files import atomic_write, shred
from sync.codec import AesGcmCodec, new_data_key
from sync.errors import BadRequest
from sync.keywrap import SCRYPT_N, b64, new_kdf, unb64, unwrap_key, wrap_key
from sync.signing import public_key_to_b64

__all__ = [
    "MIN_PASSPHRASE_LENGTH",
    "SCRYPT_N",
    "Keyring",
    "change_passphrase",
    "create_keyfile",
    "destroy_keyfile",
    "unlock",
]

FORMAT = "beatsync-keyfile"
VERSION = 1
# Short enough to type on a tablet, long enough that scrypt makes guessing slow.
MIN_PASSPHRASE_LENGTH = 8
_DEVICE_KEY_AAD = b"beatsync\0device-key"
_SECRET_AAD = b"beatsync\0secret\0"


@dataclass(frozen=True, slots=True)
class Keyring:
    """What an unlocked replica holds in memory, and only there."""

    codec: AesGcmCodec
    signing_key: Ed25519PrivateKey

    @property
    def public_key_b64(self) -> str:
        return public_key_to_b64(self.signing_key)

    def seal_secret(self, name: str, value: str) -> str:
        """Seal a small secret (the device token) for the settings file."""
        return b64(self.codec.seal(_SECRET_AAD + name.encode(), value.encode()))

    def open_secret(self, name: str, sealed: str) -> str:
        return self.codec.open(_SECRET_AAD + name.encode(), unb64(sealed)).decode()


def _check_passphrase(passphrase: str) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise BadRequest(f"The passphrase must be at least {MIN_PASSPHRASE_LENGTH} characters.")
    return passphrase.encode("utf-8")


def _read(path: Path) -> dict[str, Any]:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise NoReplica() from None
    except orjson.JSONDecodeError:
        raise SealBroken("The key file is damaged; restore it or re-enrol the device.") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
        raise SealBroken("This is not a BeatSync key file (or a newer version of one).")
    return data


def _write(path: Path, data: dict[str, Any]) -> None:
    atomic_write(path, orjson.dumps(data, option=orjson.OPT_INDENT_2))


def _unwrap(data: dict[str, Any], passphrase: str) -> bytes:
    try:
        return unwrap_key(data["wrapped_key"], passphrase, data["kdf"])
    except SealBroken:
        # GCM cannot tell a wrong passphrase from an edited file; the first is what happens.
        raise WrongPassphrase() from None


def create_keyfile(
    path: Path,
    passphrase: str,
    *,
    scrypt_n: int = SCRYPT_N,
    signing_key: Ed25519PrivateKey | None = None,
) -> Keyring:
    """A new data key and device signing key (``signing_key``, made before when the
    device enrolled first), wrapped under ``passphrase``, written to ``path``."""
    secret = _check_passphrase(passphrase).decode("utf-8")
    data_key = new_data_key()
    codec = AesGcmCodec(data_key)
    signing_key = signing_key or Ed25519PrivateKey.generate()
    raw_private = signing_key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    kdf = new_kdf(scrypt_n)
    _write(
        path,
        {
            "format": FORMAT,
            "version": VERSION,
            "kdf": kdf,
            "wrapped_key": wrap_key(data_key, secret, kdf),
            "device_key": b64(codec.seal(_DEVICE_KEY_AAD, raw_private)),
            "public_key": public_key_to_b64(signing_key),
        },
    )
    return Keyring(codec, signing_key)


def unlock(path: Path, passphrase: str) -> Keyring:
    """The keyring in ``path``; ``WrongPassphrase`` (nothing changed) if it does not open."""
    data = _read(path)
    codec = AesGcmCodec(_unwrap(data, passphrase))
    raw_private = codec.open(_DEVICE_KEY_AAD, unb64(data["device_key"]))
    return Keyring(codec, Ed25519PrivateKey.from_private_bytes(raw_private))


def change_passphrase(path: Path, old: str, new: str) -> None:
    """Rewrap the same data key under ``new`` with a fresh salt; the database is untouched."""
    secret = _check_passphrase(new).decode("utf-8")
    data = _read(path)
    data_key = _unwrap(data, old)
    kdf = new_kdf(int(data["kdf"]["n"]))
    _write(path, {**data, "kdf": kdf, "wrapped_key": wrap_key(data_key, secret, kdf)})


def destroy_keyfile(path: Path) -> None:
    """Crypto-shredding: without this file's wrapped key nothing sealed can be opened."""
    shred(path)
