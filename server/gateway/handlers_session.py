"""``POST /{db}/_beatsync/sync``: a whole two-way sync in one round trip.

The wire format is :mod:`sync.session_wire`. The push goes through the one
write path (:func:`server.policy.writes.write_docs` with ``new_edits=false``:
validation, signatures, write policy, audit, per-doc errors), so the session
stores exactly what ``_bulk_docs`` would. The pull reads ``_changes``
(``style=all_docs``) and the leaves' bodies as ``_bulk_get`` would, through the
same beat scoping (:mod:`server.gateway.scoping`), and leaves out the
revisions the device has just pushed: it has those, and the standard protocol
pays a ``_revs_diff`` to learn it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiohttp import hdrs, web

from server.gateway.keys import DISTRICT, PRINCIPAL, STATE, STORES
from server.gateway.pages import changes_pages
from server.gateway.request import pending_reported, read_json_object
from server.gateway.scoping import beat_selector, hide_other_beats, parse_since
from server.gateway.streaming import cut_reason
from server.policy.access import DbScope, resolve_scope
from server.policy.writes import WriteDeps, write_docs
from sync import journal
from sync import session_wire as wire
from sync.database import Database, Doc
from sync.errors import BadRequest, CouchError

__all__ = ["add_session_routes"]

error_logger = logging.getLogger("beatsync.error")

# Leaves read per store call: a page of photographed visits stays near 10 MiB.
_READ_PAGE = 8


def _budget(value: Any) -> int:
    if value is None:
        return wire.DEFAULT_BUDGET
    if isinstance(value, bool) or not isinstance(value, int):
        raise BadRequest("budget must be a whole number of bytes")
    if not wire.MIN_BUDGET <= value <= wire.MAX_BUDGET:
        raise BadRequest(f"budget must be between {wire.MIN_BUDGET} and {wire.MAX_BUDGET} bytes")
    return value


def _have(value: Any) -> set[tuple[str, str]]:
    """The ``have`` list: ``[[id, rev], ...]`` the device pushed earlier in this sync."""
    if not isinstance(value, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p) for p in value
    ):
        raise BadRequest('"have" must be a JSON array of [id, rev] pairs')
    return {(doc_id, rev) for doc_id, rev in value}


def _parse(body: dict[str, Any]) -> tuple[list[Any], Any, int]:
    if body.get("session") != wire.VERSION:
        raise BadRequest(f'This gateway speaks session version {wire.VERSION} ("session": 1)')
    docs = body.get("docs", [])
    if not isinstance(docs, list):
        raise BadRequest('"docs" must be a JSON array of documents')
    since = body.get("since", 0)
    if isinstance(since, bool) or not isinstance(since, int | str):
        raise BadRequest('"since" must be a sequence (a number or CouchDB\'s string)')
    return docs, parse_since(str(since)), _budget(body.get("budget"))


async def _changed(
    scope: DbScope, store: Database, since: Any, pushed: set[tuple[str, str]], pending: list[int]
) -> AsyncIterator[tuple[Any, list[Doc] | None]]:
    """``(seq, leaves the device lacks)`` per change from ``since``, in feed order,
    and ``(last_seq, None)`` at the end of each page of the feed, when
    ``pending[0]`` holds the changes left after that page (if the store says)."""
    tail: dict[str, Any] = {}
    pages = changes_pages(
        store,
        tail,
        since=since,
        limit=None,
        style="all_docs",
        selector=beat_selector(scope, None),
        feed="normal",
        timeout=0,
    )
    async for rows in pages:
        wanted = [
            (row, [c["rev"] for c in row["changes"] if (row["id"], c["rev"]) not in pushed])
            for row in rows
        ]
        for start in range(0, len(wanted), _READ_PAGE):
            chunk = wanted[start : start + _READ_PAGE]
            entries = [{"id": row["id"], "rev": rev} for row, revs in chunk for rev in revs]
            found = (
                await store.bulk_get(entries, revs=True, attachments=True, latest=True)
                if entries
                else []
            )
            leaves: dict[str, list[Doc]] = {}
            for result in found:
                for item in hide_other_beats(scope, result.get("docs", [])):
                    if "ok" in item:
                        leaves.setdefault(result["id"], []).append(item["ok"])
            for row, _ in chunk:
                yield row["seq"], leaves.get(row["id"], [])
        if "pending" in tail:
            pending[:] = [tail["pending"]]
        yield tail.get("last_seq"), None  # a page's end: a checkpoint


async def _nothing() -> AsyncIterator[tuple[Any, list[Doc] | None]]:
    return
    yield


def _pending_after(reported: int | None, docs: list[Any], refused: set[Any]) -> int | None:
    """What the device still has to push once this request's records are in: it
    reports the count before the request (its journal entries not counted)."""
    if reported is None:
        return None
    written = sum(1 for d in docs if d["_id"] not in refused and not journal.is_entry_id(d["_id"]))
    return max(reported - written, 0)


async def session_sync(request: web.Request) -> web.StreamResponse:
    scope = await resolve_scope(
        request.get(PRINCIPAL), request.match_info["db"], request.app[STATE]
    )
    store = await request.app[STORES].get(scope.station.id)
    body = await read_json_object(request)
    docs, since, budget = _parse(body)
    have, pull = _have(body.get("have", [])), body.get("pull", True) is not False
    still_to_push = pending_reported(request)
    state = request.app[STATE]
    deps = WriteDeps(
        identities=state, audit=state, refuse_unsigned=await request.app[DISTRICT].refuse_unsigned()
    )
    # Before any byte of the answer: a structure error is still a plain 400.
    errors = await write_docs(scope, store, deps, docs, new_edits=False) if docs else []
    refused = {e.get("id") for e in errors}
    pushed = {(d["_id"], d["_rev"]) for d in docs if d["_id"] not in refused}
    pushed |= have
    gzip = "gzip" in request.headers.get(hdrs.ACCEPT_ENCODING, "").lower()
    response = web.StreamResponse(headers={hdrs.CONTENT_TYPE: "application/x-ndjson"})
    if gzip:
        response.headers[hdrs.CONTENT_ENCODING] = "gzip"
    await response.prepare(request)
    out = wire.LineCompressor(gzip=gzip)
    push_line = {"push": {"written": len(docs) - len(errors), "errors": errors}}
    await response.write(out.add(orjson.dumps(push_line), flush=True))
    # `delivered`: the last resume point whose line is out whole (not waiting in
    # zlib for a flush): what the device holds if the answer is cut after it.
    last_seq, told, delivered, more = since, since, since, False
    try:
        pending: list[int] = []
        feed = _changed(scope, store, since, pushed, pending) if pull else _nothing()
        async for seq, leaves in feed:
            last_seq = seq
            if leaves:
                await response.write(out.add(orjson.dumps({"seq": seq, "docs": leaves})))
                told = seq
            elif leaves is None and (seq != told or (pending and pending[0])):
                mark = {"checkpoint": seq, **({"pending": pending[0]} if pending else {})}
                await response.write(out.add(orjson.dumps(mark), flush=True))
                told = seq
            if out.whole:
                delivered = told
            if out.sent >= budget:
                more = True
                break
        final = orjson.dumps({"last_seq": last_seq, "more": more})
        await response.write(out.add(final, flush=True) + out.finish())
        await response.write_eof()
        delivered = last_seq
    except (CouchError, TimeoutError) as exc:
        # 200 is sent: cutting the connection is the honest signal left; the
        # client keeps the complete lines and resumes from the last seq.
        error_logger.warning("%s answer cut short: %s", request.path, cut_reason(exc))
        cut = True
    else:
        cut = False
    try:
        # Recorded before the cut is seen: the device's next request finds it.
        if (device := scope.principal.device) is not None:
            await state.seen(
                device.id,
                scope.db_name,
                last_seq=delivered,
                checkpoint=True,
                pending=_pending_after(still_to_push, docs, refused),
            )
    finally:
        if cut and request.transport is not None:
            request.transport.abort()
    return response


def add_session_routes(app: web.Application) -> None:
    app.router.add_post("/{db:[a-z][a-z0-9_$()+-]*}/" + wire.SESSION_PATH, session_sync)
