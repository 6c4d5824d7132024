"""Unfinished records: what the officer typed, kept until the record is saved.

A draft is a ``_local`` document of the replica (``_local/ui-draft-<form>``):
sealed with the data key like every body in it, never replicated, and gone
once the record is saved or the draft thrown away. So a refused form, a
lock in the middle of a visit, or a closed browser loses nothing typed, and
nothing typed is ever on disk in the clear. A visit's photos are kept in its
draft too (base64 in the same sealed document), so a refused visit or one
kept as a draft does not ask for the photos again.
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Mapping

from field_client.records import Photo
from sync.database import Database
from sync.errors import NotFound

__all__ = ["discard", "load", "load_photos", "numbered", "save"]

_PREFIX = "ui-draft-"


def _id(key: str) -> str:
    return f"_local/{_PREFIX}{key}"


async def _doc(db: Database, key: str) -> dict[str, object]:
    try:
        return dict(await db.get_local(_id(key)))
    except NotFound:
        return {}


async def load(db: Database, key: str) -> dict[str, str]:
    values = (await _doc(db, key)).get("values")
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}


async def load_photos(db: Database, key: str) -> dict[str, Photo]:
    """The photos kept with the draft, ``{name: (content type, bytes)}``."""
    photos = (await _doc(db, key)).get("photos")
    if not isinstance(photos, dict):
        return {}
    return {
        str(name): (str(p["content_type"]), base64.b64decode(p["data"]))
        for name, p in photos.items()
        if isinstance(p, dict) and "content_type" in p and "data" in p
    }


def numbered(*groups: Mapping[str, Photo]) -> dict[str, Photo]:
    """The photos of every group as ``photo-1.jpg``, ``photo-2.png``, ... in order
    (kept ones first, then the new ones), so a new upload never replaces a kept one."""
    photos = [photo for group in groups for photo in group.items()]
    return {
        f"photo-{n}.{name.rsplit('.', 1)[-1]}": photo for n, (name, photo) in enumerate(photos, 1)
    }


async def save(
    db: Database, key: str, values: Mapping[str, str], photos: Mapping[str, Photo] | None = None
) -> None:
    doc: dict[str, object] = {"_id": _id(key), "values": dict(values)}
    if photos:
        doc["photos"] = {
            name: {"content_type": kind, "data": base64.b64encode(data).decode("ascii")}
            for name, (kind, data) in photos.items()
        }
    with contextlib.suppress(NotFound):
        doc["_rev"] = (await db.get_local(_id(key)))["_rev"]
    await db.put_local(doc)


async def discard(db: Database, key: str) -> None:
    try:
        old = await db.get_local(_id(key))
    except NotFound:
        return
    await db.delete_local(_id(key), old["_rev"])
