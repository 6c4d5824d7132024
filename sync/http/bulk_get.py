"""``_bulk_get`` answers in one shape, whoever (or whatever) produced them.

CouchDB 3 answers ``POST /{db}/_bulk_get`` with one result per request, in
request order, each ``{"id", "docs": [{"ok": doc} | {"error": {"id", "rev",
"error", "reason"}}]}``, and ``"rev": "undefined"`` in the error of a request
that named no rev (chttpd_db.erl, ``bulk_get_rev_error``). Peers differ:
pouchdb-server 4.2 groups the results by doc id and writes a missing rev as
``{"missing": rev}`` (the ``open_revs`` shape); servers without ``_bulk_get``
at all are read one document at a time. This module turns each of those into
CouchDB's shape so the replicator sees one contract.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Final

from sync.database import Doc
from sync.errors import NotFound

__all__ = [
    "FALLBACK_CONCURRENCY",
    "fetch_one_by_one",
    "is_missing_database",
    "normalize_results",
]

# Per-document GETs in flight at once when a server lacks _bulk_get: enough
# to hide a long round trip, few enough not to flood a small station server.
FALLBACK_CONCURRENCY: Final = 8

# How a 404 says the database itself is missing (CouchDB 3; CouchDB 1 and
# PouchDB), as opposed to a missing document or a missing endpoint.
_MISSING_DATABASE_REASONS: Final = frozenset({"Database does not exist.", "no_db_file"})


def is_missing_database(exc: BaseException) -> bool:
    return isinstance(exc, NotFound) and exc.reason in _MISSING_DATABASE_REASONS


# The reason of a not-found entry whose server did not say missing or deleted.
UNSAID = "missing or deleted"


def _error(doc_id: str, rev: str | None, error: str = "not_found", reason: str = "missing") -> Doc:
    return {"error": {"id": doc_id, "rev": rev or "undefined", "error": error, "reason": reason}}


def _normalize_entry(request: Mapping[str, Any], entry: Mapping[str, Any]) -> Doc:
    """One element of a result's ``docs`` list in CouchDB's shape."""
    doc_id = str(request["id"])
    rev = request.get("rev")
    if "ok" in entry:
        return {"ok": entry["ok"]}
    if "missing" in entry:  # the open_revs shape
        return _error(doc_id, str(entry["missing"]))
    error = entry.get("error")
    if isinstance(error, Mapping):
        return _error(
            str(error.get("id", doc_id)), error.get("rev") or rev,
            str(error.get("error", "not_found")), str(error.get("reason", "missing")),
        )
    if isinstance(error, str):  # {"error": name, "reason": ...} without nesting
        return _error(doc_id, rev, error, str(entry.get("reason", error)))
    # pouchdb-server answers a missing and a deleted document alike with {}:
    # not found, but which of the two it does not say (CouchDB 3 does).
    return _error(doc_id, rev, reason=UNSAID)


def _result(request: Mapping[str, Any], entries: Iterable[Mapping[str, Any]]) -> Doc:
    docs = [_normalize_entry(request, entry) for entry in entries]
    return {"id": request["id"], "docs": docs or [_error(str(request["id"]), request.get("rev"))]}


def normalize_results(
    requests: Sequence[Mapping[str, Any]], results: Sequence[Mapping[str, Any]]
) -> list[Doc | None]:
    """A server's ``results`` matched back to ``requests``, in request order.

    Results are matched per doc id in the order they came: CouchDB's own
    order is the request order, and pouchdb-server keeps the request order
    among the results of one id. A request the server left unanswered
    (pouchdb-server folds a rev-less request into another of the same id)
    is ``None``: the caller reads it on its own.
    """
    by_id: dict[Any, deque[Mapping[str, Any]]] = defaultdict(deque)
    for result in results:
        by_id[result.get("id")].append(result)
    out: list[Doc | None] = []
    for request in requests:
        queue = by_id.get(request["id"])
        out.append(_result(request, queue.popleft().get("docs") or []) if queue else None)
    return out


# (doc id, revs, atts_since) and (doc id, atts_since): the per-document reads.
OpenRevs = Callable[[str, list[str], list[str] | None], Awaitable[list[Doc]]]
GetDoc = Callable[[str, list[str] | None], Awaitable[Doc]]


async def fetch_one_by_one(
    requests: Sequence[Mapping[str, Any]], *, open_revs: OpenRevs, get: GetDoc
) -> list[Doc]:
    """``_bulk_get``'s answer built from per-document reads, at most
    :data:`FALLBACK_CONCURRENCY` at a time.

    A request with a rev reads ``open_revs=[rev]`` (with ``latest`` that may
    be several leaves, as in ``_bulk_get``); one without reads the winner.
    A request's ``atts_since`` goes along (CouchDB's ``GET ?atts_since=``).
    A missing database is raised, not reported per document.
    """
    gate = asyncio.Semaphore(FALLBACK_CONCURRENCY)

    async def one(request: Mapping[str, Any]) -> Doc:
        doc_id, rev = str(request["id"]), request.get("rev")
        since = request.get("atts_since")
        atts_since = [str(r) for r in since] if isinstance(since, list) and since else None
        async with gate:
            try:
                if rev:
                    return _result(request, await open_revs(doc_id, [str(rev)], atts_since))
                return _result(request, [{"ok": await get(doc_id, atts_since)}])
            except NotFound as exc:
                if is_missing_database(exc):
                    raise
                return _result(request, [_error(doc_id, rev, exc.error_name, exc.reason)])

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(request)) for request in requests]
    except BaseExceptionGroup as failed:
        # A TaskGroup cancels the other reads; callers expect the plain error.
        raise failed.exceptions[0] from None
    return [task.result() for task in tasks]
