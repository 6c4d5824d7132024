"""The CouchDB replication API of one station database: thin handlers.

Each handler parses the request, resolves the caller's scope (who may do what
in this database, :mod:`server.policy.access`), calls the store or the write path,
and answers CouchDB 3's JSON (docs.couchdb.org, "API Reference: Databases"
and "Documents"; the replication protocol's `_revs_diff`, `_bulk_get`,
`_bulk_docs?new_edits=false` and `_local` checkpoints).
"""

from __future__ import annotations

import re
from typing import Any, Literal

from aiohttp import web

from server.gateway.keys import CONFIG, DISTRICT, PRINCIPAL, SERVER_UUID, SLOT, STATE, STORES
from server.gateway.pages import all_docs_pages, bulk_get_pages, changes_pages, distinct_entries
from server.gateway.request import (
    bool_param,
    int_param,
    json_param,
    json_response,
    pending_reported,
    read_json_object,
)
from server.gateway.scoping import beat_selector as _beat_selector
from server.gateway.scoping import hide_other_beats as _hide_other_beats
from server.gateway.scoping import parse_since as _since
from server.gateway.streaming import stream_rows
from server.policy.access import DbScope, resolve_scope
from server.policy.write_policy import check_record_id
from server.policy.writes import WriteDeps, audited_revs_diff, raise_for_result, write_docs
from sync import session_wire as wire
from sync.attachments import parse_atts_since
from sync.database import Database, Doc
from sync.errors import BadRequest, Conflict, Forbidden
from sync.revs_map import check_revs_map
from sync.revtree import parse_rev, path_from_revisions

__all__ = ["add_couch_routes"]

# PouchDB's replication ids are base64 with '/'→'.' and '+'→'_', hence '='.
_LOCAL_ID = re.compile(r"^[A-Za-z0-9._=:-]{1,200}$")


async def _scope(request: web.Request) -> tuple[DbScope, Database]:
    pending_reported(request)  # a bad report is a 400 before any work (read again at the end)
    scope = await resolve_scope(
        request.get(PRINCIPAL), request.match_info["db"], request.app[STATE]
    )
    return scope, await request.app[STORES].get(scope.station.id)


async def _note_contact(request: web.Request, scope: DbScope, **status: Any) -> None:
    device = scope.principal.device
    if device is not None:
        pending = pending_reported(request)
        await request.app[STATE].seen(device.id, scope.db_name, pending=pending, **status)


async def server_info(request: web.Request) -> web.Response:
    return json_response(
        {
            "couchdb": "Welcome",
            "version": "3.3.3",
            "uuid": request.app[SERVER_UUID],
            "vendor": {"name": "BeatSync"},
            "features": [],
            # Our own clients' one-round-trip sync (server.gateway.handlers_session).
            wire.FEATURE: wire.VERSION,
        }
    )


async def up(request: web.Request) -> web.Response:
    return json_response({"status": "ok"})


async def db_info(request: web.Request) -> web.Response:
    scope, store = await _scope(request)
    return json_response({**await store.info(), "db_name": scope.db_name})


async def ensure_full_commit(request: web.Request) -> web.Response:
    # Every acknowledged write is already durable; kept for older replicators.
    await _scope(request)
    return json_response({"ok": True, "instance_start_time": "0"}, status=201)


def _doc_ids(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(i, str) for i in value):
        raise BadRequest("doc_ids must be a JSON array of strings")
    return value


async def changes(request: web.Request) -> web.StreamResponse:
    scope, store = await _scope(request)
    body = await read_json_object(request) if request.method == "POST" else {}
    feed = request.query.get("feed", "normal")
    if feed not in ("normal", "longpoll"):
        raise BadRequest("Supported feeds: normal, longpoll", error="query_parse_error")
    style = request.query.get("style", "main_only")
    if style not in ("main_only", "all_docs"):
        raise BadRequest("style must be main_only or all_docs", error="query_parse_error")
    doc_ids = selector = None
    match request.query.get("filter"):
        case None:
            pass
        case "_doc_ids":
            doc_ids = _doc_ids(body.get("doc_ids", json_param(request, "doc_ids")))
        case "_selector":
            selector = body.get("selector")
            if selector is None:
                raise BadRequest("filter=_selector needs a selector in the body")
        case other:
            raise BadRequest(f"Unsupported filter: {other}", error="query_parse_error")
    timeout_ms = int_param(request, "timeout")
    max_wait = request.app[CONFIG].max_longpoll_s
    tail: dict[str, Any] = {}
    pages = changes_pages(
        store,
        tail,
        since=_since(request.query.get("since")),
        limit=int_param(request, "limit"),
        include_docs=bool_param(request, "include_docs"),
        style=style,
        doc_ids=doc_ids,
        selector=_beat_selector(scope, selector),
        feed=feed,
        timeout=max_wait if timeout_ms is None else min(timeout_ms / 1000, max_wait),
        descending=bool_param(request, "descending"),
        conflicts=bool_param(request, "conflicts"),
        idle=slot.idle if (slot := request.get(SLOT)) is not None else None,
    )
    sent: dict[str, Any] = {}

    def closing() -> dict[str, Any]:
        sent.update(tail)
        return tail

    response = await stream_rows(request, "results", pages, closing)
    # Only a whole answer moves the device's recorded last_seq: a cut one is
    # truncated JSON the device throws away, resuming from its own checkpoint.
    await _note_contact(request, scope, last_seq=sent.get("last_seq"))
    return response


async def revs_diff(request: web.Request) -> web.Response:
    scope, store = await _scope(request)
    body = check_revs_map(
        await read_json_object(request), endpoint="_revs_diff", check_id=check_record_id
    )
    return json_response(await audited_revs_diff(scope, store, request.app[STATE], body))


async def bulk_get(request: web.Request) -> web.StreamResponse:
    scope, store = await _scope(request)
    body = await read_json_object(request)
    wanted = body.get("docs")
    if not isinstance(wanted, list):
        raise BadRequest('Body must be {"docs": [{"id", "rev"?}, ...]}')
    for item in wanted:
        if not isinstance(item, dict):
            raise BadRequest("Each requested doc must be an object")
        check_record_id(item.get("id"))
        if "rev" in item:
            parse_rev(item["rev"])
        parse_atts_since(item.get("atts_since"))
    pages = bulk_get_pages(
        store,
        distinct_entries(wanted),
        lambda results: [
            {**r, "docs": _hide_other_beats(scope, r.get("docs", []))} for r in results
        ],
        revs=bool_param(request, "revs", True),
        attachments=bool_param(request, "attachments"),
        latest=bool_param(request, "latest"),
    )
    return await stream_rows(request, "results", pages, dict)


def _write_deps(request: web.Request, refuse_unsigned: bool) -> WriteDeps:
    state = request.app[STATE]
    return WriteDeps(identities=state, audit=state, refuse_unsigned=refuse_unsigned)


async def _deps(request: web.Request) -> WriteDeps:
    return _write_deps(request, await request.app[DISTRICT].refuse_unsigned())


async def bulk_docs(request: web.Request) -> web.Response:
    scope, store = await _scope(request)
    body = await read_json_object(request)
    docs, new_edits = body.get("docs"), body.get("new_edits", True)
    if not isinstance(docs, list):
        raise BadRequest('Body must be {"docs": [...]}')
    if not isinstance(new_edits, bool):
        raise BadRequest("new_edits must be true or false")
    results = await write_docs(scope, store, await _deps(request), docs, new_edits=new_edits)
    await _note_contact(request, scope)
    return json_response(results, status=201)


async def all_docs(request: web.Request) -> web.StreamResponse:
    scope, store = await _scope(request)
    body = await read_json_object(request) if request.method == "POST" else {}
    keys = body.get("keys", json_param(request, "keys"))
    if keys is not None:
        keys = _doc_ids(keys)
    bounds = {}
    for name, alias in (("startkey", "start_key"), ("endkey", "end_key")):
        value = json_param(request, name)
        value = json_param(request, alias) if value is None else value
        if value is not None and not isinstance(value, str):
            raise BadRequest(f"{name} must be a JSON string", error="query_parse_error")
        bounds[name] = value
    include_docs = bool_param(request, "include_docs")
    tail: dict[str, Any] = {}
    pages = all_docs_pages(
        store,
        tail,
        lambda rows: _visible_rows(scope, rows, include_docs),
        keys=keys,
        **bounds,
        limit=int_param(request, "limit"),
        skip=int_param(request, "skip", 0) or 0,
        recount=scope.beat_id is not None,
        include_docs=include_docs or scope.beat_id is not None,
        descending=bool_param(request, "descending"),
        inclusive_end=bool_param(request, "inclusive_end", True),
    )
    return await stream_rows(request, "rows", pages, lambda: tail)


def _visible_rows(scope: DbScope, rows: list[Doc], include_docs: bool) -> list[Doc]:
    """A beat officer's rows: their beat's records only (read with their bodies to
    tell), the bodies dropped again unless asked for."""
    if scope.beat_id is None:
        return rows
    visible = [r for r in rows if isinstance(r.get("doc"), dict) and scope.visible(r["doc"])]
    if include_docs:
        return visible
    return [{k: v for k, v in r.items() if k != "doc"} for r in visible]


def _local_ids(request: web.Request, scope: DbScope) -> tuple[str, str]:
    """``(the id the client names, the id it is stored under)``: each credential's
    ``_local`` documents live in their own namespace (see ``DbScope.local_owner``);
    owner ids have no ':', so no client id reaches into another's."""
    local_id = request.match_info["local_id"]
    if not _LOCAL_ID.match(local_id):
        raise BadRequest("Invalid local document id", error="illegal_docid")
    return f"_local/{local_id}", f"_local/{scope.local_owner}:{local_id}"


async def get_local(request: web.Request) -> web.Response:
    scope, store = await _scope(request)
    named, stored = _local_ids(request, scope)
    return json_response({**await store.get_local(stored), "_id": named})


async def put_local(request: web.Request) -> web.Response:
    scope, store = await _scope(request)
    named, stored = _local_ids(request, scope)
    doc = await read_json_object(request)
    result = await store.put_local({**doc, "_id": stored})
    # A replicator's checkpoint: the device has finished a batch here.
    await _note_contact(request, scope, checkpoint=True)
    return json_response({**result, "id": named}, status=201)


async def delete_local(request: web.Request) -> web.Response:
    scope, store = await _scope(request)
    named, stored = _local_ids(request, scope)
    rev = request.query.get("rev")
    if rev is None:
        raise Conflict()
    result = await store.delete_local(stored, rev)
    await _note_contact(request, scope, checkpoint=True)
    return json_response({**result, "id": named})


def _open_revs(request: web.Request) -> list[str] | Literal["all"] | None:
    raw = request.query.get("open_revs")
    if raw is None or raw == "all":
        return raw  # type: ignore[return-value]
    revs = json_param(request, "open_revs")
    if not isinstance(revs, list):
        raise BadRequest(
            'open_revs must be "all" or a JSON array of revs', error="query_parse_error"
        )
    for rev in revs:
        parse_rev(rev)
    return revs


async def get_doc(request: web.Request) -> web.Response:
    scope, store = await _scope(request)
    doc_id = check_record_id(request.match_info["docid"])
    revs, latest = bool_param(request, "revs"), bool_param(request, "latest")
    attachments = bool_param(request, "attachments")
    open_revs = _open_revs(request)
    if open_revs is not None:
        found = await store.open_revs(
            doc_id, open_revs, include_revisions=revs, attachments=attachments, latest=latest
        )
        return json_response(_hide_other_beats(scope, found))
    rev = request.query.get("rev")
    if rev is not None:
        parse_rev(rev)
    revs_info = bool_param(request, "revs_info")
    doc = await store.get(
        doc_id,
        rev=rev,
        revs=revs or revs_info,
        conflicts=bool_param(request, "conflicts"),
        deleted_conflicts=bool_param(request, "deleted_conflicts"),
        attachments=attachments,
        latest=latest,
    )
    if not scope.visible(doc):
        raise Forbidden("This record belongs to another beat.")
    if revs_info:
        doc = await _with_revs_info(store, doc, keep_revisions=revs)
    return json_response(doc)


async def _with_revs_info(store: Database, doc: Doc, *, keep_revisions: bool) -> Doc:
    """``doc`` with CouchDB's ``_revs_info``: each rev of its history, newest
    first, ``available`` (its body is kept), ``deleted`` or ``missing``
    (compacted away, as every superseded body is in the embedded store)."""
    path = path_from_revisions(doc["_revisions"])
    kept = {
        item["ok"]["_rev"]: item["ok"]
        for item in await store.open_revs(doc["_id"], path, include_revisions=False)
        if "ok" in item
    }
    info = [
        {
            "rev": rev,
            "status": "missing"
            if rev not in kept
            else "deleted"
            if kept[rev].get("_deleted")
            else "available",
        }
        for rev in path
    ]
    out = {k: v for k, v in doc.items() if keep_revisions or k != "_revisions"}
    return {**out, "_revs_info": info}


async def _write_one(
    request: web.Request, doc: Doc, *, new_edits: bool, status: int = 201
) -> web.Response:
    scope, store = await _scope(request)
    results = await write_docs(scope, store, await _deps(request), [doc], new_edits=new_edits)
    for result in results:
        raise_for_result(result)
    await _note_contact(request, scope)
    if not results:  # new_edits=false answers nothing for a stored revision
        return json_response({"ok": True, "id": doc["_id"], "rev": doc["_rev"]}, status=status)
    return json_response(
        {"ok": True, "id": results[0]["id"], "rev": results[0]["rev"]}, status=status
    )


async def post_doc(request: web.Request) -> web.Response:
    """``POST /{db}`` (PouchDB's ``post()``): a new document, its id random
    unless the body names one; the write policy is PUT's (one write path)."""
    return await _write_one(request, await read_json_object(request), new_edits=True)


async def put_doc(request: web.Request) -> web.Response:
    doc_id = check_record_id(request.match_info["docid"])
    doc = await read_json_object(request)
    if "_id" in doc and doc["_id"] != doc_id:
        raise BadRequest("The _id in the body differs from the URL's")
    doc["_id"] = doc_id
    rev = request.query.get("rev")
    if rev is not None:
        doc["_rev"] = rev
    return await _write_one(request, doc, new_edits=bool_param(request, "new_edits", True))


async def delete_doc(request: web.Request) -> web.Response:
    doc_id = check_record_id(request.match_info["docid"])
    rev = request.query.get("rev")
    if rev is None:
        raise Conflict("Document update conflict: DELETE needs ?rev=")
    return await _write_one(
        request, {"_id": doc_id, "_rev": rev, "_deleted": True}, new_edits=True, status=200
    )


def add_couch_routes(app: web.Application) -> None:
    r = app.router
    r.add_get("/", server_info)
    r.add_get("/_up", up)
    db = "/{db:[a-z][a-z0-9_$()+-]*}"
    r.add_get(db, db_info)
    r.add_post(db, post_doc)
    r.add_get(db + "/", db_info)
    r.add_post(db + "/_ensure_full_commit", ensure_full_commit)
    r.add_route("GET", db + "/_changes", changes)
    r.add_route("POST", db + "/_changes", changes)
    r.add_post(db + "/_revs_diff", revs_diff)
    r.add_post(db + "/_bulk_get", bulk_get)
    r.add_post(db + "/_bulk_docs", bulk_docs)
    r.add_route("GET", db + "/_all_docs", all_docs)
    r.add_route("POST", db + "/_all_docs", all_docs)
    r.add_get(db + "/_local/{local_id}", get_local)
    r.add_put(db + "/_local/{local_id}", put_local)
    r.add_delete(db + "/_local/{local_id}", delete_local)
    r.add_get(db + "/{docid}", get_doc)
    r.add_put(db + "/{docid}", put_doc)
    r.add_delete(db + "/{docid}", delete_doc)
