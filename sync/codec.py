"""How a store turns document bytes into what it writes to disk, and back.

The embedded store passes every revision body, attachment blob and local
document through a :class:`BodyCodec` with *associated data* naming the row it
belongs to. The encrypted field replica plugs in an AEAD (AES-256-GCM) here, so
no record text reaches the database file or its WAL; the associated data makes
a sealed body copied onto another row (another doc or revision) fail to open
instead of showing the wrong record. :class:`PlainCodec` stores bytes as they
are, for servers whose disk is protected by other means.
"""

from __future__ import annotations

from typing import Protocol

__all__ = ["BodyCodec", "PlainCodec", "attachment_aad", "body_aad", "local_aad"]


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
