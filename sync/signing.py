"""Ed25519 signatures on revisions: the centre can tell which device wrote what.

A device signs every revision it makes; the gateway verifies it against the
key registered at enrolment. The signature travels inside the document as a
``signature`` field (CouchDB refuses unknown ``_`` fields), so it replicates
with the revision through any CouchDB-compatible peer.

What is signed: the document id, the revision the edit was made from
(``parent``, ``None`` for a new record), whether the revision deletes, the
user fields of the body without the signature itself, and the digest of every
attachment (so a photo cannot be swapped under a valid signature), as
canonical JSON. Binding the id stops a valid signature from being replayed
onto another record; binding the parent stops an old signed body from being
replayed on top of a newer edit of the same record (the gateway checks that
the parent a signature names is the one the revision edits).
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sync.attachments import digest_of
from sync.revid import canonical_json, user_fields

__all__ = [
    "SIGNATURE_ALG",
    "SIGNATURE_FIELD",
    "public_key_from_b64",
    "public_key_to_b64",
    "sign",
    "signed_parent",
    "signer_of",
    "signing_payload",
    "verify",
]

SIGNATURE_FIELD = "signature"
SIGNATURE_ALG = "ed25519"


def signing_payload(doc: Mapping[str, Any], parent: str | None) -> bytes:
    body = user_fields(doc)
    body.pop(SIGNATURE_FIELD, None)
    return canonical_json(
        {
            "_id": doc.get("_id"),
            "parent": parent,
            "_deleted": bool(doc.get("_deleted", False)),
            "body": body,
            "attachments": _attachment_digests(doc.get("_attachments")),
        }
    )


def _attachment_digests(attachments: object) -> dict[str, str | None]:
    """``{name: digest}``: a stub names its digest, inline data is hashed here.

    Replication carries a revision's attachments inline or as stubs with their
    digest, so signer and verifier reach the same digests either way; what
    cannot be hashed (malformed data, a stub without digest) signs as ``None``.
    """
    if not isinstance(attachments, Mapping):
        return {}
    digests: dict[str, str | None] = {}
    for name, info in attachments.items():
        digest = info.get("digest") if isinstance(info, Mapping) else None
        data = info.get("data") if isinstance(info, Mapping) else None
        if isinstance(data, str):
            try:
                digest = digest_of(base64.b64decode(data, validate=True))
            except (binascii.Error, ValueError):
                digest = None
        digests[str(name)] = digest if isinstance(digest, str) else None
    return digests


def sign(
    doc: Mapping[str, Any], private_key: Ed25519PrivateKey, device_id: str, *, parent: str | None
) -> dict[str, Any]:
    """A copy of ``doc`` carrying the device's signature over it, as an edit of
    revision ``parent`` (``None``: a new record)."""
    value = private_key.sign(signing_payload(doc, parent))
    return {
        **doc,
        SIGNATURE_FIELD: {
            "device_id": device_id,
            "alg": SIGNATURE_ALG,
            "parent": parent,
            "value": base64.b64encode(value).decode("ascii"),
        },
    }


def signer_of(doc: Mapping[str, Any]) -> str | None:
    """The device id the document claims signed it (unverified), if any."""
    signature = doc.get(SIGNATURE_FIELD)
    if isinstance(signature, Mapping) and isinstance(signature.get("device_id"), str):
        return str(signature["device_id"])
    return None


def signed_parent(doc: Mapping[str, Any]) -> str | None:
    """The parent revision the document's signature says it edits (unverified)."""
    signature = doc.get(SIGNATURE_FIELD)
    parent = signature.get("parent") if isinstance(signature, Mapping) else None
    return parent if isinstance(parent, str) else None


def verify(doc: Mapping[str, Any], public_key: Ed25519PublicKey) -> bool:
    """Whether ``doc`` carries a valid signature by ``public_key`` (over the parent
    the signature names); never raises on bad input."""
    signature = doc.get(SIGNATURE_FIELD)
    if not isinstance(signature, Mapping) or signature.get("alg") != SIGNATURE_ALG:
        return False
    value, parent = signature.get("value"), signature.get("parent")
    if not isinstance(value, str) or not (parent is None or isinstance(parent, str)):
        return False
    try:
        public_key.verify(base64.b64decode(value, validate=True), signing_payload(doc, parent))
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def public_key_to_b64(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


@functools.lru_cache(maxsize=4096)
def public_key_from_b64(text: str) -> Ed25519PublicKey:
    """Parse a registered key; a malformed one raises ``ValueError``.

    Cached (keys are immutable): the gateway parses the signer's key for every
    pushed revision, and a district has a few thousand devices."""
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, TypeError) as exc:
        raise ValueError("public key is not base64") from exc
    if len(raw) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return Ed25519PublicKey.from_public_bytes(raw)
