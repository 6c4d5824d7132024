"""What the server refused at the last sync, kept in the replica for ``beatsync status``.

The replicator keeps the refused revisions in its checkpoints and offers them
again at every sync (:mod:`sync.replication.replicator`); this keeps the
officer's view of them: a ``_local`` document of the replica, never synced,
sealed like every body (a reason may quote a field of the record).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from field_client.reports import Refused
from sync.database import Database
from sync.errors import NotFound

__all__ = ["recall", "remember"]

_DOC_ID = "_local/beatsync-refused"


async def remember(db: Database, refused: Iterable[Mapping[str, Any]], at: str) -> None:
    """Keep ``refused`` (``{"id", "rev", "error", "reason"}``) as what the last sync refused."""
    items = [{key: item.get(key) for key in ("id", "rev", "error", "reason")} for item in refused]
    try:
        current: dict[str, Any] = await db.get_local(_DOC_ID)
    except NotFound:
        if not items:
            return
        current = {"_id": _DOC_ID}
    await db.put_local({**current, "refused": items, "at": at})


async def recall(db: Database) -> tuple[Refused, ...]:
    try:
        doc = await db.get_local(_DOC_ID)
    except NotFound:
        return ()
    return tuple(
        Refused(
            str(item.get("id")),
            str(item.get("rev")),
            str(item.get("error")),
            str(item.get("reason")),
            str(doc.get("at", "")),
        )
        for item in doc.get("refused", ())
        if isinstance(item, dict)
    )
