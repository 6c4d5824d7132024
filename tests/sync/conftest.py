"""The ``make_db`` fixture: one store contract suite, run against every store.

``make_db`` is parametrized by store kind; calling it returns a new, empty
database of that kind, closed (and for HTTP, deleted) at teardown:

* ``sqlite``: :class:`sync.sqlite.store.SQLiteDatabase` in ``tmp_path``;
* ``http``: :class:`sync.http.remote.HttpDatabase` on the session's
  pouchdb-server (a CouchDB-compatible peer, not the specification: tests
  restrict themselves with ``make_db.kind`` where it deviates).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from sync.database import Database
from sync.errors import CouchError
from sync.http import HttpDatabase
from sync.sqlite import SQLiteDatabase

# The http param needs npm pouchdb-server; its fixture fails under CI=true without it.
STORE_KINDS = ("sqlite", pytest.param("http", marks=pytest.mark.pouchdb))


class MakeDb:
    """``await make_db()`` gives a fresh database; ``make_db.kind`` says which store."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.kind = kind
        self._request = request
        self._tmp_path = tmp_path
        self._opened: list[Database] = []

    async def __call__(self) -> Database:
        db: Database
        if self.kind == "sqlite":
            db = await SQLiteDatabase.open(self._tmp_path / f"db{len(self._opened)}.sqlite3")
        else:
            base = self._request.getfixturevalue("pouchdb_server_url")
            name = self._request.getfixturevalue("unique_db_name")
            remote = HttpDatabase(f"{base}/{name}-{len(self._opened)}")
            await remote.create()
            db = remote
        self._opened.append(db)
        return db

    async def close_all(self) -> None:
        for db in self._opened:
            if isinstance(db, HttpDatabase):
                with contextlib.suppress(CouchError, OSError):
                    await db.delete_database()
            await db.close()


@pytest.fixture(params=STORE_KINDS)
async def make_db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[MakeDb]:
    maker = MakeDb(request.param, request, tmp_path)
    try:
        yield maker
    finally:
        await maker.close_all()


@pytest.fixture
async def store(make_db: MakeDb) -> Database:
    """One fresh database of the parametrized kind."""
    return await make_db()
