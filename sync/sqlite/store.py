"""The embedded store: one CouchDB database in one SQLite file (aiosqlite).

The file layout, its migrations and connection settings live in
:mod:`sync.sqlite.schema`; checking the documents of a write, in
:mod:`sync.sqlite.edits`.

Only ids, revs, digests, lengths and counters are stored in the clear; every
body, attachment and local document passes through the :class:`BodyCodec`
(see :mod:`sync.codec`), so with the field replica's AEAD codec no record text
reaches the file or its WAL. Selectors therefore run in Python over opened
bodies, never in SQL.

Writes go through one connection, serialized by an asyncio lock, one
transaction per call; reads use a second connection, so with WAL they see only
committed transactions and never a half-written batch.

A malformed document fails the whole ``bulk_docs`` request before anything
is written (see :mod:`sync.sqlite.edits`); conflicts and missing attachment stubs are
per-document answers. A longpoll wakes at once on writes made through this object, and
re-reads the file every few seconds to notice other writers.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import aiosqlite
import orjson

from sync import revtree
from sync.attachments import (
    AttachmentMeta,
    Inline,
    Stub,
    missing_stub,
    parse_atts_since,
    render_attachments,
    revpos_since,
)
from sync.codec import BodyCodec, PlainCodec, attachment_aad, body_aad, local_aad
from sync.database import Database, Doc, Seq
from sync.errors import (
    BadRequest,
    Conflict,
    CouchError,
    NotFound,
)
from sync.revid import new_rev, user_fields
from sync.revs_map import check_revs_map
from sync.revtree import DEFAULT_REVS_LIMIT, RevInfo
from sync.sqlite.edits import (
    LOCAL_PREFIX,
    Edit,
    check_doc_id,
    dumps,
    failure,
    local_rev,
    parse_batch,
    parse_edit,
    raise_for,
)
from sync.sqlite.query_args import FeedQuery, check_count, feed_query, parse_since
from sync.sqlite.schema import SCHEMA_VERSION, connect, get_meta_int, migrate, set_meta

__all__ = ["DEFAULT_REVS_LIMIT", "SCHEMA_VERSION", "SQLiteDatabase"]

# Stay well under SQLITE_MAX_VARIABLE_NUMBER (999 in old builds) per IN (...).
_CHUNK = 900
# Rows read per query while a selector filters the feed.
_FEED_PAGE = 500
# CouchDB's default longpoll timeout (seconds) when none is given.
_DEFAULT_LONGPOLL = 60.0
# A longpoll re-reads the file this often, to notice writes by another process.
_POLL_SLICE = 5.0


# -- SQL helpers ----------------------------------------------------------------


def _chunks(items: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


def _placeholders(n: int) -> str:
    return ",".join("?" * n)


# -- write-side working state --------------------------------------------------------


@dataclass(slots=True)
class _Work:
    """One document during a write transaction."""

    tree: dict[str, RevInfo]
    stored: frozenset[str]  # revs whose body is in `revs` at the start (the leaves)
    bodies: dict[str, tuple[bytes, dict[str, AttachmentMeta]]] = field(default_factory=dict)
    changed: bool = False


@dataclass(frozen=True, slots=True)
class _Loaded:
    """One document as read: its tree and the sealed bodies of its leaves."""

    tree: dict[str, RevInfo]
    bodies: dict[str, bytes]


def _leaves_from(tree: Mapping[str, RevInfo], rev: str) -> list[str]:
    """The leaves descending from ``rev`` (``latest=true``), winner first."""
    return [leaf for leaf in revtree.leaves(tree) if rev in revtree.ancestry(tree, leaf)]


def _stub_match(
    name: str, stub: Stub, candidates: Sequence[Mapping[str, AttachmentMeta]]
) -> AttachmentMeta | None:
    """The stored attachment a stub names (see ``_resolve_attachments``), or None."""
    if stub.digest is None:
        meta = candidates[0].get(name) if candidates else None
        return meta
    for metas in candidates:
        meta = metas.get(name)
        if meta is not None and meta["digest"] == stub.digest:
            return meta
    for metas in candidates:
        for meta in metas.values():
            if meta["digest"] == stub.digest:
                return meta
    return None


class SQLiteDatabase(Database):
    """A :class:`~sync.database.Database` in one SQLite file. Open with :meth:`open`."""

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
    ) -> None:
        self._writer = writer
        self._reader = reader
        self._path = path
        self._name = name
        self._codec = codec
        self._uuid = db_uuid
        self._revs_limit = revs_limit
        self._write_lock = asyncio.Lock()
        self._read_lock = asyncio.Lock()
        self._changed = asyncio.Condition()
        self._seen_seq = 0  # the newest seq this process has committed or read
        self._closed = False

    # -- opening and closing --------------------------------------------------------

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
        path = Path(path)
        writer = await connect(path)
        try:
            await migrate(writer)
            reader = await connect(path) if str(path) != ":memory:" else writer
        except BaseException:
            await writer.close()
            raise
        meta: dict[str, str] = {
            key: value
            for key, value in await writer.execute_fetchall("SELECT key, value FROM meta")
        }
        limit = revs_limit if revs_limit is not None else int(meta["revs_limit"])
        db = cls(
            writer,
            reader,
            path=path,
            name=name or path.stem,
            codec=codec or PlainCodec(),
            db_uuid=meta["uuid"],
            revs_limit=limit,
        )
        if revs_limit is not None:
            await db.set_revs_limit(revs_limit)
        db._seen_seq = int(meta["update_seq"])
        return db

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        async with self._changed:
            self._changed.notify_all()  # let longpolls return instead of waiting out
        if self._reader is not self._writer:
            await self._reader.close()
        await self._writer.close()

    def __repr__(self) -> str:
        return f"SQLiteDatabase({str(self._path)!r}, name={self._name!r})"

    @property
    def path(self) -> Path:
        return self._path

    # -- database-level ----------------------------------------------------------------

    async def identity(self) -> str:
        return f"sqlite:{self._uuid}"

    async def info(self) -> Doc:
        rows = await self._reader.execute_fetchall(
            "SELECT (SELECT COUNT(*) FROM docs WHERE deleted = 0),"
            " (SELECT COUNT(*) FROM docs WHERE deleted = 1),"
            " (SELECT value FROM meta WHERE key = 'update_seq'),"
            " (SELECT value FROM meta WHERE key = 'purge_seq')"
        )
        doc_count, del_count, update_seq, purge_seq = next(iter(rows))
        return {
            "db_name": self._name,
            "doc_count": doc_count,
            "doc_del_count": del_count,
            "update_seq": int(update_seq),
            "purge_seq": int(purge_seq),
            "instance_start_time": "0",
            "revs_limit": self._revs_limit,
        }

    async def revs_limit(self) -> int:
        return self._revs_limit

    async def set_revs_limit(self, limit: int) -> None:
        """``PUT /{db}/_revs_limit``: applies to the documents written from now on."""
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise BadRequest("revs_limit must be a positive integer")
        async with self._write_lock, self._transaction() as conn:
            await set_meta(conn, "revs_limit", limit)
        self._revs_limit = limit

    # -- reading documents ------------------------------------------------------------

    async def _load(self, doc_ids: Sequence[str]) -> dict[str, _Loaded]:
        """Trees and leaf bodies of ``doc_ids``, one statement per chunk (one snapshot each)."""
        found: dict[str, _Loaded] = {}
        unique = list(dict.fromkeys(doc_ids))
        for chunk in _chunks(unique):
            rows = await self._reader.execute_fetchall(
                "SELECT d.doc_id, d.tree, r.rev, r.body FROM docs d"
                " LEFT JOIN revs r ON r.doc_id = d.doc_id"
                f" WHERE d.doc_id IN ({_placeholders(len(chunk))})",
                chunk,
            )
            for doc_id, tree, rev, body in rows:
                loaded = found.get(doc_id)
                if loaded is None:
                    loaded = found[doc_id] = _Loaded(revtree.decode_tree(orjson.loads(tree)), {})
                if rev is not None:
                    loaded.bodies[rev] = body
        return found

    @contextlib.asynccontextmanager
    async def _snapshot(self, needed: bool) -> AsyncIterator[None]:
        """One read transaction over several statements (bodies, then their blobs),
        so a write committed in between cannot collect a blob we are about to read."""
        if not needed or self._reader is self._writer:  # ":memory:" has one connection
            yield
            return
        async with self._read_lock:
            try:
                await self._reader.execute("BEGIN")
                yield
            finally:
                # aiosqlite queues statements on one thread in order: a BEGIN
                # whose await was cancelled still runs, and this COMMIT ends it
                # (left open, every later read would see this old snapshot).
                with contextlib.suppress(sqlite3.OperationalError):  # no BEGIN ran
                    await self._reader.execute("COMMIT")

    def _open_body(self, doc_id: str, rev: str, sealed: bytes) -> dict[str, Any]:
        body: dict[str, Any] = orjson.loads(self._codec.open(body_aad(doc_id, rev), sealed))
        return body

    async def _blobs(self, digests: Iterable[str]) -> dict[str, bytes]:
        wanted = list(dict.fromkeys(digests))
        blobs: dict[str, bytes] = {}
        for chunk in _chunks(wanted):
            rows = await self._reader.execute_fetchall(
                "SELECT digest, data FROM attachments"
                f" WHERE digest IN ({_placeholders(len(chunk))})",
                chunk,
            )
            for digest, data in rows:
                blobs[digest] = self._codec.open(attachment_aad(digest), data)
        return blobs

    async def _render_all(
        self,
        items: Sequence[tuple[str, str, Mapping[str, RevInfo], bytes]],
        *,
        revisions: bool,
        attachments: bool,
        atts_since: Sequence[list[str] | None] | None = None,
    ) -> list[Doc]:
        """Documents for ``(doc_id, rev, tree, sealed body)``, as CouchDB returns them.

        ``atts_since`` (one entry per item) inlines only the attachments newer
        than those revs (:func:`sync.attachments.revpos_since`); it implies
        ``attachments``, as in CouchDB's ``_bulk_get``.
        """
        bodies = [self._open_body(doc_id, rev, sealed) for doc_id, rev, _, sealed in items]
        since = atts_since or [None] * len(items)
        inline_after = [
            0 if revs is None else revpos_since(revtree.ancestry(tree, rev), set(revs))
            for (_, rev, tree, _), revs in zip(items, since, strict=True)
        ]
        wants_data = [attachments or revs is not None for revs in since]
        blobs: dict[str, bytes] = {}
        if any(wants_data):
            blobs = await self._blobs(
                meta["digest"]
                for body, after, wanted in zip(bodies, inline_after, wants_data, strict=True)
                if wanted
                for meta in body.get("_attachments", {}).values()
                if meta["revpos"] > after
            )
        docs: list[Doc] = []
        for (doc_id, rev, tree, _), body, wanted, after in zip(
            items, bodies, wants_data, inline_after, strict=True
        ):
            metas = body.pop("_attachments", None)
            doc: Doc = {"_id": doc_id, "_rev": rev, **body}
            if tree[rev].deleted:
                doc["_deleted"] = True
            if metas:
                doc["_attachments"] = render_attachments(
                    metas,
                    blobs.__getitem__ if wanted else None,
                    inline_after=after,
                )
            if revisions:
                doc["_revisions"] = revtree.revisions_of(tree, rev)
            docs.append(doc)
        return docs

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
            return await self.get_local(doc_id)
        check_doc_id(doc_id)
        if rev is not None:
            revtree.parse_rev(rev)
        async with self._snapshot(attachments):
            loaded = (await self._load([doc_id])).get(doc_id)
            if loaded is None:
                raise NotFound("missing")
            tree = loaded.tree
            winner = revtree.winning_rev(tree)
            if rev is None:
                if tree[winner].deleted:
                    raise NotFound("deleted")
                target = winner
            elif rev not in tree:
                raise NotFound("missing")
            else:
                target = _leaves_from(tree, rev)[0] if latest else rev
            sealed = loaded.bodies.get(target)
            if sealed is None:
                raise NotFound("missing")  # an old revision: its body was compacted away
            (doc,) = await self._render_all(
                [(doc_id, target, tree, sealed)], revisions=revs, attachments=attachments
            )
        if target == winner:
            if conflicts and (found := revtree.conflicts(tree)):
                doc["_conflicts"] = found
            if deleted_conflicts and (found := revtree.deleted_conflicts(tree)):
                doc["_deleted_conflicts"] = found
        return doc

    def _pick(
        self,
        doc_id: str,
        loaded: _Loaded | None,
        revs: Sequence[str] | Literal["all"],
        latest: bool,
    ) -> list[tuple[str, str | None]]:
        """``(requested rev, rev to show or None when missing)`` for an ``open_revs`` request."""
        if revs == "all":
            return [] if loaded is None else [(r, r) for r in revtree.leaves(loaded.tree)]
        picked: list[tuple[str, str | None]] = []
        for rev in revs:
            revtree.parse_rev(rev)
            if loaded is None or rev not in loaded.tree:
                picked.append((rev, None))
            elif latest:
                picked.extend((rev, leaf) for leaf in _leaves_from(loaded.tree, rev))
            else:
                picked.append((rev, rev if rev in loaded.bodies else None))
        return picked

    async def _open_revs_of(
        self,
        requests: Sequence[tuple[str, Sequence[str] | Literal["all"] | None]],
        *,
        revisions: bool,
        attachments: bool,
        latest: bool,
        atts_since: Sequence[list[str] | None] | None = None,
    ) -> list[list[Doc]]:
        """``open_revs`` answers for several documents at once (``None`` revs: the winner;
        ``atts_since``: one entry per request, see :meth:`_render_all`)."""
        since = atts_since or [None] * len(requests)
        async with self._snapshot(attachments or any(since)):
            loaded = await self._load([doc_id for doc_id, _ in requests])
            plans: list[list[tuple[str, str | None]]] = []
            items: list[tuple[str, str, Mapping[str, RevInfo], bytes]] = []
            item_since: list[list[str] | None] = []
            for (doc_id, revs), revs_since in zip(requests, since, strict=True):
                doc = loaded.get(doc_id)
                plan: list[tuple[str, str | None]]
                if revs is None:
                    plan = [("", revtree.winning_rev(doc.tree) if doc else None)]
                else:
                    plan = self._pick(doc_id, doc, revs, latest)
                plans.append(plan)
                for _, shown in plan:
                    if shown is not None and doc is not None:
                        items.append((doc_id, shown, doc.tree, doc.bodies[shown]))
                        item_since.append(revs_since)
            rendered = iter(
                await self._render_all(
                    items, revisions=revisions, attachments=attachments, atts_since=item_since
                )
            )
        return [
            [
                {"ok": next(rendered)} if shown is not None else {"missing": asked}
                for asked, shown in plan
            ]
            for plan in plans
        ]

    async def open_revs(
        self,
        doc_id: str,
        revs: Sequence[str] | Literal["all"],
        *,
        include_revisions: bool = True,
        attachments: bool = False,
        latest: bool = False,
    ) -> list[Doc]:
        check_doc_id(doc_id)
        if revs != "all" and (isinstance(revs, str) or not isinstance(revs, Sequence)):
            raise BadRequest('open_revs must be "all" or a JSON array of revs')
        (answer,) = await self._open_revs_of(
            [(doc_id, revs)], revisions=include_revisions, attachments=attachments, latest=latest
        )
        return answer

    async def bulk_get(
        self,
        docs: Sequence[Mapping[str, Any]],
        *,
        revs: bool = True,
        attachments: bool = False,
        latest: bool = False,
    ) -> list[Doc]:
        if isinstance(docs, str | bytes) or not isinstance(docs, Sequence):
            raise BadRequest('_bulk_get needs {"docs": [{"id", "rev"?}, ...]}')
        requests: list[tuple[str, Sequence[str] | None]] = []
        since: list[list[str] | None] = []
        for item in docs:
            if not isinstance(item, Mapping):
                raise BadRequest("Each requested doc must be an object")
            doc_id = check_doc_id(item.get("id"))
            rev = item.get("rev")
            if rev is not None:
                revtree.parse_rev(rev)
            requests.append((doc_id, None if rev is None else [rev]))
            since.append(parse_atts_since(item.get("atts_since")))
        answers = await self._open_revs_of(
            requests, revisions=revs, attachments=attachments, latest=latest, atts_since=since
        )
        results: list[Doc] = []
        for (doc_id, asked), answer in zip(requests, answers, strict=True):
            shown: list[Doc] = []
            for entry in answer:
                if "ok" in entry:
                    shown.append(entry)
                else:
                    # CouchDB 3 names an unspecified rev "undefined" in this error.
                    rev = asked[0] if asked else "undefined"
                    error = {"id": doc_id, "rev": rev, "error": "not_found", "reason": "missing"}
                    shown.append({"error": error})
            results.append({"id": doc_id, "docs": shown})
        return results

    async def revs_diff(self, revs: Mapping[str, Sequence[str]]) -> dict[str, Doc]:
        check_revs_map(revs, endpoint="_revs_diff", check_id=check_doc_id)
        trees = await self._trees(self._reader, list(revs))
        diff: dict[str, Doc] = {}
        for doc_id, doc_revs in revs.items():
            tree = trees.get(doc_id, {})
            missing = revtree.missing_revs(tree, dict.fromkeys(doc_revs))
            if not missing:
                continue
            entry: Doc = {"missing": missing}
            if tree and (ancestors := revtree.possible_ancestors(tree, missing)):
                entry["possible_ancestors"] = ancestors
            diff[doc_id] = entry
        return diff

    @staticmethod
    async def _trees(
        conn: aiosqlite.Connection, doc_ids: Sequence[str]
    ) -> dict[str, dict[str, RevInfo]]:
        trees: dict[str, dict[str, RevInfo]] = {}
        unique = list(dict.fromkeys(doc_ids))
        for chunk in _chunks(unique):
            rows = await conn.execute_fetchall(
                f"SELECT doc_id, tree FROM docs WHERE doc_id IN ({_placeholders(len(chunk))})",
                chunk,
            )
            for doc_id, tree in rows:
                trees[doc_id] = revtree.decode_tree(orjson.loads(tree))
        return trees

    # -- writing documents --------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def _transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """One write transaction on the writer connection (callers hold the write lock)."""
        conn = self._writer
        # IMMEDIATE takes the write lock up front, so a second process writing
        # the same file waits (busy_timeout) instead of failing mid-batch.
        try:
            await conn.execute("BEGIN IMMEDIATE")
            yield conn
        except BaseException:
            # Also when the await of BEGIN was cancelled: the BEGIN still runs
            # (see _snapshot), and an open transaction would swallow later writes.
            with contextlib.suppress(sqlite3.OperationalError):  # no BEGIN ran
                await conn.execute("ROLLBACK")
            raise
        await conn.execute("COMMIT")

    async def put(self, doc: Doc, *, new_edits: bool = True) -> Doc:
        if not isinstance(doc, dict):
            raise BadRequest("Document must be a JSON object", error="bad_request")
        if "_id" not in doc:
            raise BadRequest("a document needs an _id to be PUT", error="illegal_docid")
        results = await self.bulk_docs([doc], new_edits=new_edits)
        if results:
            raise_for(results[0])
            return results[0]
        return {
            "ok": True,
            "id": doc["_id"],
            "rev": doc.get("_rev") or revtree.path_from_revisions(doc["_revisions"])[0],
        }

    async def bulk_docs(self, docs: Sequence[Doc], *, new_edits: bool = True) -> list[Doc]:
        edits = parse_batch(docs, new_edits)
        if not edits:
            return []
        async with self._write_lock:
            async with self._transaction() as conn:
                results, seq = await self._write(conn, edits, new_edits)
            await self._committed(seq)
        if new_edits:
            return results
        return [result for result in results if "error" in result]

    async def _committed(self, seq: int) -> None:
        if seq > self._seen_seq:
            self._seen_seq = seq
            async with self._changed:
                self._changed.notify_all()

    async def _write(
        self, conn: aiosqlite.Connection, edits: Sequence[Edit], new_edits: bool
    ) -> tuple[list[Doc], int]:
        doc_ids = [e.doc_id for e in edits if not e.doc_id.startswith(LOCAL_PREFIX)]
        trees = await self._trees(conn, doc_ids)
        work = {
            doc_id: _Work(dict(tree), frozenset(revtree.leaves(tree)))
            for doc_id, tree in trees.items()
        }
        blobs: dict[str, bytes] = {}
        # Changed docs in the order of their last change (a dict: O(1) moves to the end).
        order: dict[str, None] = {}
        results: list[Doc] = []
        for edit in edits:
            if edit.doc_id.startswith(LOCAL_PREFIX):
                results.append(await self._write_local(conn, edit))
                continue
            state = work.setdefault(edit.doc_id, _Work({}, frozenset()))
            try:
                if new_edits:
                    rev = await self._new_edit(conn, edit, state, blobs)
                else:
                    rev = await self._replicated_edit(conn, edit, state, blobs)
            except CouchError as exc:
                if isinstance(exc, BadRequest):
                    raise  # malformed input fails the whole batch, like CouchDB's 400
                results.append(failure(edit.doc_id, exc))
                continue
            results.append({"ok": True, "id": edit.doc_id, "rev": rev})
            if state.changed:
                order.pop(edit.doc_id, None)
                order[edit.doc_id] = None
        seq = await get_meta_int(conn, "update_seq")
        if order:
            seq = await self._flush(conn, [(doc_id, work[doc_id]) for doc_id in order], blobs, seq)
        return results, seq

    async def _attachment_metas(
        self, conn: aiosqlite.Connection, doc_id: str, state: _Work, rev: str
    ) -> dict[str, AttachmentMeta] | None:
        """The attachment metadata of a stored or just-written revision (None: no body kept)."""
        if rev in state.bodies:
            return state.bodies[rev][1]
        if rev not in state.stored:
            return None
        rows = await conn.execute_fetchall(
            "SELECT body FROM revs WHERE doc_id = ? AND rev = ?", (doc_id, rev)
        )
        for (sealed,) in rows:
            metas: dict[str, AttachmentMeta] = self._open_body(doc_id, rev, sealed).get(
                "_attachments", {}
            )
            return metas
        return None

    async def _resolve_attachments(
        self,
        conn: aiosqlite.Connection,
        edit: Edit,
        state: _Work,
        ancestors: Sequence[str],
        generation: int,
        blobs: dict[str, bytes],
        others: Sequence[str] = (),
    ) -> dict[str, AttachmentMeta]:
        """Attachment metadata of the new revision; inline data goes into ``blobs``.

        A stub names an attachment the document already has. With a digest it
        is the attachment of that digest in the nearest of ``ancestors`` (revs,
        nearest first) or of ``others`` (the other leaves: a replicated rev
        whose parent's body is gone still shares its photos with its
        siblings) that has it, same name first. Without a digest it is the
        attachment of that name in the nearest ancestor whose body the store
        keeps (CouchDB's ``make_first_doc_on_disk`` + ``merge_stubs``). Only
        this document's revisions count: a digest is no permission to read
        another document's attachment. Unresolved: 412 ``missing_stub``.
        """
        metas: dict[str, AttachmentMeta] = {}
        kept: tuple[list[dict[str, AttachmentMeta]], list[dict[str, AttachmentMeta]]] | None = None
        for name, att in edit.attachments.items():
            if isinstance(att, Inline):
                blobs[att.digest] = att.data
                # A replicated revision keeps the revpos it arrived with; a new
                # edit's inline attachment was added at this generation.
                revpos = att.revpos if edit.path and att.revpos is not None else generation
                metas[name] = {
                    "content_type": att.content_type,
                    "digest": att.digest,
                    "length": len(att.data),
                    "revpos": revpos,
                }
                continue
            if kept is None:
                ancestral = await self._kept_metas(conn, edit.doc_id, state, ancestors)
                others_kept = await self._kept_metas(conn, edit.doc_id, state, others)
                kept = (ancestral[:1], [*ancestral, *others_kept])
            by_name, by_digest = kept
            meta = _stub_match(name, att, by_name if att.digest is None else by_digest)
            if meta is None:
                raise missing_stub(edit.doc_id, name)
            if edit.path:
                # A replicated revision is stored as its source has it.
                meta = {
                    **meta,
                    "revpos": meta["revpos"] if att.revpos is None else att.revpos,
                    "content_type": att.content_type or meta["content_type"],
                }
            metas[name] = meta
        return metas

    async def _kept_metas(
        self, conn: aiosqlite.Connection, doc_id: str, state: _Work, revs: Sequence[str]
    ) -> list[dict[str, AttachmentMeta]]:
        """Attachment metadata of those of ``revs`` whose body the store keeps, in order."""
        found: list[dict[str, AttachmentMeta]] = []
        for rev in revs:
            metas = await self._attachment_metas(conn, doc_id, state, rev)
            if metas is not None:
                found.append(metas)
        return found

    def _keep(
        self,
        edit: Edit,
        state: _Work,
        rev: str,
        metas: dict[str, AttachmentMeta],
    ) -> None:
        body = user_fields(edit.doc)
        if metas:
            body["_attachments"] = metas
        sealed = self._codec.seal(body_aad(edit.doc_id, rev), dumps(body))
        state.bodies[rev] = (sealed, metas)
        state.changed = True

    async def _new_edit(
        self, conn: aiosqlite.Connection, edit: Edit, state: _Work, blobs: dict[str, bytes]
    ) -> str:
        tree = state.tree
        if edit.rev is None:
            # No _rev: a create, or a re-create on top of the deleted winner.
            parent = revtree.winning_rev(tree) if tree else None
            if parent is not None and not tree[parent].deleted:
                raise Conflict()
        else:
            if edit.rev not in tree or edit.rev in {i.parent for i in tree.values()}:
                raise Conflict()
            parent = edit.rev
        generation = 1 if parent is None else revtree.generation(parent) + 1
        ancestors = [parent] if parent is not None else []
        metas = await self._resolve_attachments(conn, edit, state, ancestors, generation, blobs)
        digests = [meta["digest"] for meta in metas.values()]
        try:
            rev = new_rev(parent, edit.deleted, edit.doc, digests)
        except TypeError as exc:  # orjson: a value JSON cannot hold
            raise BadRequest(f"Document is not valid JSON: {exc}", error="doc_validation") from None
        state.tree = revtree.stem(
            revtree.add_edit(tree, parent, rev, edit.deleted), self._revs_limit
        )
        self._keep(edit, state, rev, metas)
        return rev

    async def _replicated_edit(
        self, conn: aiosqlite.Connection, edit: Edit, state: _Work, blobs: dict[str, bytes]
    ) -> str:
        rev = edit.path[0]
        if rev in state.tree:
            return rev  # already known: CouchDB leaves the stored revision alone
        merged = revtree.merge(state.tree, revtree.path_tree(edit.path, edit.deleted))
        # Stubs refer to an ancestor the target already has (atts_since sent
        # only what is newer than it), by digest also to the other leaves.
        ancestors = [*edit.path[1:], *revtree.ancestry(state.tree, edit.path[-1])[1:]]
        others = [leaf for leaf in revtree.leaves(state.tree) if leaf not in ancestors]
        metas = await self._resolve_attachments(
            conn, edit, state, ancestors, revtree.generation(rev), blobs, others
        )
        state.tree = revtree.stem(merged, self._revs_limit)
        self._keep(edit, state, rev, metas)
        return rev

    async def _flush(
        self,
        conn: aiosqlite.Connection,
        changed: Sequence[tuple[str, _Work]],
        blobs: Mapping[str, bytes],
        seq: int,
        refs_dropped: bool = False,
    ) -> int:
        """Write the changed documents with new seqs; drop bodies that stopped being leaves."""
        doc_rows: list[tuple[str, bytes, str, int, int]] = []
        body_rows: list[tuple[str, str, bytes]] = []
        ref_rows: list[tuple[str, str, str]] = []
        gone: list[tuple[str, str]] = []
        used: set[str] = set()
        for doc_id, state in changed:
            seq += 1
            leaves = set(revtree.leaves(state.tree))
            winner = revtree.winning_rev(state.tree)
            doc_rows.append(
                (
                    doc_id,
                    orjson.dumps(revtree.encode_tree(state.tree)),
                    winner,
                    int(state.tree[winner].deleted),
                    seq,
                )
            )
            gone.extend((doc_id, rev) for rev in state.stored - leaves)
            for rev, (sealed, metas) in state.bodies.items():
                if rev in leaves:
                    body_rows.append((doc_id, rev, sealed))
                    for meta in metas.values():
                        ref_rows.append((doc_id, rev, meta["digest"]))
                        used.add(meta["digest"])
        await conn.executemany(
            "INSERT INTO docs (doc_id, tree, winner, deleted, seq) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (doc_id) DO UPDATE SET tree = excluded.tree,"
            " winner = excluded.winner, deleted = excluded.deleted, seq = excluded.seq",
            doc_rows,
        )
        dropped = await self._drop_bodies(conn, gone) or refs_dropped
        await conn.executemany(
            "INSERT OR REPLACE INTO revs (doc_id, rev, body) VALUES (?, ?, ?)", body_rows
        )
        await conn.executemany(
            "INSERT OR IGNORE INTO att_refs (doc_id, rev, digest) VALUES (?, ?, ?)", ref_rows
        )
        new_blobs = [
            (digest, len(blobs[digest]), self._codec.seal(attachment_aad(digest), blobs[digest]))
            for digest in used
            if digest in blobs
        ]
        await conn.executemany(
            "INSERT OR IGNORE INTO attachments (digest, length, data) VALUES (?, ?, ?)", new_blobs
        )
        if dropped:
            await self._collect_blobs(conn)
        await set_meta(conn, "update_seq", seq)
        return seq

    @staticmethod
    async def _drop_bodies(conn: aiosqlite.Connection, gone: Sequence[tuple[str, str]]) -> bool:
        """Delete these revisions' bodies; whether any attachment reference went with them."""
        if not gone:
            return False
        await conn.executemany("DELETE FROM revs WHERE doc_id = ? AND rev = ?", gone)
        before = conn.total_changes
        await conn.executemany("DELETE FROM att_refs WHERE doc_id = ? AND rev = ?", gone)
        return conn.total_changes != before

    @staticmethod
    async def _collect_blobs(conn: aiosqlite.Connection) -> None:
        """Delete blobs no leaf names any more (after the batch's new references are in)."""
        await conn.execute(
            "DELETE FROM attachments WHERE digest NOT IN (SELECT digest FROM att_refs)"
        )

    # -- local documents ------------------------------------------------------------

    async def _write_local(self, conn: aiosqlite.Connection, edit: Edit) -> Doc:
        rows = list(
            await conn.execute_fetchall(
                "SELECT rev FROM local_docs WHERE doc_id = ?", (edit.doc_id,)
            )
        )
        current = rows[0][0] if rows else None
        given = None if edit.rev is None else local_rev(edit.rev)
        if given != current:
            # CouchDB: the _rev must name the stored local doc, and be absent for a new one.
            return failure(edit.doc_id, Conflict())
        if edit.deleted:
            await conn.execute("DELETE FROM local_docs WHERE doc_id = ?", (edit.doc_id,))
            return {"ok": True, "id": edit.doc_id, "rev": "0-0"}
        rev = (current or 0) + 1
        sealed = self._codec.seal(local_aad(edit.doc_id), dumps(user_fields(edit.doc)))
        await conn.execute(
            "INSERT OR REPLACE INTO local_docs (doc_id, rev, body) VALUES (?, ?, ?)",
            (edit.doc_id, rev, sealed),
        )
        return {"ok": True, "id": edit.doc_id, "rev": f"0-{rev}"}

    @staticmethod
    def _check_local_id(local_id: object) -> str:
        doc_id = check_doc_id(local_id)
        if not doc_id.startswith(LOCAL_PREFIX):
            raise BadRequest(
                f"A local document id starts with {LOCAL_PREFIX}", error="illegal_docid"
            )
        return doc_id

    async def get_local(self, local_id: str) -> Doc:
        doc_id = self._check_local_id(local_id)
        rows = list(
            await self._reader.execute_fetchall(
                "SELECT rev, body FROM local_docs WHERE doc_id = ?", (doc_id,)
            )
        )
        if not rows:
            raise NotFound("missing")
        rev, sealed = rows[0]
        body = orjson.loads(self._codec.open(local_aad(doc_id), sealed))
        return {"_id": doc_id, "_rev": f"0-{rev}", **body}

    async def put_local(self, doc: Doc) -> Doc:
        if not isinstance(doc, dict):
            raise BadRequest("Document must be a JSON object")
        self._check_local_id(doc.get("_id"))
        edit = parse_edit(doc, True)
        async with self._write_lock, self._transaction() as conn:
            result = await self._write_local(conn, edit)
        raise_for(result)
        return result

    async def delete_local(self, local_id: str, rev: str) -> Doc:
        doc_id = self._check_local_id(local_id)
        local_rev(rev)
        async with self._write_lock, self._transaction() as conn:
            exists = await conn.execute_fetchall(
                "SELECT 1 FROM local_docs WHERE doc_id = ?", (doc_id,)
            )
            if not list(exists):
                raise NotFound("missing")
            result = await self._write_local(conn, Edit({}, doc_id, rev, True, [], {}))
        raise_for(result)
        return result

    # -- purge ---------------------------------------------------------------------------

    async def purge(self, revs: Mapping[str, Sequence[str]]) -> Doc:
        check_revs_map(revs, endpoint="_purge", check_id=check_doc_id)
        purged: dict[str, list[str]] = {}
        async with self._write_lock:
            async with self._transaction() as conn:
                trees = await self._trees(conn, list(revs))
                changed: list[tuple[str, _Work]] = []
                removed: list[str] = []
                refs_dropped = False
                for doc_id, doc_revs in revs.items():
                    tree = trees.get(doc_id, {})
                    leaves = revtree.leaves(tree)
                    # CouchDB 3 purges leaves only, with the branch that led only to them.
                    hit = [rev for rev in leaves if rev in set(doc_revs)]
                    purged[doc_id] = hit
                    if not hit:
                        continue
                    keep: set[str] = set()
                    for leaf in leaves:
                        if leaf not in hit:
                            keep.update(revtree.ancestry(tree, leaf))
                    state = _Work({r: i for r, i in tree.items() if r in keep}, frozenset(leaves))
                    if state.tree:
                        state.changed = True
                        changed.append((doc_id, state))
                    else:
                        removed.append(doc_id)
                        gone = [(doc_id, rev) for rev in leaves]
                        refs_dropped = await self._drop_bodies(conn, gone) or refs_dropped
                seq = await get_meta_int(conn, "update_seq")
                if removed:
                    await conn.executemany(
                        "DELETE FROM docs WHERE doc_id = ?", [(d,) for d in removed]
                    )
                    seq += len(removed)  # the feed moves on even when a document vanishes
                seq = await self._flush(conn, changed, {}, seq, refs_dropped)
                purge_seq = await get_meta_int(conn, "purge_seq") + sum(
                    1 for hit in purged.values() if hit
                )
                await set_meta(conn, "purge_seq", purge_seq)
            await self._committed(seq)
        return {"purge_seq": purge_seq, "purged": purged}

    # -- changes ---------------------------------------------------------------------

    async def _update_seq(self) -> int:
        rows = await self._reader.execute_fetchall(
            "SELECT value FROM meta WHERE key = 'update_seq'"
        )
        seq = int(next(iter(rows))[0])
        self._seen_seq = max(self._seen_seq, seq)
        return seq

    async def _scan(self, since: int, feed: FeedQuery) -> tuple[list[Doc], int | None, bool]:
        """Change rows after ``since``: ``(rows, seq of the last row read, exhausted)``.

        Reads page by page, each page one statement (one snapshot); a filter
        (selector, long ``doc_ids``) may skip rows, so reading goes on until
        ``limit`` rows matched or the feed ends.
        """
        want_body = feed.include_docs or feed.match is not None
        columns = "d.doc_id, d.tree, d.winner, d.deleted, d.seq, " + (
            "r.body" if want_body else "NULL"
        )
        join = " LEFT JOIN revs r ON r.doc_id = d.doc_id AND r.rev = d.winner" if want_body else ""
        id_filter: frozenset[str] | None = None
        where_ids = ""
        id_params: list[str] = []
        if feed.doc_ids is not None:
            if len(feed.doc_ids) <= _CHUNK:
                id_params = list(dict.fromkeys(feed.doc_ids))
                where_ids = f" AND d.doc_id IN ({_placeholders(len(id_params))})"
            else:
                id_filter = frozenset(feed.doc_ids)
        filtered = feed.match is not None or id_filter is not None
        page = feed.limit if feed.limit is not None and not filtered else _FEED_PAGE
        direction = "<" if feed.descending else ">"
        sql = (
            f"SELECT {columns} FROM docs d{join} WHERE d.seq {direction} ?{where_ids}"
            f" ORDER BY d.seq {'DESC' if feed.descending else 'ASC'} LIMIT ?"
        )
        rows: list[Doc] = []
        last: int | None = None
        # CouchDB ignores `since` on a descending feed: it starts from the newest change.
        cursor = 2**62 if feed.descending else since
        while True:
            fetched = list(await self._reader.execute_fetchall(sql, [cursor, *id_params, page]))
            for doc_id, tree_json, winner, deleted, seq, sealed in fetched:
                last = cursor = seq
                if id_filter is not None and doc_id not in id_filter:
                    continue
                row = await self._change_row(
                    feed, doc_id, tree_json, winner, bool(deleted), seq, sealed
                )
                if row is None:
                    continue
                rows.append(row)
                if feed.limit is not None and len(rows) >= feed.limit:
                    return rows, last, False
            if len(fetched) < page:
                return rows, last, True

    async def _change_row(
        self,
        feed: FeedQuery,
        doc_id: str,
        tree_json: bytes,
        winner: str,
        deleted: bool,
        seq: int,
        sealed: bytes | None,
    ) -> Doc | None:
        """One ``_changes`` row, or None when the selector rejects the document."""
        need_tree = feed.all_leaves or feed.conflicts or sealed is not None
        tree = revtree.decode_tree(orjson.loads(tree_json)) if need_tree else {}
        doc: Doc | None = None
        if sealed is not None:
            (doc,) = await self._render_all(
                [(doc_id, winner, tree, sealed)], revisions=False, attachments=False
            )
            if feed.conflicts and (found := revtree.conflicts(tree)):
                doc["_conflicts"] = found
        if feed.match is not None and not feed.match(doc if doc is not None else {"_id": doc_id}):
            return None
        revs = revtree.leaves(tree) if feed.all_leaves else [winner]
        row: Doc = {"seq": seq, "id": doc_id, "changes": [{"rev": rev} for rev in revs]}
        if deleted:
            row["deleted"] = True
        if feed.include_docs:
            row["doc"] = doc
        return row

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
        current = await self._update_seq()
        start = current if since == "now" else parse_since(since)
        rows, last, exhausted = await self._scan(start, query)
        if descending:
            last_seq = rows[-1]["seq"] if rows else current
            pending = 0 if exhausted else await self._pending(last_seq, before=True)
            return {"results": rows, "last_seq": last_seq, "pending": pending}
        # Everything up to `position` has been read (and filtered out if not in rows).
        position = last if not exhausted and last is not None else max(start, last or 0, current)
        if feed == "longpoll" and not rows:
            rows, position = await self._longpoll(query, position, timeout)
        if self._closed:  # closed while waiting: answer without touching the file
            return {"results": rows, "last_seq": position, "pending": 0}
        return {"results": rows, "last_seq": position, "pending": await self._pending(position)}

    async def _longpoll(
        self, query: FeedQuery, position: int, timeout: float | None
    ) -> tuple[list[Doc], int]:
        """Wait for rows after ``position`` (written by this process, or seen by polling)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (_DEFAULT_LONGPOLL if timeout is None else max(0.0, timeout))
        rows: list[Doc] = []
        while not rows and not self._closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._wait_for_write(position, min(remaining, _POLL_SLICE))
            if self._closed:
                break
            current = await self._update_seq()
            rows, last, exhausted = await self._scan(position, query)
            if not exhausted and last is not None:
                position = last
            else:
                position = max(position, last or 0, current)
        return rows, position

    async def _pending(self, seq: int, *, before: bool = False) -> int:
        """How many documents changed after ``seq`` (before it, for a descending feed)."""
        rows = await self._reader.execute_fetchall(
            f"SELECT COUNT(*) FROM docs WHERE seq {'<' if before else '>'} ?", (seq,)
        )
        return int(next(iter(rows))[0])

    async def _wait_for_write(self, after: int, timeout: float) -> None:
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: self._seen_seq > after or self._closed), timeout
                )

    async def changes_feed(
        self,
        *,
        since: Seq | Literal["now"] = 0,
        include_docs: bool = False,
        style: Literal["main_only", "all_docs"] = "main_only",
        doc_ids: Sequence[str] | None = None,
        selector: Mapping[str, Any] | None = None,
        heartbeat: float = 30.0,
    ) -> AsyncIterator[Doc]:
        # One longpoll after another: each waits up to `heartbeat` for a write.
        position: Seq | Literal["now"] = since
        while not self._closed:
            answer = await self.changes(
                since=position,
                limit=_FEED_PAGE,
                include_docs=include_docs,
                style=style,
                doc_ids=doc_ids,
                selector=selector,
                feed="longpoll",
                timeout=heartbeat,
            )
            for row in answer["results"]:
                yield row
            position = answer["last_seq"]

    # -- _all_docs ----------------------------------------------------------------------

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
        skip = 0 if skip is None else skip
        check_count("limit", limit)
        check_count("skip", skip)
        for key in (startkey, endkey):
            if key is not None and not isinstance(key, str):
                raise BadRequest("startkey and endkey must be strings", error="query_parse_error")
        total = await self._reader.execute_fetchall("SELECT COUNT(*) FROM docs WHERE deleted = 0")
        total_rows = int(next(iter(total))[0])
        if keys is not None:
            if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
                raise BadRequest("keys must be a JSON array of strings", error="query_parse_error")
            chosen = list(reversed(keys)) if descending else list(keys)
            chosen = chosen[skip:]
            if limit is not None:
                chosen = chosen[:limit]
            by_keys = await self._all_docs_by_keys(chosen, include_docs)
            return {"total_rows": total_rows, "offset": skip, "rows": by_keys}
        lower, upper = (endkey, startkey) if descending else (startkey, endkey)
        where = ["d.deleted = 0"]
        params: list[Any] = []
        if lower is not None:
            where.append("d.doc_id >= ?" if (inclusive_end or not descending) else "d.doc_id > ?")
            params.append(lower)
        if upper is not None:
            where.append("d.doc_id <= ?" if (inclusive_end or descending) else "d.doc_id < ?")
            params.append(upper)
        order = "DESC" if descending else "ASC"
        body = ", r.body" if include_docs else ", NULL"
        join = (
            " LEFT JOIN revs r ON r.doc_id = d.doc_id AND r.rev = d.winner" if include_docs else ""
        )
        found = await self._reader.execute_fetchall(
            f"SELECT d.doc_id, d.winner, d.tree{body} FROM docs d{join}"
            f" WHERE {' AND '.join(where)} ORDER BY d.doc_id {order} LIMIT ? OFFSET ?",
            [*params, -1 if limit is None else limit, skip],
        )
        rows: list[Doc] = []
        for doc_id, winner, tree_json, sealed in found:
            row: Doc = {"id": doc_id, "key": doc_id, "value": {"rev": winner}}
            if include_docs:
                tree = revtree.decode_tree(orjson.loads(tree_json))
                (row["doc"],) = await self._render_all(
                    [(doc_id, winner, tree, sealed)], revisions=False, attachments=False
                )
            rows.append(row)
        offset = skip
        if startkey is not None:
            before = await self._reader.execute_fetchall(
                "SELECT COUNT(*) FROM docs WHERE deleted = 0"
                f" AND doc_id {'>' if descending else '<'} ?",
                (startkey,),
            )
            offset += int(next(iter(before))[0])
        return {"total_rows": total_rows, "offset": offset, "rows": rows}

    async def _all_docs_by_keys(self, keys: Sequence[str], include_docs: bool) -> list[Doc]:
        found: dict[str, tuple[str, bool, bytes | None, bytes]] = {}
        unique = list(dict.fromkeys(keys))
        for chunk in _chunks(unique):
            rows = await self._reader.execute_fetchall(
                "SELECT d.doc_id, d.winner, d.deleted, r.body, d.tree FROM docs d"
                " LEFT JOIN revs r ON r.doc_id = d.doc_id AND r.rev = d.winner"
                f" WHERE d.doc_id IN ({_placeholders(len(chunk))})",
                chunk,
            )
            for doc_id, winner, deleted, sealed, tree_json in rows:
                found[doc_id] = (winner, bool(deleted), sealed, tree_json)
        out: list[Doc] = []
        for key in keys:
            hit = found.get(key)
            if hit is None:
                out.append({"key": key, "error": "not_found"})
                continue
            winner, deleted, sealed, tree_json = hit
            row: Doc = {"id": key, "key": key, "value": {"rev": winner}}
            if deleted:
                row["value"]["deleted"] = True
            if include_docs:
                if deleted or sealed is None:
                    row["doc"] = None
                else:
                    tree = revtree.decode_tree(orjson.loads(tree_json))
                    (row["doc"],) = await self._render_all(
                        [(key, winner, tree, sealed)], revisions=False, attachments=False
                    )
            out.append(row)
        return out
