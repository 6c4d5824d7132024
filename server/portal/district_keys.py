"""The district's certificate signing keys: ``beatsync-server keys create|rotate``.

Private keys are files in ``DATA/district-keys/`` (owner-only, never in a
database, like the audit key); the public keys are published in the
gateway's settings with the time each was made and retired. Rotating makes
a new key the one that signs; retired keys stay published, so every
certificate they signed keeps verifying.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from server.state.interface import Settings
from server.state.timestamps import utc_now
from sync.errors import Conflict, ServiceUnavailable
from sync.signing import public_key_from_b64, public_key_to_b64

__all__ = [
    "KEYS_DIR",
    "PublishedKey",
    "create_key",
    "public_keys",
    "published_keys",
    "revoke_certificate",
    "revoked_certificates",
    "signing_key",
]

KEYS_DIR = "district-keys"
_SETTING = "portal.keys"
_REVOKED = "portal.revoked"


@dataclass(frozen=True, slots=True)
class PublishedKey:
    kid: str
    public: str  # base64 of the raw 32 bytes
    created: str
    retired: str | None = None


def _kid(public: str) -> str:
    return hashlib.sha256(public.encode()).hexdigest()[:12]


async def published_keys(settings: Settings) -> list[PublishedKey]:
    raw = await settings.get_setting(_SETTING)
    return [PublishedKey(**item) for item in json.loads(raw)] if raw else []


async def public_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    return {k.kid: public_key_from_b64(k.public) for k in await published_keys(settings)}


async def create_key(settings: Settings, data_dir: Path, *, rotate: bool) -> PublishedKey:
    """A new signing key; ``rotate`` retires the current one (else there must be none)."""
    keys = await published_keys(settings)
    active = [k for k in keys if k.retired is None]
    if active and not rotate:
        raise Conflict(f"the district already has signing key {active[0].kid}; use keys rotate")
    private = Ed25519PrivateKey.generate()
    public = public_key_to_b64(private)
    new = PublishedKey(_kid(public), public, utc_now())
    folder = data_dir / KEYS_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    fd = os.open(folder / f"{new.kid}.pem", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    now = utc_now()
    kept = [PublishedKey(k.kid, k.public, k.created, k.retired or now) for k in keys]
    await settings.set_setting(_SETTING, json.dumps([asdict(k) for k in [*kept, new]]))
    return new


async def signing_key(settings: Settings, data_dir: Path) -> tuple[str, Ed25519PrivateKey]:
    """The active key's id and private key; 503 until an admin created one."""
    active = [k for k in await published_keys(settings) if k.retired is None]
    path = data_dir / KEYS_DIR / f"{active[0].kid}.pem" if active else None
    if path is None or not path.exists():
        raise ServiceUnavailable(
            "no district signing key on this gateway: run `beatsync-server keys create`"
        )
    key = load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, Ed25519PrivateKey)
    return active[0].kid, key


async def revoked_certificates(settings: Settings) -> set[str]:
    raw = await settings.get_setting(_REVOKED)
    return set(json.loads(raw)) if raw else set()


async def revoke_certificate(settings: Settings, certificate_id: str) -> None:
    revoked = await revoked_certificates(settings) | {certificate_id}
    await settings.set_setting(_REVOKED, json.dumps(sorted(revoked)))
