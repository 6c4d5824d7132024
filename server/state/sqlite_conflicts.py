"""The conflict queue in the embedded state's SQLite file (table ``conflicts``).

A part of :class:`server.state.sqlite.SQLiteGatewayState`, which gives it
its statement helpers. Each entry is one row: the listing columns, and the
entry itself as JSON.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from typing import Any

import aiosqlite

from server.state.conflict_queue import (
    ConflictQueue,
    ConflictStatus,
    QueuedConflict,
    parse_after,
    refreshed,
)

__all__ = ["CONFLICTS_MIGRATION", "SQLiteConflicts"]

CONFLICTS_MIGRATION = """
    CREATE TABLE conflicts (
        id INTEGER PRIMARY KEY AUTOINCREMENT, station_id TEXT NOT NULL,
        doc_id TEXT NOT NULL, status TEXT NOT NULL, queued_at TEXT NOT NULL,
        entry TEXT NOT NULL);
    -- One open entry per record; closed ones are its history.
    CREATE UNIQUE INDEX conflicts_open ON conflicts (station_id, doc_id) WHERE status = 'open';
    CREATE INDEX conflicts_listing ON conflicts (status, station_id, doc_id, queued_at);
"""


def _entry(row: aiosqlite.Row) -> QueuedConflict:
    return QueuedConflict.from_public(json.loads(row["entry"]))


class SQLiteConflicts(ConflictQueue):
    @abc.abstractmethod
    async def _one(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Row | None: ...

    @abc.abstractmethod
    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[aiosqlite.Row]: ...

    @abc.abstractmethod
    async def _write(self, sql: str, args: Sequence[Any] = (), *, many: bool = False) -> int: ...

    async def queue_conflict(self, entry: QueuedConflict) -> bool:
        stored = refreshed(await self.open_conflict(entry.station_id, entry.doc_id), entry)
        if stored is None:
            return False
        await self._write(
            "INSERT INTO conflicts (station_id, doc_id, status, queued_at, entry)"
            " VALUES (?, ?, 'open', ?, ?) ON CONFLICT (station_id, doc_id) WHERE status = 'open'"
            " DO UPDATE SET entry = excluded.entry",
            (stored.station_id, stored.doc_id, stored.queued_at, json.dumps(stored.public())),
        )
        return True

    async def open_conflicts(
        self, station_id: str, doc_ids: Sequence[str]
    ) -> dict[str, QueuedConflict]:
        rows = await self._all(
            "SELECT entry FROM conflicts WHERE station_id = ? AND status = 'open'"
            " AND doc_id IN (SELECT value FROM json_each(?))",
            (station_id, json.dumps(list(doc_ids))),
        )
        return {entry.doc_id: entry for entry in map(_entry, rows)}

    async def close_conflict(self, closed: QueuedConflict) -> bool:
        changed = await self._write(
            "UPDATE conflicts SET status = ?, entry = ?"
            " WHERE station_id = ? AND doc_id = ? AND status = 'open'",
            (closed.status, json.dumps(closed.public()), closed.station_id, closed.doc_id),
        )
        return changed > 0

    async def list_conflicts(
        self,
        *,
        status: ConflictStatus = "open",
        station_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[QueuedConflict]:
        start = parse_after(after) or ("", "", "")
        rows = await self._all(
            "SELECT entry FROM conflicts WHERE status = ? AND (? IS NULL OR station_id = ?)"
            " AND (station_id, doc_id, queued_at) > (?, ?, ?)"
            " ORDER BY station_id, doc_id, queued_at LIMIT ?",
            (status, station_id, station_id, *start, limit),
        )
        return [_entry(row) for row in rows]

    async def count_conflicts(self, *, station_id: str | None = None) -> int:
        row = await self._one(
            "SELECT count(*) AS n FROM conflicts WHERE status = 'open'"
            " AND (? IS NULL OR station_id = ?)",
            (station_id, station_id),
        )
        return int(row["n"]) if row else 0
