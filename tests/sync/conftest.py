"""The ``make_db`` fixture: one store contract suite, run against every store.

``make_db`` is parametrized by store kind; calling it returns a new, empty
database of that kind, closed (and for HTTP, deleted) at teardown:

* ``sqlite``: :class:`sync.sqlite.store.SQLiteDatabase` in ``tmp_path``;
* ``http``: :class:`sync.http.remote.HttpDatabase` on the session's
  pouchdb-server (a CouchDB-compatible peer, not the specification: tests
  restrict themselves with ``make_db.kind`` where it deviates), or on the
  real Apache CouchDB 3 named by $BEATSYNC_TEST_COUCHDB (``make_db.couchdb3``;
  its databases have 2 shards, so ``_changes`` is ordered only within a
  shard). ``make_db.like_couchdb3`` says whether a behaviour CouchDB 3
  documents can be checked: on our store and on CouchDB 3, not pouchdb-server.
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
from tests import peers

# The http param needs npm pouchdb-server; its fixture fails under CI=true without it.
STORE_KINDS = ("sqlite", pytest.param("http", marks=pytest.mark.pouchdb))


class MakeDb:
    """``await make_db()`` gives a fresh database; ``make_db.kind`` says which store."""

    def __init__(self, kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.kind = kind
        self._request = request
        self._tmp_path = tmp_path
        self._opened: list[Database] = []

    @property
    def couchdb3(self) -> bool:
        """The store is a real Apache CouchDB 3 ($BEATSYNC_TEST_COUCHDB)."""
        return self.kind == "http" and peers.external_couchdb() is not None

    @property
    def like_couchdb3(self) -> bool:
        """CouchDB 3's documented behaviour can be checked here (not on pouchdb-server)."""
        return self.kind == "sqlite" or self.couchdb3

    async def __call__(self) -> Database:
        db: Database
        if self.kind == "sqlite":
            db = await SQLiteDatabase.open(self._tmp_path / f"db{len(self._opened)}.sqlite3")
        else:
            base = self._request.getfixturevalue("couch_peer").url
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
