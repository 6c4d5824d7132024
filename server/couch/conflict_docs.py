"""The conflict queue as documents of the CouchDB database ``beatsync-conflicts``.

A part of :class:`server.couch.state.CouchGatewayState`. Ids carry the
listing order, so a page is one ``_all_docs`` range and no view is needed:
``open:<station>:<doc id>`` (one per record while it is in conflict), and,
once closed, ``<resolved|superseded>:<station>:<doc id>:<queued at>``.
Several gateways share it: an open entry is rewritten with its ``_rev`` and
a concurrent writer makes the loser read it again, as CouchDB clients do.
"""

from __future__ import annotations

import abc
import contextlib
from collections.abc import Sequence
from typing import Final

from server.state.conflict_queue import (
    ConflictQueue,
    ConflictStatus,
    QueuedConflict,
    parse_after,
    refreshed,
)
from sync.database import Database, Doc
from sync.errors import Conflict, NotFound

__all__ = ["CONFLICTS_DB", "CouchConflicts"]

CONFLICTS_DB: Final = "beatsync-conflicts"
_ATTEMPTS: Final = 5
_PAGE: Final = 500


def _doc_id(entry: QueuedConflict) -> str:
    if entry.status == "open":
        return f"open:{entry.station_id}:{entry.doc_id}"
    return f"{entry.status}:{entry.station_id}:{entry.doc_id}:{entry.queued_at}"


def _start(status: ConflictStatus, station_id: str | None, after: str | None) -> str:
    position = parse_after(after)
    if position is None:
        return f"{status}:{station_id}:" if station_id else f"{status}:"
    station, doc_id, queued_at = position
    last = f"{status}:{station}:{doc_id}" + (f":{queued_at}" if status != "open" else "")
    return last + "\u0000"


class CouchConflicts(ConflictQueue):
    @property
    @abc.abstractmethod
    def _conflicts_db(self) -> Database: ...

    async def _open_doc(self, station_id: str, doc_id: str) -> Doc | None:
        try:
            return await self._conflicts_db.get(f"open:{station_id}:{doc_id}")
        except NotFound:
            return None

    async def queue_conflict(self, entry: QueuedConflict) -> bool:
        for _ in range(_ATTEMPTS):
            current = await self._open_doc(entry.station_id, entry.doc_id)
            existing = QueuedConflict.from_public(current) if current else None
            stored = refreshed(existing, entry)
            if stored is None:
                return False
            doc = {"_id": _doc_id(stored), **stored.public()}
            if current is not None:
                doc["_rev"] = current["_rev"]
            try:
                await self._conflicts_db.put(doc)
            except Conflict:
                continue  # another gateway queued it in between: read again
            return True
        raise Conflict(f"the queue entry of {entry.doc_id} keeps changing; try again")

    async def open_conflicts(
        self, station_id: str, doc_ids: Sequence[str]
    ) -> dict[str, QueuedConflict]:
        if not doc_ids:
            return {}
        page = await self._conflicts_db.all_docs(
            keys=[f"open:{station_id}:{doc_id}" for doc_id in doc_ids], include_docs=True
        )
        entries = (
            QueuedConflict.from_public(row["doc"])
            for row in page["rows"]
            if isinstance(row.get("doc"), dict)
        )
        return {entry.doc_id: entry for entry in entries}

    async def close_conflict(self, closed: QueuedConflict) -> bool:
        # Written before the open entry goes: a crash in between leaves the
        # record queued (and the next pass closes it again), never forgotten.
        try:
            await self._conflicts_db.put({"_id": _doc_id(closed), **closed.public()})
        except Conflict:  # the same closing, by another request or gateway
            closed_here = False
        else:
            closed_here = True
        current = await self._open_doc(closed.station_id, closed.doc_id)
        if current is not None:
            with contextlib.suppress(Conflict, NotFound):
                await self._conflicts_db.bulk_docs(
                    [{"_id": current["_id"], "_rev": current["_rev"], "_deleted": True}]
                )
        return closed_here

    async def list_conflicts(
        self,
        *,
        status: ConflictStatus = "open",
        station_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[QueuedConflict]:
        prefix = f"{status}:{station_id}:" if station_id else f"{status}:"
        page = await self._conflicts_db.all_docs(
            startkey=_start(status, station_id, after),
            endkey=prefix + "\ufff0",
            include_docs=True,
            limit=limit,
        )
        return [
            QueuedConflict.from_public(row["doc"])
            for row in page["rows"]
            if isinstance(row.get("doc"), dict)
        ]

    async def count_conflicts(self, *, station_id: str | None = None) -> int:
        prefix = f"open:{station_id}:" if station_id else "open:"
        count, startkey = 0, prefix
        while True:
            page = await self._conflicts_db.all_docs(
                startkey=startkey, endkey=prefix + "\ufff0", limit=_PAGE
            )
            count += len(page["rows"])
            if len(page["rows"]) < _PAGE:
                return count
            startkey = page["rows"][-1]["id"] + "\u0000"
