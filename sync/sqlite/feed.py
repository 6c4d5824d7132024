"""The feed and the index: ``_changes`` (normal and longpoll, filtered by
``doc_ids`` or a selector) and ``_all_docs``.

Selectors run in Python over opened bodies, never in SQL (bodies are sealed).
A longpoll wakes at once on writes made through this store, and re-reads the
file every few seconds to notice other writers.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Sequence
from typing import Any, Literal

import orjson

from sync import revtree
from sync.database import Doc, Seq
from sync.errors import BadRequest
from sync.sqlite.core import CHUNK, StoreCore, chunks, placeholders
from sync.sqlite.query_args import FeedQuery, check_count, parse_since
from sync.sqlite.reads import Reads

__all__ = ["Feed"]

# Rows read per query while a selector filters the feed.
_FEED_PAGE = 500
# CouchDB's default longpoll timeout (seconds) when none is given.
_DEFAULT_LONGPOLL = 60.0
# A longpoll re-reads the file this often, to notice writes by another process.
_POLL_SLICE = 5.0


class Feed:
    """``_changes`` and ``_all_docs`` of one store; documents are rendered by its
    :class:`~sync.sqlite.reads.Reads`."""

    def __init__(self, core: StoreCore, reads: Reads) -> None:
        self._core = core
        self._reads = reads

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
            if len(feed.doc_ids) <= CHUNK:
                id_params = list(dict.fromkeys(feed.doc_ids))
                where_ids = f" AND d.doc_id IN ({placeholders(len(id_params))})"
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
            fetched = list(
                await self._core.reader.execute_fetchall(sql, [cursor, *id_params, page])
            )
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
            (doc,) = await self._reads.render_all(
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
        since: Seq | Literal["now"],
        query: FeedQuery,
        *,
        longpoll: bool,
        timeout: float | None,
    ) -> Doc:
        """One ``_changes`` answer; with ``longpoll``, waits up to ``timeout`` for a row."""
        current = await self._core.update_seq()
        start = current if since == "now" else parse_since(since)
        rows, last, exhausted = await self._scan(start, query)
        if query.descending:
            last_seq = rows[-1]["seq"] if rows else current
            pending = 0 if exhausted else await self._pending(last_seq, before=True)
            return {"results": rows, "last_seq": last_seq, "pending": pending}
        # Everything up to `position` has been read (and filtered out if not in rows).
        position = last if not exhausted and last is not None else max(start, last or 0, current)
        if longpoll and not rows:
            rows, position = await self._longpoll(query, position, timeout)
        if self._core.closed:  # closed while waiting: answer without touching the file
            return {"results": rows, "last_seq": position, "pending": 0}
        return {"results": rows, "last_seq": position, "pending": await self._pending(position)}

    async def _longpoll(
        self, query: FeedQuery, position: int, timeout: float | None
    ) -> tuple[list[Doc], int]:
        """Wait for rows after ``position`` (written by this process, or seen by polling)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (_DEFAULT_LONGPOLL if timeout is None else max(0.0, timeout))
        rows: list[Doc] = []
        while not rows and not self._core.closed:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            await self._core.wait_for_write(position, min(remaining, _POLL_SLICE))
            if self._core.closed:
                break
            current = await self._core.update_seq()
            rows, last, exhausted = await self._scan(position, query)
            if not exhausted and last is not None:
                position = last
            else:
                position = max(position, last or 0, current)
        return rows, position

    async def _pending(self, seq: int, *, before: bool = False) -> int:
        """How many documents changed after ``seq`` (before it, for a descending feed)."""
        rows = await self._core.reader.execute_fetchall(
            f"SELECT COUNT(*) FROM docs WHERE seq {'<' if before else '>'} ?", (seq,)
        )
        return int(next(iter(rows))[0])

    async def changes_feed(
        self, since: Seq | Literal["now"], query: FeedQuery, *, heartbeat: float
    ) -> AsyncIterator[Doc]:
        """Every change from ``since`` on, as they come, until the store closes."""
        # One longpoll after another: each waits up to `heartbeat` for a write.
        page = dataclasses.replace(query, limit=_FEED_PAGE)
        position: Seq | Literal["now"] = since
        while not self._core.closed:
            answer = await self.changes(position, page, longpoll=True, timeout=heartbeat)
            for row in answer["results"]:
                yield row
            position = answer["last_seq"]

    async def all_docs(
        self,
        *,
        keys: Sequence[str] | None,
        startkey: str | None,
        endkey: str | None,
        limit: int | None,
        skip: int,
        include_docs: bool,
        descending: bool,
        inclusive_end: bool,
    ) -> Doc:
        skip = 0 if skip is None else skip
        check_count("limit", limit)
        check_count("skip", skip)
        for key in (startkey, endkey):
            if key is not None and not isinstance(key, str):
                raise BadRequest("startkey and endkey must be strings", error="query_parse_error")
        total = await self._core.reader.execute_fetchall(
            "SELECT COUNT(*) FROM docs WHERE deleted = 0"
        )
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
        found = await self._core.reader.execute_fetchall(
            f"SELECT d.doc_id, d.winner, d.tree{body} FROM docs d{join}"
            f" WHERE {' AND '.join(where)} ORDER BY d.doc_id {order} LIMIT ? OFFSET ?",
            [*params, -1 if limit is None else limit, skip],
        )
        rows: list[Doc] = []
        for doc_id, winner, tree_json, sealed in found:
            row: Doc = {"id": doc_id, "key": doc_id, "value": {"rev": winner}}
            if include_docs:
                tree = revtree.decode_tree(orjson.loads(tree_json))
                (row["doc"],) = await self._reads.render_all(
                    [(doc_id, winner, tree, sealed)], revisions=False, attachments=False
                )
            rows.append(row)
        offset = skip
        if startkey is not None:
            before = await self._core.reader.execute_fetchall(
                "SELECT COUNT(*) FROM docs WHERE deleted = 0"
                f" AND doc_id {'>' if descending else '<'} ?",
                (startkey,),
            )
            offset += int(next(iter(before))[0])
        return {"total_rows": total_rows, "offset": offset, "rows": rows}

    async def _all_docs_by_keys(self, keys: Sequence[str], include_docs: bool) -> list[Doc]:
        found: dict[str, tuple[str, bool, bytes | None, bytes]] = {}
        unique = list(dict.fromkeys(keys))
        for chunk in chunks(unique):
            rows = await self._core.reader.execute_fetchall(
                "SELECT d.doc_id, d.winner, d.deleted, r.body, d.tree FROM docs d"
                " LEFT JOIN revs r ON r.doc_id = d.doc_id AND r.rev = d.winner"
                f" WHERE d.doc_id IN ({placeholders(len(chunk))})",
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
                    (row["doc"],) = await self._reads.render_all(
                        [(key, winner, tree, sealed)], revisions=False, attachments=False
                    )
            out.append(row)
        return out
