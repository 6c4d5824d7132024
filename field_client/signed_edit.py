"""One edit as the device writes it: the record revision, validated and signed,
and the journal entry that records it, signed too. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import schemas
from field_client.records import Photo, attachments_for, prepare
from field_client.records import revisions as rev_path
from field_client.settings import Settings
from sync import journal, signing
from sync.database import Doc
from sync.revid import new_rev

__all__ = ["signed_edit"]


def signed_edit(
    doc_id: str,
    record: Mapping[str, Any],
    old: Doc | None,
    photos: Mapping[str, Photo],
    prev: Doc | None,
    at: str,
    *,
    settings: Settings,
    signing_key: Ed25519PrivateKey,
) -> tuple[Doc, Doc]:
    """``record`` as an edit of ``old`` (its leaf ``record["_rev"]``; ``None``: new)
    and the journal entry after ``prev``, both as ``new_edits=false`` documents.

    Raises ``schemas.RecordInvalid`` when the record is not this officer's to save."""
    parent = record.get("_rev")
    attachments, digests = attachments_for(old, photos)
    if photos:
        record = {**record, "photos": sorted({*record.get("photos", ()), *photos})}
    s = settings
    body = prepare(
        record,
        old,
        officer_id=s.officer_id,
        role=s.role,
        station_id=s.station_id,
        beat_id=s.beat_id,
        at=at,
    )
    draft: Doc = {"_id": doc_id, **body}
    if attachments:
        # Signed with the photos in place: the signature covers their digests.
        draft["_attachments"] = attachments
    signed = signing.sign(draft, signing_key, s.device_id, parent=parent)
    # The rev any store makes for this edit (sync.revid), so the journal
    # entry can name it before either is written.
    rev = new_rev(parent, False, signed, digests)
    entry = _journal_entry(
        prev,
        signed,
        rev=rev,
        parent=parent,
        action="create" if old is None else "update",
        at=at,
        settings=s,
        signing_key=signing_key,
    )
    entry_rev = new_rev(None, False, entry)
    return (
        {**signed, "_rev": rev, "_revisions": rev_path(rev, parent)},
        {**entry, "_rev": entry_rev, "_revisions": rev_path(entry_rev, None)},
    )


def _journal_entry(
    prev: Doc | None,
    record: Doc,
    *,
    rev: str,
    parent: str | None,
    action: str,
    at: str,
    settings: Settings,
    signing_key: Ed25519PrivateKey,
) -> Doc:
    entry = journal.next_entry(
        prev,
        device_id=settings.device_id,
        record_id=record["_id"],
        record_type=record["type"],
        rev=rev,
        parent_rev=parent,
        action=action,
        at=at,
        envelope={
            "station_id": record["station_id"],
            "beat_id": record["beat_id"],
            "created_by": settings.officer_id,
            "created_at": at,
            "updated_by": settings.officer_id,
            "updated_at": at,
        },
    )
    schemas.validate(entry)
    return signing.sign(entry, signing_key, settings.device_id, parent=None)
