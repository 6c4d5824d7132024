"""The embedded store: one CouchDB database in one SQLite file (aiosqlite).

:class:`SQLiteDatabase` is the :class:`~sync.database.Database` the rest of the
project uses; it hands each call to the part that does it, all sharing one
:class:`~sync.sqlite.core.StoreCore` (the connections, the write lock, the
update sequence):

- :mod:`sync.sqlite.reads`: get, open_revs, ``_bulk_get``, ``_revs_diff``;
- :mod:`sync.sqlite.writes`: put, ``_bulk_docs``, attachments, ``_purge``;
- :mod:`sync.sqlite.local_docs`: ``_local`` documents;
- :mod:`sync.sqlite.feed`: ``_changes`` (and longpoll), ``_all_docs``.

The file layout, its migrations and connection settings live in
:mod:`sync.sqlite.schema`; checking the documents of a write, in
:mod:`sync.sqlite.edits`.

Only ids, revs, digests, lengths and counters are stored in the clear; every
body, attachment and local document passes through the :class:`BodyCodec`
(see :mod:`sync.codec`), so with the field replica's AEAD codec no record text
reaches the file or its WAL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from sync.codec import BodyCodec
from sync.database import Database, Doc, Seq
from sync.revtree import DEFAULT_REVS_LIMIT
from sync.sqlite.core import StoreCore
from sync.sqlite.edits import LOCAL_PREFIX
from sync.sqlite.feed import Feed
from sync.sqlite.local_docs import LocalDocs
from sync.sqlite.query_args import feed_query
from sync.sqlite.reads import Reads
from sync.sqlite.schema import SCHEMA_VERSION
from sync.sqlite.writes import Writes

__all__ = ["DEFAULT_REVS_LIMIT", "SCHEMA_VERSION", "SQLiteDatabase"]


class SQLiteDatabase(Database):
    """A :class:`~sync.database.Database` in one SQLite file. Open with :meth:`open`."""

    def __init__(self, core: StoreCore) -> None:
        self._core = core
        self._reads = Reads(core)
        self._local_docs = LocalDocs(core)
        self._writes = Writes(core, self._local_docs)
        self._feed = Feed(core, self._reads)

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        name: str | None = None,
        codec: BodyCodec | None = None,
        revs_limit: int | None = None,
    ) -> SQLiteDatabase:
        """Open (creating and migrating as needed) the database file at ``path``.

        ``revs_limit`` sets and stores the database's ``_revs_limit``; ``None``
        keeps the stored one (CouchDB's 1000 for a new file).
        """
        core = await StoreCore.open(Path(path), name=name, codec=codec, revs_limit=revs_limit)
        return cls(core)

    async def close(self) -> None:
        await self._core.close()

    def __repr__(self) -> str:
        return f"SQLiteDatabase({str(self._core.path)!r}, name={self._core.name!r})"

    @property
    def path(self) -> Path:
        return self._core.path

    # -- database-level ----------------------------------------------------------------

    async def identity(self) -> str:
        return f"sqlite:{self._core.uuid}"

    async def info(self) -> Doc:
        rows = await self._core.reader.execute_fetchall(
            "SELECT (SELECT COUNT(*) FROM docs WHERE deleted = 0),"
            " (SELECT COUNT(*) FROM docs WHERE deleted = 1),"
            " (SELECT value FROM meta WHERE key = 'update_seq'),"
            " (SELECT value FROM meta WHERE key = 'purge_seq')"
        )
        doc_count, del_count, update_seq, purge_seq = next(iter(rows))
        return {
            "db_name": self._core.name,
            "doc_count": doc_count,
            "doc_del_count": del_count,
            "update_seq": int(update_seq),
            "purge_seq": int(purge_seq),
            "instance_start_time": "0",
            "revs_limit": self._core.revs_limit,
        }

    async def revs_limit(self) -> int:
        return self._core.revs_limit

    async def set_revs_limit(self, limit: int) -> None:
        """``PUT /{db}/_revs_limit``: applies to the documents written from now on."""
        await self._core.set_revs_limit(limit)

    # -- reads ----------------------------------------------------------------------------

    async def get(
        self,
        doc_id: str,
        *,
        rev: str | None = None,
        revs: bool = False,
        conflicts: bool = False,
        deleted_conflicts: bool = False,
        attachments: bool = False,
        latest: bool = False,
    ) -> Doc:
        if isinstance(doc_id, str) and doc_id.startswith(LOCAL_PREFIX):
            return await self._local_docs.get(doc_id)
        return await self._reads.get(
            doc_id,
            rev=rev,
            revs=revs,
            conflicts=conflicts,
            deleted_conflicts=deleted_conflicts,
            attachments=attachments,
            latest=latest,
        )

    async def open_revs(
        self,
        doc_id: str,
        revs: Sequence[str] | Literal["all"],
        *,
        include_revisions: bool = True,
        attachments: bool = False,
        latest: bool = False,
    ) -> list[Doc]:
        return await self._reads.open_revs(
            doc_id,
            revs,
            include_revisions=include_revisions,
            attachments=attachments,
            latest=latest,
        )

    async def bulk_get(
        self,
        docs: Sequence[Mapping[str, Any]],
        *,
        revs: bool = True,
        attachments: bool = False,
        latest: bool = False,
    ) -> list[Doc]:
        return await self._reads.bulk_get(docs, revs=revs, attachments=attachments, latest=latest)

    async def revs_diff(self, revs: Mapping[str, Sequence[str]]) -> dict[str, Doc]:
        return await self._reads.revs_diff(revs)

    # -- writes ---------------------------------------------------------------------------

    async def put(self, doc: Doc, *, new_edits: bool = True) -> Doc:
        return await self._writes.put(doc, new_edits=new_edits)

    async def bulk_docs(self, docs: Sequence[Doc], *, new_edits: bool = True) -> list[Doc]:
        return await self._writes.bulk_docs(docs, new_edits=new_edits)

    async def purge(self, revs: Mapping[str, Sequence[str]]) -> Doc:
        return await self._writes.purge(revs)

    # -- local documents ----------------------------------------------------------------

    async def get_local(self, local_id: str) -> Doc:
        return await self._local_docs.get(local_id)

    async def put_local(self, doc: Doc) -> Doc:
        return await self._local_docs.put(doc)

    async def delete_local(self, local_id: str, rev: str) -> Doc:
        return await self._local_docs.delete(local_id, rev)

    # -- the feed and the index -----------------------------------------------------------

    async def changes(
        self,
        *,
        since: Seq | Literal["now"] = 0,
        limit: int | None = None,
        include_docs: bool = False,
        style: Literal["main_only", "all_docs"] = "main_only",
        doc_ids: Sequence[str] | None = None,
        selector: Mapping[str, Any] | None = None,
        feed: Literal["normal", "longpoll"] = "normal",
        timeout: float | None = None,
        descending: bool = False,
        conflicts: bool = False,
    ) -> Doc:
        query = feed_query(
            limit=limit,
            include_docs=include_docs,
            style=style,
            doc_ids=doc_ids,
            selector=selector,
            feed=feed,
            descending=descending,
            conflicts=conflicts,
        )
        return await self._feed.changes(since, query, longpoll=feed == "longpoll", timeout=timeout)

    def changes_feed(
        self,
        *,
        since: Seq | Literal["now"] = 0,
        include_docs: bool = False,
        style: Literal["main_only", "all_docs"] = "main_only",
        doc_ids: Sequence[str] | None = None,
        selector: Mapping[str, Any] | None = None,
        heartbeat: float = 30.0,
    ) -> AsyncIterator[Doc]:
        query = feed_query(
            limit=None,
            include_docs=include_docs,
            style=style,
            doc_ids=doc_ids,
            selector=selector,
            feed="longpoll",
            descending=False,
            conflicts=False,
        )
        return self._feed.changes_feed(since, query, heartbeat=heartbeat)

    async def all_docs(
        self,
        *,
        keys: Sequence[str] | None = None,
        startkey: str | None = None,
        endkey: str | None = None,
        limit: int | None = None,
        skip: int = 0,
        include_docs: bool = False,
        descending: bool = False,
        inclusive_end: bool = True,
    ) -> Doc:
        return await self._feed.all_docs(
            keys=keys,
            startkey=startkey,
            endkey=endkey,
            limit=limit,
            skip=skip,
            include_docs=include_docs,
            descending=descending,
            inclusive_end=inclusive_end,
        )
