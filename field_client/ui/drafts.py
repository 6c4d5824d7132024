"""Unfinished records: what the officer typed, kept until the record is saved.

A draft is a ``_local`` document of the replica (``_local/ui-draft-<form>``):
sealed with the data key like every body in it, never replicated, and gone
once the record is saved or the draft thrown away. So a refused form, a
lock in the middle of a visit, or a closed browser loses nothing typed, and
nothing typed is ever on disk in the clear.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping

from sync.database import Database
from sync.errors import NotFound

__all__ = ["discard", "load", "save"]

_PREFIX = "ui-draft-"


def _id(key: str) -> str:
    return f"_local/{_PREFIX}{key}"


async def load(db: Database, key: str) -> dict[str, str]:
    try:
        doc = await db.get_local(_id(key))
    except NotFound:
        return {}
    values = doc.get("values")
    return {str(k): str(v) for k, v in values.items()} if isinstance(values, dict) else {}


async def save(db: Database, key: str, values: Mapping[str, str]) -> None:
    doc: dict[str, object] = {"_id": _id(key), "values": dict(values)}
    with contextlib.suppress(NotFound):
        doc["_rev"] = (await db.get_local(_id(key)))["_rev"]
    await db.put_local(doc)


async def discard(db: Database, key: str) -> None:
    try:
        old = await db.get_local(_id(key))
    except NotFound:
        return
    await db.delete_local(_id(key), old["_rev"])
