"""Reading and writing one CouchDB document as every CouchDB client racing
other writers does: a missing document is ``None``, a create that finds the id
taken is the repositories' "already exists", and a read-modify-write retries
on 409. Shared by the parts of :class:`server.couch.state.CouchGatewayState`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from sync.database import Database, Doc
from sync.errors import Conflict, NotFound

__all__ = ["create_doc", "get_or_none", "list_prefixed", "update_doc"]

# Read-modify-write attempts against a concurrent writer before giving up with 409.
_UPDATE_ATTEMPTS: Final = 5


async def get_or_none(db: Database, doc_id: str) -> Doc | None:
    try:
        return await db.get(doc_id)
    except NotFound:
        return None


async def create_doc(db: Database, doc: Doc) -> None:
    # PUT without _rev: CouchDB answers 409 when the id exists, which is the
    # "already exists" the SQLite repository reports too.
    try:
        await db.put(doc)
    except Conflict:
        raise Conflict(f"already exists: {doc['_id']}") from None


async def update_doc(
    db: Database, doc_id: str, change: Callable[[Doc], Doc], *, create: Doc | None = None
) -> Doc:
    """``change`` applied to the stored document (or to ``create`` when there is
    none), written with its ``_rev``; read again if another writer came first."""
    for _ in range(_UPDATE_ATTEMPTS):
        current = await get_or_none(db, doc_id)
        if current is None:
            if create is None:
                raise NotFound(f"no {doc_id.replace(':', ' ', 1)}")
            current = {"_id": doc_id, **create}
        updated = change(dict(current))
        try:
            result = await db.put(updated)
        except Conflict:
            continue  # another gateway wrote in between: read again
        return {**updated, "_rev": result["rev"]}
    raise Conflict(f"{doc_id} keeps changing under concurrent writers; try again")


async def list_prefixed(db: Database, prefix: str) -> list[Doc]:
    """The documents whose ids start with ``prefix``, in id order."""
    result = await db.all_docs(startkey=prefix, endkey=prefix + "\ufff0", include_docs=True)
    return [row["doc"] for row in result["rows"] if isinstance(row.get("doc"), dict)]
