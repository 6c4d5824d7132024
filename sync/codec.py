"""How a store turns document bytes into what it writes to disk, and back.

The embedded store passes every revision body, attachment blob and local
document through a :class:`BodyCodec` with *associated data* naming the row it
belongs to. The encrypted field replica plugs in an AEAD (AES-256-GCM) here, so
no record text reaches the database file or its WAL; the associated data makes
a sealed body copied onto another row (another doc or revision) fail to open
instead of showing the wrong record. :class:`PlainCodec` stores bytes as they
are, for servers whose disk is protected by other means.

:class:`AesGcmCodec` is the one AEAD codec of the project: the field replica,
the station hub and (with ``serve --encrypt-at-rest``) the district's
embedded store all seal with it. Nonces are 96 random bits per seal (NIST SP
800-38D §8.2.2): with one key per machine, 2**32 seals stay far below the
collision bound.
"""

from __future__ import annotations

import os
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync.errors import SealBroken

__all__ = [
    "KEY_BYTES",
    "NONCE_BYTES",
    "AesGcmCodec",
    "BodyCodec",
    "PlainCodec",
    "attachment_aad",
    "body_aad",
    "local_aad",
    "new_data_key",
]

KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # GCM's native nonce size; other sizes are hashed down, slower and weaker
TAG_BYTES = 16


class BodyCodec(Protocol):
    def seal(self, aad: bytes, plaintext: bytes) -> bytes: ...

    def open(self, aad: bytes, sealed: bytes) -> bytes:
        """The plaintext ``seal`` was given; raises when ``sealed`` or ``aad`` was altered."""
        ...


class PlainCodec:
    """The identity codec: what is sealed is what is stored."""

    __slots__ = ()

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        return plaintext

    def open(self, aad: bytes, sealed: bytes) -> bytes:
        return sealed

    def __repr__(self) -> str:
        return "PlainCodec()"


def new_data_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


class AesGcmCodec:
    """``seal(aad, plaintext) -> nonce || ciphertext || tag``; ``open`` reverses it
    or raises :class:`~sync.errors.SealBroken`."""

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


# One function per kind of row, so the store and any tool that reads its file
# (a key-rotation script, a forensic check) compute the same associated data.


def body_aad(doc_id: str, rev: str) -> bytes:
    """A revision body is bound to its document and revision."""
    return doc_id.encode() + b"\0" + rev.encode()


def attachment_aad(digest: str) -> bytes:
    """An attachment blob is bound to its content digest (blobs are shared by digest)."""
    return b"att\0" + digest.encode()


def local_aad(doc_id: str) -> bytes:
    """A local document is bound to its id (``_local/...``)."""
    return b"local\0" + doc_id.encode()
