"""Turning what the officer typed into a record revision the centre will accept.

Pure functions, no I/O: fill the envelope (who, when, which station and
beat), bring the record to the current schema version, and check it exactly
as the gateway will (same validator, same lifecycle and immutability rules),
so a record refused at the centre is refused here first, with the field and
the reason, while the officer is still looking at it.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import schemas
from sync import journal
from sync.attachments import digest_of
from sync.revid import user_fields
from sync.revtree import generation
from sync.signing import SIGNATURE_FIELD

__all__ = [
    "JOURNAL_PREFIX",
    "MAX_PHOTOS",
    "MAX_PHOTO_BYTES",
    "RECORD_TYPES",
    "Photo",
    "attachments_for",
    "new_record_id",
    "now_stamp",
    "photo_kind",
    "prepare",
    "revisions",
]

# The types an officer's device records (the citizen-facing ones come from the portal).
RECORD_TYPES = ("complaint", "visitor_entry", "verification_visit")
# A photo to attach: (content type, bytes).
Photo = tuple[str, bytes]
# A phone camera's JPEG is 2-5 MB; the gateway's attachment limit is above this.
# (Here, not in the app's upload reader, so the CLI's questions check photos
# the same way without loading aiohttp.)
MAX_PHOTO_BYTES = 8 * 1024 * 1024
MAX_PHOTOS = 6
_IMAGE_MAGIC = {b"\xff\xd8\xff": ("image/jpeg", "jpg"), b"\x89PNG\r\n\x1a\n": ("image/png", "png")}


def photo_kind(data: bytes) -> tuple[str, str] | None:
    """``(content type, extension)`` of a JPEG or PNG by its first bytes; ``None`` otherwise."""
    return next((k for magic, k in _IMAGE_MAGIC.items() if data.startswith(magic)), None)
JOURNAL_PREFIX = journal.ID_PREFIX


def new_record_id() -> str:
    """Random and made once, on the device: a retried upload is the same record, and
    the id says nothing about the person (DESIGN: no personal data in ids)."""
    return uuid.uuid4().hex


def now_stamp() -> str:
    """The device clock with its zone (the schemas want an explicit offset)."""
    return datetime.now().astimezone().isoformat(timespec="seconds")


def prepare(
    record: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    *,
    officer_id: str,
    role: str,
    station_id: str,
    beat_id: str,
    at: str,
) -> dict[str, Any]:
    """The validated user fields of the new revision of ``old`` (``None``: a new record).

    Raises ``schemas.RecordInvalid`` (with every field and reason) when the
    record breaks its schema, a fixed field changed, or the status change is
    not this role's to make.
    """
    body = user_fields(record)
    body.pop(SIGNATURE_FIELD, None)  # re-signed below; a stale one would not verify
    if old is None:
        body.setdefault("station_id", station_id)
        body.setdefault("beat_id", beat_id)
        body.setdefault("created_by", officer_id)
        body.setdefault("created_at", at)
    else:
        for field in ("type", "station_id", "beat_id", "created_by", "created_at"):
            if field in old:
                body.setdefault(field, old[field])
    body["updated_by"] = officer_id
    body["updated_at"] = at
    record_type = body.get("type")
    if record_type not in RECORD_TYPES:
        raise schemas.RecordInvalid.at(
            "type", f"must be one of {', '.join(RECORD_TYPES)} on an officer's device"
        )
    body.setdefault("schema_version", schemas.CURRENT_VERSIONS[record_type])
    body = schemas.migrate(body)
    schemas.validate(body)
    if body["station_id"] != station_id:
        # The gateway refuses another station's records from this device; say so now.
        raise schemas.RecordInvalid.at("station_id", f"must be this device's station, {station_id}")
    if old is not None:
        schemas.check_immutable(schemas.migrate(user_fields(old)), body)
    if record_type in schemas.ALLOWED_TRANSITIONS and "status" in body:
        old_status = None if old is None else old.get("status")
        schemas.check_transition(record_type, old_status, body["status"], role)
    return body


def revisions(rev: str, parent: str | None) -> dict[str, Any]:
    """``_revisions`` for a new edit: the rev and its parent, as replication sends it."""
    ids = [rev.split("-", 1)[1]]
    if parent is not None:
        ids.append(parent.split("-", 1)[1])
    return {"start": generation(rev), "ids": ids}


def attachments_for(
    old: Mapping[str, Any] | None, photos: Mapping[str, Photo]
) -> tuple[dict[str, Any], list[str]]:
    """``_attachments`` of the new revision (the old ones kept as stubs, new photos
    inline) and the digests :func:`sync.revid.new_rev` needs, the same ones the store computes.
    """
    kept = {
        name: {"stub": True, "digest": meta["digest"]}
        for name, meta in ((old or {}).get("_attachments") or {}).items()
        if name not in photos
    }
    new = {
        name: {"content_type": content_type, "data": base64.b64encode(data).decode("ascii")}
        for name, (content_type, data) in photos.items()
    }
    old_metas = (old or {}).get("_attachments") or {}
    digests = [old_metas[name]["digest"] for name in kept]
    digests += [digest_of(data) for _, data in photos.values()]
    return {**kept, **new}, digests
