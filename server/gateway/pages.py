"""The stores' answers to ``_bulk_get``, ``_changes`` and ``_all_docs``, page by page.

Each function yields lists of rows for :func:`server.gateway.streaming.stream_rows`
and fills a ``tail`` dict with what closes the answer (``last_seq``,
``total_rows``). Pages are ordinary store calls, so both backends (the
embedded store, CouchDB over HTTP) page the same way: ``_changes`` resumes
from the page's ``last_seq``, ``_all_docs`` from the last key with
``skip=1`` (CouchDB's documented way to page a view).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Final

import orjson

from sync.database import Database, Doc
from sync.errors import RequestTooLarge

__all__ = [
    "MAX_BULK_GET_ENTRIES",
    "all_docs_pages",
    "bulk_get_pages",
    "changes_pages",
    "distinct_entries",
]

# Entries one _bulk_get may list: replicators ask for one batch (PouchDB 100,
# CouchDB's replicator up to 500, ours 100-500); more is not a sync.
MAX_BULK_GET_ENTRIES: Final = 1000
# Entries read per store call: a page of documents with inlined attachments
# (photos of ~1 MiB, a third more in base64) stays near 10 MiB.
_BULK_GET_PAGE: Final = 100
_BULK_GET_PAGE_WITH_ATTACHMENTS: Final = 8
# Rows per _changes / _all_docs page: bodies of a few KB, a few MiB a page.
ROWS_PAGE: Final = 500
# Lends a request's fair-share slot back for a wait (server.gateway.fair_share.Slot.idle).
Idle = Callable[[], AbstractAsyncContextManager[None]]


def distinct_entries(wanted: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """``wanted`` without repeats, in first-seen order: a document listed 200 times
    is read and sent once (CouchDB answers each entry; a repeat tells nothing new)."""
    if len(wanted) > MAX_BULK_GET_ENTRIES:
        raise RequestTooLarge(f"_bulk_get lists at most {MAX_BULK_GET_ENTRIES} documents")
    seen: dict[bytes, Mapping[str, Any]] = {}
    for item in wanted:
        seen.setdefault(orjson.dumps(item, option=orjson.OPT_SORT_KEYS), item)
    return list(seen.values())


async def bulk_get_pages(
    store: Database,
    entries: Sequence[Mapping[str, Any]],
    shown: Callable[[list[Doc]], list[Doc]],
    **options: Any,
) -> AsyncIterator[list[Doc]]:
    """``_bulk_get`` results of ``entries`` (already distinct), ``shown`` filtering each page."""
    heavy = options.get("attachments") or any(e.get("atts_since") for e in entries)
    size = _BULK_GET_PAGE_WITH_ATTACHMENTS if heavy else _BULK_GET_PAGE
    for start in range(0, len(entries), size):
        yield shown(await store.bulk_get(entries[start : start + size], **options))


async def changes_pages(
    store: Database,
    tail: dict[str, Any],
    *,
    since: Any,
    limit: int | None,
    idle: Idle | None = None,
    **options: Any,
) -> AsyncIterator[list[Doc]]:
    """``_changes`` from ``since``, ``ROWS_PAGE`` rows a store call, until ``limit``
    rows or the feed's end. Only the first call may wait (longpoll); a descending
    feed is one call, since CouchDB ignores ``since`` there.

    With ``idle`` a longpoll first reads as a normal feed, and only when that
    finds nothing waits, inside ``idle()`` (the request's fair-share slot lent
    back), for one row; the rows are then read as usual."""
    remaining = limit
    if idle is not None and options.get("feed") == "longpoll" and not options.get("descending"):
        since = await _wait_for_rows(store, tail, idle, since=since, **options)
        if since is None:
            yield []
            return
        options["feed"] = "normal"
    while True:
        size = ROWS_PAGE if remaining is None else max(1, min(ROWS_PAGE, remaining))
        result = await store.changes(since=since, limit=size, **options)
        rows = result["results"]
        tail["last_seq"] = result["last_seq"]
        if "pending" in result:
            tail["pending"] = result["pending"]
        yield rows
        if remaining is not None:
            remaining -= len(rows)
        if (
            len(rows) < size
            or options.get("descending")
            or (remaining is not None and remaining <= 0)
        ):
            return
        since = result["last_seq"]
        options["feed"] = "normal"


async def _wait_for_rows(
    store: Database, tail: dict[str, Any], idle: Idle, *, since: Any, **options: Any
) -> Any:
    """The seq to read rows from, once the feed has some after ``since``; ``None``
    (``tail`` filled) when the longpoll's timeout passed with none."""
    quick = {**options, "feed": "normal", "include_docs": False, "conflicts": False}
    result = await store.changes(since=since, limit=1, **quick)
    if result["results"]:
        return since
    # Nothing yet: from the seq just read (not "now", which would move on and
    # lose a write landing between the two calls).
    since = result["last_seq"]
    async with idle():
        result = await store.changes(since=since, limit=1, **{**quick, "feed": "longpoll"})
    if result["results"]:
        return since
    tail["last_seq"] = result["last_seq"]
    if "pending" in result:
        tail["pending"] = result["pending"]
    return None


async def all_docs_pages(
    store: Database,
    tail: dict[str, Any],
    shown: Callable[[list[Doc]], list[Doc]],
    *,
    keys: list[str] | None,
    startkey: str | None,
    limit: int | None,
    skip: int,
    recount: bool,
    **options: Any,
) -> AsyncIterator[list[Doc]]:
    """``_all_docs`` rows page by page; ``tail`` gets the first page's ``total_rows``
    and ``offset``, or with ``recount`` (``shown`` drops rows) the rows shown."""
    shown_rows = 0

    async def page(**args: Any) -> tuple[list[Doc], list[Doc]]:
        nonlocal shown_rows
        result = await store.all_docs(startkey=startkey, skip=skip, **args, **options)
        tail.setdefault("total_rows", result.get("total_rows"))
        tail.setdefault("offset", result.get("offset"))
        rows = shown(result["rows"])
        shown_rows += len(rows)
        if recount:
            tail["total_rows"] = shown_rows
        return list(result["rows"]), rows

    if keys is not None:
        # skip and limit count over the whole key list: one call then.
        size = len(keys) if limit is not None or skip else ROWS_PAGE
        for start in range(0, max(len(keys), 1), max(size, 1)):
            yield (await page(keys=keys[start : start + size], limit=limit))[1]
        return
    remaining = limit
    while True:
        size = ROWS_PAGE if remaining is None else min(ROWS_PAGE, remaining)
        raw, rows = await page(keys=None, limit=size)
        yield rows
        if remaining is not None:
            remaining -= len(raw)
        if len(raw) < size or remaining == 0:
            return
        startkey, skip = raw[-1]["key"], 1
