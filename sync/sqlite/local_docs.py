"""``_local`` documents: never replicated, never in the feed, one revision each.

As in CouchDB, a local document's rev is ``0-N``, counting its writes; the
``_rev`` of a write must name the stored one (and be absent for a new one),
else the write is a conflict. Bodies are sealed with their own AAD
(:func:`sync.codec.local_aad`), so a local body cannot be passed off as a
record's revision.
"""

from __future__ import annotations

import aiosqlite
import orjson

from sync.codec import local_aad
from sync.database import Doc
from sync.errors import BadRequest, Conflict, NotFound
from sync.revid import user_fields
from sync.sqlite.core import StoreCore
from sync.sqlite.edits import (
    LOCAL_PREFIX,
    Edit,
    check_doc_id,
    dumps,
    failure,
    local_rev,
    parse_edit,
    raise_for,
)

__all__ = ["LocalDocs"]


def _check_local_id(local_id: object) -> str:
    doc_id = check_doc_id(local_id)
    if not doc_id.startswith(LOCAL_PREFIX):
        raise BadRequest(f"A local document id starts with {LOCAL_PREFIX}", error="illegal_docid")
    return doc_id


class LocalDocs:
    """The ``_local`` documents of one store, over its :class:`~sync.sqlite.core.StoreCore`."""

    def __init__(self, core: StoreCore) -> None:
        self._core = core

    async def write(self, conn: aiosqlite.Connection, edit: Edit) -> Doc:
        """Apply one local edit inside the caller's transaction: the ``bulk_docs`` result."""
        rows = list(
            await conn.execute_fetchall(
                "SELECT rev FROM local_docs WHERE doc_id = ?", (edit.doc_id,)
            )
        )
        current = rows[0][0] if rows else None
        given = None if edit.rev is None else local_rev(edit.rev)
        if given != current:
            return failure(edit.doc_id, Conflict())
        if edit.deleted:
            await conn.execute("DELETE FROM local_docs WHERE doc_id = ?", (edit.doc_id,))
            return {"ok": True, "id": edit.doc_id, "rev": "0-0"}
        rev = (current or 0) + 1
        sealed = self._core.codec.seal(local_aad(edit.doc_id), dumps(user_fields(edit.doc)))
        await conn.execute(
            "INSERT OR REPLACE INTO local_docs (doc_id, rev, body) VALUES (?, ?, ?)",
            (edit.doc_id, rev, sealed),
        )
        return {"ok": True, "id": edit.doc_id, "rev": f"0-{rev}"}

    async def get(self, local_id: str) -> Doc:
        doc_id = _check_local_id(local_id)
        rows = list(
            await self._core.reader.execute_fetchall(
                "SELECT rev, body FROM local_docs WHERE doc_id = ?", (doc_id,)
            )
        )
        if not rows:
            raise NotFound("missing")
        rev, sealed = rows[0]
        body = orjson.loads(self._core.codec.open(local_aad(doc_id), sealed))
        return {"_id": doc_id, "_rev": f"0-{rev}", **body}

    async def put(self, doc: Doc) -> Doc:
        if not isinstance(doc, dict):
            raise BadRequest("Document must be a JSON object")
        _check_local_id(doc.get("_id"))
        edit = parse_edit(doc, True)
        async with self._core.write_lock, self._core.transaction() as conn:
            result = await self.write(conn, edit)
        raise_for(result)
        return result

    async def delete(self, local_id: str, rev: str) -> Doc:
        doc_id = _check_local_id(local_id)
        local_rev(rev)
        async with self._core.write_lock, self._core.transaction() as conn:
            exists = await conn.execute_fetchall(
                "SELECT 1 FROM local_docs WHERE doc_id = ?", (doc_id,)
            )
            if not list(exists):
                raise NotFound("missing")
            result = await self.write(conn, Edit({}, doc_id, rev, True, [], {}))
        raise_for(result)
        return result
