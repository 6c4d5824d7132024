"""The store's core: the two connections of one SQLite file and what every
part of the store shares through them.

Writes go through one connection, serialized by an asyncio lock, one
transaction per call; reads use a second connection, so with WAL they see only
committed transactions and never a half-written batch. The other parts of the
store (:mod:`~sync.sqlite.reads`, :mod:`~sync.sqlite.writes`,
:mod:`~sync.sqlite.local_docs`, :mod:`~sync.sqlite.feed`) each receive this
object; none of them knows the others except as it is handed them.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite
import orjson

from sync import revtree
from sync.codec import BodyCodec, PlainCodec, attachment_aad, body_aad
from sync.database import Doc
from sync.errors import BadRequest
from sync.revtree import RevInfo
from sync.sqlite.schema import connect, get_meta_int, migrate, set_meta

__all__ = ["CHUNK", "Loaded", "StoreCore", "chunks", "placeholders"]

# Stay well under SQLITE_MAX_VARIABLE_NUMBER (999 in old builds) per IN (...).
CHUNK = 900


def chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    """``items`` in slices small enough for one ``IN (...)``."""
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def placeholders(n: int) -> str:
    return ",".join("?" * n)


@dataclass(frozen=True, slots=True)
class Loaded:
    """One document as read: its tree and the sealed bodies of its leaves."""

    tree: dict[str, RevInfo]
    bodies: dict[str, bytes]


class StoreCore:
    """The connections, locks and counters of one open database file.

    Open with :meth:`open`; the reader and writer are the same connection for
    ``":memory:"`` (a second connection would see another, empty database)."""

    def __init__(
        self,
        writer: aiosqlite.Connection,
        reader: aiosqlite.Connection,
        *,
        path: Path,
        name: str,
        codec: BodyCodec,
        db_uuid: str,
        revs_limit: int,
        update_seq: int,
    ) -> None:
        self.writer = writer
        self.reader = reader
        self.path = path
        self.name = name
        self.codec = codec
        self.uuid = db_uuid
        self.revs_limit = revs_limit
        self.write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self.seen_seq = update_seq  # the newest seq this process has committed or read
        self.closed = False

    @classmethod
    async def open(
        cls, path: Path, *, name: str | None, codec: BodyCodec | None, revs_limit: int | None
    ) -> StoreCore:
        """Connect to (creating and migrating as needed) the file at ``path``."""
        writer = await connect(path)
        reader = None
        # Until the core is returned, nothing else can close its connections:
        # a failure or a cancel here closes them.
        try:
            await migrate(writer)
            reader = await connect(path) if str(path) != ":memory:" else writer
            meta: dict[str, str] = {
                key: value
                for key, value in await writer.execute_fetchall("SELECT key, value FROM meta")
            }
            core = cls(
                writer,
                reader,
                path=path,
                name=name or path.stem,
                codec=codec or PlainCodec(),
                db_uuid=meta["uuid"],
                revs_limit=int(meta["revs_limit"]),
                update_seq=int(meta["update_seq"]),
            )
            if revs_limit is not None:
                await core.set_revs_limit(revs_limit)
        except BaseException:
            if reader is not None and reader is not writer:
                await reader.close()
            await writer.close()
            raise
        return core

    async def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        async with self._changed:
            self._changed.notify_all()  # let longpolls return instead of waiting out
        if self.reader is not self.writer:
            await self.reader.close()
        await self.writer.close()

    async def set_revs_limit(self, limit: int) -> None:
        """``PUT /{db}/_revs_limit``: applies to the documents written from now on."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise BadRequest("revs_limit must be a positive integer")
        async with self.write_lock, self.transaction() as conn:
            await set_meta(conn, "revs_limit", limit)
        self.revs_limit = limit

    # -- transactions ---------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the writer connection (callers hold the write lock)."""
        conn = self.writer
        # IMMEDIATE takes the write lock up front, so a second process writing
        # the same file waits (busy_timeout) instead of failing mid-batch.
        try:
            await conn.execute("BEGIN IMMEDIATE")
            yield conn
        except BaseException:
            # Also when the await of BEGIN was cancelled: the BEGIN still runs
            # (see snapshot), and an open transaction would swallow later writes.
            with contextlib.suppress(sqlite3.OperationalError):  # no BEGIN ran
                await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")

    @contextlib.asynccontextmanager
    async def snapshot(self, needed: bool) -> AsyncIterator[None]:
        """One read transaction over several statements (bodies, then their blobs),
        so a write committed in between cannot collect a blob we are about to read."""
        if not needed or self.reader is self.writer:  # ":memory:" has one connection
            yield
            return
        async with self._read_lock:
            try:
                await self.reader.execute("BEGIN")
                yield
            finally:
                # aiosqlite queues statements on one thread in order: a BEGIN
                # whose await was cancelled still runs, and this COMMIT ends it
                # (left open, every later read would see this old snapshot).
                with contextlib.suppress(sqlite3.OperationalError):  # no BEGIN ran
                    await self.reader.execute("COMMIT")

    # -- the update sequence ----------------------------------------------------------

    async def committed(self, seq: int) -> None:
        """A write transaction ending at ``seq`` committed: wake the longpolls."""
        if seq > self.seen_seq:
            self.seen_seq = seq
            async with self._changed:
                self._changed.notify_all()

    async def update_seq(self) -> int:
        """The file's update_seq as committed (by this process or another)."""
        seq = await get_meta_int(self.reader, "update_seq")
        self.seen_seq = max(self.seen_seq, seq)
        return seq

    async def wait_for_write(self, after: int, timeout: float) -> None:
        """Return once this process committed past ``after``, on close, or after ``timeout``."""
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self.seen_seq > after or self.closed), timeout
                )

    # -- reading what the other parts share -------------------------------------------------

    async def load(self, doc_ids: Sequence[str]) -> dict[str, Loaded]:
        """Trees and leaf bodies of ``doc_ids``, one statement per chunk (one snapshot each)."""
        found: dict[str, Loaded] = {}
        for chunk in chunks(list(dict.fromkeys(doc_ids))):
            rows = await self.reader.execute_fetchall(
                "SELECT d.doc_id, d.tree, r.rev, r.body FROM docs d"
                " LEFT JOIN revs r ON r.doc_id = d.doc_id"
                f" WHERE d.doc_id IN ({placeholders(len(chunk))})",
                chunk,
            )
            for doc_id, tree, rev, body in rows:
                loaded = found.get(doc_id)
                if loaded is None:
                    loaded = found[doc_id] = Loaded(revtree.decode_tree(orjson.loads(tree)), {})
                if rev is not None:
                    loaded.bodies[rev] = body
        return found

    @staticmethod
    async def trees(
        conn: aiosqlite.Connection, doc_ids: Sequence[str]
    ) -> dict[str, dict[str, RevInfo]]:
        """The revision trees of those of ``doc_ids`` the file has, read through ``conn``."""
        trees: dict[str, dict[str, RevInfo]] = {}
        for chunk in chunks(list(dict.fromkeys(doc_ids))):
            rows = await conn.execute_fetchall(
                f"SELECT doc_id, tree FROM docs WHERE doc_id IN ({placeholders(len(chunk))})",
                chunk,
            )
            for doc_id, tree in rows:
                trees[doc_id] = revtree.decode_tree(orjson.loads(tree))
        return trees

    def open_body(self, doc_id: str, rev: str, sealed: bytes) -> Doc:
        body: Doc = orjson.loads(self.codec.open(body_aad(doc_id, rev), sealed))
        return body

    async def blobs(self, digests: Iterable[str]) -> dict[str, bytes]:
        """The opened attachment data of these digests (those the file has)."""
        blobs: dict[str, bytes] = {}
        for chunk in chunks(list(dict.fromkeys(digests))):
            rows = await self.reader.execute_fetchall(
                "SELECT digest, data FROM attachments"
                f" WHERE digest IN ({placeholders(len(chunk))})",
                chunk,
            )
            for digest, data in rows:
                blobs[digest] = self.codec.open(attachment_aad(digest), data)
        return blobs
