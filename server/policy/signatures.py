"""Whose device made a revision: the Ed25519 signature check of the write policy.

A signature binds the record id, the body, its photos and the revision the
edit was made from (:mod:`sync.signing`). Here the gateway checks it against
the key registered at enrolment and checks that the parent the signature
names is the parent the revision really has, so an old signed body cannot be
replayed on top of a newer edit. Journal entries must be signed by the device
whose chain they extend, under that device's id and sequence number.
"""

from __future__ import annotations

from dataclasses import dataclass

from server.policy.access import DbScope
from server.policy.request_identities import Identities
from server.state.models import Device
from sync import journal, signing
from sync.database import Doc
from sync.errors import Forbidden

__all__ = ["Signature", "check_signature"]


@dataclass(frozen=True, slots=True)
class Signature:
    """How a revision's signature stood: ``device`` is the verified signer, or
    ``None`` for an unsigned revision the district accepts."""

    device: Device | None

    @property
    def status(self) -> str:
        return "unsigned" if self.device is None else "verified"


def _unsigned(doc: Doc, scope: DbScope, refuse_unsigned: bool) -> Signature:
    if doc.get("type") == journal.JOURNAL_TYPE:
        raise Forbidden("A journal entry must carry the signature of the device that made it.")
    if scope.principal.device is not None:
        raise Forbidden(
            "Unsigned revision: a write through an enrolled device must carry the"
            " device's Ed25519 signature."
        )
    if refuse_unsigned:
        raise Forbidden("This district refuses unsigned writes; sync through an enrolled device.")
    return Signature(None)


def _check_journal_binding(doc: Doc, signer: str) -> None:
    """Each chain is one device's own: no device may add to another's, or at
    another's place (the id names the device and the sequence number)."""
    device_id, seq = doc.get("device_id"), doc.get("seq")
    if device_id != signer:
        raise Forbidden(f"A journal entry of device {device_id!r} signed by {signer!r}.")
    if not isinstance(seq, int) or doc["_id"] != journal.entry_id(signer, seq):
        raise Forbidden(
            f"A journal entry of device {signer!r} must have the id"
            f" {journal.entry_id(signer, seq if isinstance(seq, int) else 0)!r}"
            " (its device and sequence number)."
        )


async def check_signature(
    doc: Doc,
    edited_rev: str | None,
    scope: DbScope,
    identities: Identities,
    *,
    refuse_unsigned: bool,
) -> Signature:
    """The verified signer of ``doc``, an edit of ``edited_rev`` (``None``: a new
    record), or ``Forbidden``."""
    signer = signing.signer_of(doc)
    if signer is None:
        return _unsigned(doc, scope, refuse_unsigned)
    device = await identities.get_device(signer)
    if device is None or device.revoked:
        raise Forbidden(f"Signed by device {signer!r}, which is not an enrolled device.")
    try:
        key = signing.public_key_from_b64(device.public_key)
    except ValueError:
        raise Forbidden(f"Device {signer!r} has no usable public key.") from None
    if not signing.verify(doc, key):
        raise Forbidden(f"The signature does not verify with device {signer!r}'s registered key.")
    signed_parent = signing.signed_parent(doc)
    if signed_parent != edited_rev:
        raise Forbidden(
            f"Device {signer!r} signed this body as an edit of"
            f" {signed_parent or 'nothing (a new record)'}, but here it edits"
            f" {edited_rev or 'nothing (a new record)'}: a signed body cannot be replayed"
            " onto another revision."
        )
    if doc.get("type") == journal.JOURNAL_TYPE:
        _check_journal_binding(doc, signer)
    return Signature(device)
