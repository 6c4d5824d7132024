"""The office's sessions in the embedded state's SQLite file (table ``office_sessions``).

A part of :class:`server.state.sqlite.SQLiteGatewayState`, which gives it
its statement helpers.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from typing import Any

import aiosqlite

from server.state.office_sessions import SessionRepo, StoredSession

__all__ = ["SESSIONS_MIGRATION", "SQLiteSessions"]

SESSIONS_MIGRATION = """
    CREATE TABLE office_sessions (
        key TEXT PRIMARY KEY, officer_id TEXT NOT NULL,
        started REAL NOT NULL, last_seen REAL NOT NULL);
"""


class SQLiteSessions(SessionRepo):
    @abc.abstractmethod
    async def _one(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Row | None: ...

    @abc.abstractmethod
    async def _write(self, sql: str, args: Sequence[Any] = (), *, many: bool = False) -> int: ...

    async def put_session(self, session: StoredSession) -> None:
        await self._write(
            "INSERT OR REPLACE INTO office_sessions (key, officer_id, started, last_seen)"
            " VALUES (?, ?, ?, ?)",
            (session.key, session.officer_id, session.started, session.last_seen),
        )

    async def get_session(self, key: str) -> StoredSession | None:
        row = await self._one(
            "SELECT key, officer_id, started, last_seen FROM office_sessions WHERE key = ?", (key,)
        )
        return StoredSession(*row) if row is not None else None

    async def delete_session(self, key: str) -> None:
        await self._write("DELETE FROM office_sessions WHERE key = ?", (key,))

    async def forget_sessions(self, *, seen_before: float, started_before: float) -> int:
        return await self._write(
            "DELETE FROM office_sessions WHERE last_seen < ? OR started < ?",
            (seen_before, started_before),
        )
