"""The embedded gateway's report index: one SQLite file (``reports.sqlite``)
holding :func:`server.state.reports.report_row` of every record of every
station, brought up to date from each station's changes before a report
reads it, the way CouchDB updates a view when it is queried.

It is an index and nothing more: deleting the file rebuilds it from the
stations at the next report. It holds no names, addresses or text (see
:mod:`server.state.reports`), so it is not sealed even with
``--encrypt-at-rest``: the reports need to sort and count these columns.
A station store replaced by another (a restore) is noticed by its identity
and indexed again from the start.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import astuple
from pathlib import Path
from typing import Any, Final

import aiosqlite
import orjson

from server.state.interface import GatewayState
from server.state.reports import (
    Counts,
    OverdueItem,
    OverduePage,
    OverdueQuery,
    ReportIndex,
    page_mark,
    report_row,
)
from server.state.stations import StationDatabases
from sync.database import Database
from sync.sqlite.schema import open_connection

__all__ = ["REPORTS_FILE", "SQLiteReportIndex"]

REPORTS_FILE: Final = "reports.sqlite"
# Changes rows read per request while catching up (bodies included).
_PAGE: Final = 1000
# A report may miss the writes of the last seconds (as a CouchDB report
# misses what the fan-in has not copied yet): asking 30 stations for their
# changes at every page would cost more than the report itself.
FRESH_S: Final = 2.0
# The layout's version (PRAGMA user_version): a file of another version is
# emptied and built again from the stations (it is only an index).
_VERSION: Final = 1
_TABLES: Final = ("checkpoints", "records", "complaint_counts")
_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS checkpoints (
    station_id TEXT PRIMARY KEY, store TEXT NOT NULL, seq TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    station_id TEXT NOT NULL, doc_id TEXT NOT NULL, type TEXT NOT NULL, beat_id TEXT,
    status TEXT, category TEXT, month TEXT NOT NULL, waiting_since TEXT,
    PRIMARY KEY (station_id, doc_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS records_waiting
    ON records (type, waiting_since, station_id, doc_id) WHERE waiting_since IS NOT NULL;
CREATE INDEX IF NOT EXISTS records_station_waiting
    ON records (station_id, type, waiting_since, doc_id) WHERE waiting_since IS NOT NULL;
-- What CouchDB's _count reduce keeps in a view's tree: the complaints per
-- (month, station, status, category), kept by the triggers as rows come and
-- go, so a month's report reads a few hundred rows, not every complaint.
CREATE TABLE IF NOT EXISTS complaint_counts (
    month TEXT NOT NULL, station_id TEXT NOT NULL, status TEXT NOT NULL,
    category TEXT NOT NULL, n INTEGER NOT NULL,
    PRIMARY KEY (month, station_id, status, category)) WITHOUT ROWID;
CREATE TRIGGER IF NOT EXISTS complaint_in AFTER INSERT ON records WHEN new.type = 'complaint'
BEGIN
    INSERT INTO complaint_counts (month, station_id, status, category, n)
    VALUES (new.month, new.station_id, coalesce(new.status, ''), coalesce(new.category, ''), 1)
    ON CONFLICT (month, station_id, status, category) DO UPDATE SET n = n + 1;
END;
CREATE TRIGGER IF NOT EXISTS complaint_out AFTER DELETE ON records WHEN old.type = 'complaint'
BEGIN
    UPDATE complaint_counts SET n = n - 1
    WHERE month = old.month AND station_id = old.station_id
    AND status = coalesce(old.status, '') AND category = coalesce(old.category, '');
END;
"""
_INSERT: Final = (
    "INSERT INTO records"
    " (station_id, doc_id, type, beat_id, status, category, month, waiting_since)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


class SQLiteReportIndex(ReportIndex):
    def __init__(
        self, conn: aiosqlite.Connection, state: GatewayState, stores: StationDatabases
    ) -> None:
        self._conn = conn
        self._state = state
        self._stores = stores
        # One catch-up at a time: two reports at once would index the same pages twice.
        self._lock = asyncio.Lock()
        self._caught_up_at = -FRESH_S
        self._closing = False

    @classmethod
    async def open(
        cls, path: Path, state: GatewayState, stores: StationDatabases
    ) -> SQLiteReportIndex:
        conn = await open_connection(path, isolation_level=None)
        try:
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA busy_timeout=10000")
            # An index rebuilt from the stations after a crash: no need to wait for the disk.
            await conn.execute("PRAGMA synchronous=OFF")
            version = next(iter(await conn.execute_fetchall("PRAGMA user_version")))[0]
            if version != _VERSION:
                drops = "".join(f"DROP TABLE IF EXISTS {table};" for table in _TABLES)
                await conn.executescript(
                    f"BEGIN; {drops} {_SCHEMA} PRAGMA user_version = {_VERSION}; COMMIT;"
                )
        except BaseException:
            await conn.close()
            raise
        return cls(conn, state, stores)

    async def close(self) -> None:
        # Never cancelled mid-page (a store being opened would leak its
        # connection): a catch-up stops at its next page once this is set.
        self._closing = True
        async with self._lock:
            await self._conn.close()

    # -- keeping up with the stations -------------------------------------------------

    async def warm(self) -> None:
        # Indexing 100,000 records takes about 20 s: better at start than in a report.
        await self.catch_up()

    async def _fresh(self) -> None:
        """Caught up within the last :data:`FRESH_S` seconds."""
        if time.monotonic() - self._caught_up_at >= FRESH_S:
            await self.catch_up()

    async def catch_up(self) -> int:
        """Index every station's changes since its checkpoint; how many rows were read."""
        async with self._lock:
            if self._closing:
                return 0
            self._caught_up_at = time.monotonic()
            rows = await self._conn.execute_fetchall(
                "SELECT station_id, store, seq FROM checkpoints"
            )
            checkpoints = {station: (store, seq) for station, store, seq in rows}
            read = 0
            for station in await self._state.list_stations():
                if self._closing:
                    break
                store = await self._stores.get(station.id)
                read += await self._catch_up(station.id, store, checkpoints.get(station.id))
            return read

    async def _catch_up(
        self, station_id: str, store: Database, checkpoint: tuple[str, str] | None
    ) -> int:
        identity = await store.identity()
        since: Any = 0
        if checkpoint is not None and checkpoint[0] == identity:
            since = orjson.loads(checkpoint[1])
        elif checkpoint is not None:  # another store under the same name: index it afresh
            await self._conn.execute("DELETE FROM records WHERE station_id = ?", (station_id,))
        read = 0
        while True:
            page = await store.changes(since=since, include_docs=True, limit=_PAGE)
            results = page["results"]
            if results or page["last_seq"] != since:  # nothing new: no write at all
                await self._apply(station_id, identity, results, page["last_seq"])
            read += len(results)
            since = page["last_seq"]
            if len(results) < _PAGE or self._closing:
                return read

    async def _apply(
        self, station_id: str, identity: str, results: Sequence[dict[str, Any]], last_seq: Any
    ) -> None:
        # Every changed record's old row out, its new one (if any) in: the
        # triggers then move the counts from the old bucket to the new.
        gone = [(station_id, change["id"]) for change in results]
        rows = [
            report_row(station_id, doc)
            for change in results
            if isinstance(doc := change.get("doc"), dict)
        ]
        upserts = [astuple(row) for row in rows if row is not None]  # _INSERT's columns
        await self._conn.execute("BEGIN")
        try:
            await self._conn.executemany(
                "DELETE FROM records WHERE station_id = ? AND doc_id = ?", gone
            )
            await self._conn.executemany(_INSERT, upserts)
            await self._conn.execute(
                "INSERT OR REPLACE INTO checkpoints (station_id, store, seq) VALUES (?, ?, ?)",
                (station_id, identity, orjson.dumps(last_seq).decode()),
            )
        except BaseException:
            await self._conn.execute("ROLLBACK")
            raise
        await self._conn.execute("COMMIT")

    # -- the reports ---------------------------------------------------------------

    async def counts(self, station_id: str | None, month: str) -> Counts:
        await self._fresh()
        where, args = "month = ? AND n > 0", [month]
        if station_id is not None:
            where, args = where + " AND station_id = ?", [*args, station_id]
        rows = await self._conn.execute_fetchall(
            f"SELECT station_id, status, category, n FROM complaint_counts WHERE {where}", args
        )
        return Counts.of([(s, st, c, int(n)) for s, st, c, n in rows])

    async def months(self, station_id: str | None, first: str, last: str) -> dict[str, int]:
        await self._fresh()
        where, args = "month BETWEEN ? AND ?", [first, last]
        if station_id is not None:
            where, args = where + " AND station_id = ?", [*args, station_id]
        rows = await self._conn.execute_fetchall(
            f"SELECT month, SUM(n) FROM complaint_counts WHERE {where}"
            " GROUP BY month HAVING SUM(n) > 0 ORDER BY month",
            args,
        )
        return {str(m): int(n) for m, n in rows}

    async def overdue(self, query: OverdueQuery) -> OverduePage:
        mark, limit = page_mark(query.after, 3), query.limit
        await self._fresh()
        where, args = ["type = ?", "waiting_since < ?"], [query.kind, query.before]
        if query.station_id is not None:
            where, args = [*where, "station_id = ?"], [*args, query.station_id]
        if mark is not None:
            where, args = (
                [*where, "(waiting_since, station_id, doc_id) > (?, ?, ?)"],
                [*args, *mark],
            )
        rows = await self._conn.execute_fetchall(
            "SELECT station_id, doc_id, beat_id, status, waiting_since FROM records"
            f" WHERE {' AND '.join(where)} AND waiting_since IS NOT NULL"
            " ORDER BY waiting_since, station_id, doc_id LIMIT ?",
            [*args, limit + 1],
        )
        items = [OverdueItem(*row) for row in rows]
        more = len(items) > limit
        items = items[:limit]
        next_after = None
        if more and items:
            last = items[-1]
            next_after = orjson.dumps([last.waiting_since, last.station_id, last.doc_id]).decode()
        return OverduePage(items, next_after)
