"""AES-256-GCM sealing of everything the replica stores: the store's ``BodyCodec``.

Every revision body, attachment and local document passes through
:class:`AesGcmCodec` on its way to disk. The store gives the associated data
(doc id and rev for a body, the digest for an attachment), which GCM
authenticates but does not store, so a sealed body copied onto another row
(another record or revision) fails to open instead of showing the wrong
record. Nonces are 96 random bits per seal (NIST SP 800-38D §8.2.2): with
one key per device, 2**32 seals stay far below the collision bound.
"""

from __future__ import annotations

import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from field_client.errors import SealBroken

__all__ = ["KEY_BYTES", "NONCE_BYTES", "AesGcmCodec", "new_data_key"]

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's native nonce size; other sizes are hashed down, slower and weaker
TAG_BYTES = 16


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


class AesGcmCodec:
    """``seal(aad, plaintext) -> nonce || ciphertext || tag``; ``open`` reverses it or raises."""

    __slots__ = ("_aead",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ValueError("an AES-256 key is 32 bytes")
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return "AesGcmCodec(<key hidden>)"

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, aad: bytes, sealed: bytes) -> bytes:
        if len(sealed) < NONCE_BYTES + TAG_BYTES:
            raise SealBroken()
        try:
            return self._aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], aad)
        except InvalidTag:
            raise SealBroken() from None
