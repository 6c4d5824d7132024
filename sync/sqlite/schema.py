"""The SQLite file of one database: its schema, migrations, connections and meta rows.

Layout (schema version 1, see ``MIGRATIONS``)
----------------------------------------------
``docs(doc_id, tree, winner, deleted, seq)``
    One row per document: its revision tree (orjson of
    :func:`sync.revtree.encode_tree`), the winning rev and whether it is a
    deletion (so ``_all_docs``/``_changes`` need not decode trees), and the
    update seq of its latest change. A document appears once in ``_changes``,
    at that seq, exactly as CouchDB's by-seq index.
``revs(doc_id, rev, body)``
    The sealed body of every *leaf* revision (JSON without ``_id``/``_rev``;
    attachment metadata rides inside as ``_attachments``). Bodies of revisions
    that stop being leaves are dropped in the same transaction: compaction on
    write, so the file never holds history CouchDB would compact away.
``att_refs(doc_id, rev, digest)`` and ``attachments(digest, length, data)``
    Attachment blobs, sealed, stored once per digest and collected when the
    last leaf that names them goes.
``local_docs(doc_id, rev, body)``
    ``_local/`` documents: never in ``_changes`` or ``_all_docs``.
``meta(key, value)``
    The database uuid (``identity()``), ``update_seq``, ``purge_seq``,
    ``revs_limit``.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from pathlib import Path
from typing import Any

import aiosqlite

from sync.errors import PreconditionFailed
from sync.files import sqlite_files
from sync.revtree import DEFAULT_REVS_LIMIT

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "connect",
    "get_meta_int",
    "migrate",
    "open_connection",
    "set_meta",
]

# Each entry upgrades the file by one version (PRAGMA user_version); never edit
# a released entry, append a new one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE docs ("
        " doc_id TEXT PRIMARY KEY, tree BLOB NOT NULL, winner TEXT NOT NULL,"
        " deleted INTEGER NOT NULL, seq INTEGER NOT NULL UNIQUE)",
        "CREATE TABLE revs ("
        " doc_id TEXT NOT NULL, rev TEXT NOT NULL, body BLOB NOT NULL,"
        " PRIMARY KEY (doc_id, rev))",
        "CREATE TABLE att_refs ("
        " doc_id TEXT NOT NULL, rev TEXT NOT NULL, digest TEXT NOT NULL,"
        " PRIMARY KEY (doc_id, rev, digest)) WITHOUT ROWID",
        "CREATE INDEX att_refs_by_digest ON att_refs (digest)",
        "CREATE TABLE attachments ("
        " digest TEXT PRIMARY KEY, length INTEGER NOT NULL, data BLOB NOT NULL)",
        "CREATE TABLE local_docs ("
        " doc_id TEXT PRIMARY KEY, rev INTEGER NOT NULL, body BLOB NOT NULL)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


async def open_connection(path: Path, **options: Any) -> aiosqlite.Connection:
    """``aiosqlite.connect`` to the private file at ``path``, never leaked by a cancel.

    aiosqlite opens the file in its own thread, which finishes whatever the
    awaiting task does: a task cancelled meanwhile (a gateway stopping while a
    background job opens a station) would drop a connection that is open,
    holding its file locks, and warn from its finaliser. So a cancelled open
    waits for the connection and closes it before it lets the cancel through."""
    if str(path) != ":memory:":
        sqlite_files(path)
    opening = asyncio.ensure_future(aiosqlite.connect(str(path), **options))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await (await opening).close()
        raise


async def connect(path: Path) -> aiosqlite.Connection:
    """A connection to the file at ``path`` with the settings every store connection uses;
    the file and its ``-wal``/``-shm`` are owner-only (:mod:`sync.files`)."""
    # isolation_level=None: we issue BEGIN/COMMIT ourselves, one per call.
    conn = await open_connection(path, isolation_level=None)
    try:
        # WAL: readers never block the writer and see only committed data.
        # synchronous=NORMAL: in WAL mode a killed *process* loses nothing that
        # committed (the WAL is in the OS page cache); only a power cut may drop
        # the last transactions, and never corrupts the file (sqlite.org/wal.html).
        # temp_store=MEMORY: sorts and temp tables never spill record text to
        # temp files on disk (the encrypted replica relies on this).
        for pragma in (
            "PRAGMA journal_mode=WAL",
            "PRAGMA synchronous=NORMAL",
            "PRAGMA temp_store=MEMORY",
            "PRAGMA busy_timeout=10000",
        ):
            await conn.execute(pragma)
    except BaseException:
        await conn.close()
        raise
    return conn


async def migrate(conn: aiosqlite.Connection) -> None:
    """Bring the file up to :data:`SCHEMA_VERSION` in one transaction; refuse a newer file."""
    await conn.execute("BEGIN IMMEDIATE")
    try:
        rows = await conn.execute_fetchall("PRAGMA user_version")
        version = int(next(iter(rows))[0])
        if version > SCHEMA_VERSION:
            raise PreconditionFailed(
                f"database file has schema version {version};"
                f" this program knows up to {SCHEMA_VERSION}",
                error="schema_too_new",
            )
        for number, statements in itertools.islice(enumerate(MIGRATIONS, 1), version, None):
            for statement in statements:
                await conn.execute(statement)
            if number == 1:
                await conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [
                        ("uuid", uuid.uuid4().hex),
                        ("update_seq", "0"),
                        ("purge_seq", "0"),
                        ("revs_limit", str(DEFAULT_REVS_LIMIT)),
                    ],
                )
            await conn.execute(f"PRAGMA user_version = {number}")
    except BaseException:
        await conn.execute("ROLLBACK")
        raise
    await conn.execute("COMMIT")


async def get_meta_int(conn: aiosqlite.Connection, key: str) -> int:
    """The counter ``key`` of the ``meta`` table, as seen by ``conn``."""
    rows = await conn.execute_fetchall("SELECT value FROM meta WHERE key = ?", (key,))
    return int(next(iter(rows))[0])


async def set_meta(conn: aiosqlite.Connection, key: str, value: int | str) -> None:
    """Store ``value`` under ``key`` in the ``meta`` table (inside the caller's transaction)."""
    await conn.execute(
        "INSERT INTO meta (key, value) VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, str(value)),
    )
