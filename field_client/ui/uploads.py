"""A form with photos, read into memory only.

aiohttp's ``request.post()`` spools every uploaded file to a temporary file
on disk, in the clear; a verification visit's photos must never lie there.
So the app reads the multipart body part by part into memory, with a cap
per photo and per form, sniffs each photo's bytes, and seals them into the
replica with the record (:meth:`FieldReplica.save_record`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import BodyPartReader, web

from field_client.records import MAX_PHOTO_BYTES, MAX_PHOTOS, Photo, photo_kind
from schemas.web.labels import N_, NOT_AN_IMAGE, PHOTO_TOO_LARGE

__all__ = [
    "MAX_PHOTOS",
    "MAX_PHOTO_BYTES",
    "TOO_MANY_PHOTOS",
    "Upload",
    "photo_kind",
    "read_upload",
]

MAX_TEXT_BYTES = 64 * 1024
TOO_MANY_PHOTOS = N_("At most %(limit)s photos at a time.")


@dataclass
class Upload:
    values: dict[str, str] = field(default_factory=dict)
    photos: dict[str, Photo] = field(default_factory=dict)
    error: tuple[str, dict[str, int]] | None = None


async def _read_capped(part: BodyPartReader, limit: int) -> bytes | None:
    data = bytearray()
    while chunk := await part.read_chunk(64 * 1024):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


async def read_upload(request: web.Request) -> Upload:
    """The form's text fields and its photos (field ``photos``), all in memory."""
    upload = Upload()
    reader = await request.multipart()
    while (part := await reader.next()) is not None:
        if not isinstance(part, BodyPartReader) or not part.name:
            continue
        if part.filename is None:
            text = await _read_capped(part, MAX_TEXT_BYTES)
            if text is None:
                raise web.HTTPRequestEntityTooLarge(max_size=MAX_TEXT_BYTES, actual_size=0)
            upload.values[part.name] = text.decode("utf-8", "replace").strip()
            continue
        data = await _read_capped(part, MAX_PHOTO_BYTES)
        if data == b"":
            continue  # the file field left empty
        if data is None:
            upload.error = (PHOTO_TOO_LARGE, {"limit": MAX_PHOTO_BYTES // 1024})
            continue
        kind = photo_kind(data)
        if kind is None:
            upload.error = (NOT_AN_IMAGE, {})
        elif len(upload.photos) >= MAX_PHOTOS:
            upload.error = (TOO_MANY_PHOTOS, {"limit": MAX_PHOTOS})
        else:
            upload.photos[f"photo-{len(upload.photos) + 1}.{kind[1]}"] = (kind[0], data)
    return upload
