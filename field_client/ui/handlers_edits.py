"""Edits from a record's page: a visitor's check-in and check-out, a complaint's
update (status, note, FIR number), built by the CLI's own functions
(:mod:`field_client.forms`) and checked by the replica's save.

Each form carries the revision the officer saw: a record that changed
meanwhile (a sync brought another edit) is shown again with a 409 and
nothing is stored. A refusal comes back on the record's page beside its
field, with what was typed kept.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

import schemas
from field_client import forms
from field_client.records import now_stamp
from field_client.ui.fields import NOT_YOUR_STEP, NOTHING_TO_UPDATE, UPDATE_FORM, field_errors
from field_client.ui.handlers_records import record_page
from field_client.ui.handlers_session import replica_of
from schemas.web.labels import N_
from sync.errors import Conflict, NotFound

__all__ = ["CHANGED_MEANWHILE", "complaint_update", "visitor_mark"]

CHANGED_MEANWHILE = N_(
    "This record changed since you opened it (a sync brought another edit): look at it again."
)


async def _current(request: web.Request, record_type: str, seen: str) -> dict[str, Any] | None:
    """The record as it is now; ``None`` when it is no longer the revision the officer saw."""
    try:
        doc = await replica_of(request).get_record(request.match_info["id"])
    except NotFound:
        raise web.HTTPNotFound() from None
    if doc.get("type") != record_type:
        raise web.HTTPNotFound()
    return doc if doc["_rev"] == seen else None


def _saved(request: web.Request, doc_id: str) -> web.HTTPSeeOther:
    url = request.app.router["record"].url_for(id=doc_id)
    return web.HTTPSeeOther(str(url.with_query(saved="1")))


async def visitor_mark(request: web.Request) -> web.StreamResponse:
    """Time in (a visitor announced on the portal has come) or time out, now."""
    values = await request.post()
    old = await _current(request, "visitor_entry", str(values.get("rev", "")))
    if old is None:
        return await record_page(request, errors={"": (CHANGED_MEANWHILE, {})}, status=409)
    at, action = now_stamp(), values.get("action")
    if action == "out" and "time_in" in old and "time_out" not in old:
        new = forms.visitor_out(old, at=at)
    elif action == "in" and "time_in" not in old:
        new = forms.visitor_checkin(old, at=at)
    else:
        raise web.HTTPBadRequest(text="Nothing to mark: the visitor is already in (or gone).")
    return await _save(request, new)


async def complaint_update(request: web.Request) -> web.StreamResponse:
    posted = await request.post()
    values = {k: str(posted.get(k, "")).strip() for k in ("status", "note", "fir_number")}
    old = await _current(request, "complaint", str(posted.get("rev", "")))
    if old is None:
        return await record_page(request, values, {"": (CHANGED_MEANWHILE, {})}, 409)
    if not any(values.values()):
        return await record_page(request, values, {"note": (NOTHING_TO_UPDATE, {})}, 422)
    replica = replica_of(request)
    new = forms.complaint_update(
        old,
        status=values["status"] or None,
        note=values["note"] or None,
        assign=None,
        fir_number=values["fir_number"] or None,
        officer_id=replica.settings.officer_id,
        at=now_stamp(),
    )
    try:
        return await _save(request, new)
    except schemas.TransitionNotAllowed:
        return await record_page(request, values, {"status": (NOT_YOUR_STEP, {})}, 422)
    except schemas.RecordInvalid as exc:
        return await record_page(request, values, field_errors(UPDATE_FORM, exc), 422)


async def _save(request: web.Request, new: dict[str, Any]) -> web.StreamResponse:
    try:
        doc_id, _ = await replica_of(request).save_record(new)
    except Conflict:
        return await record_page(request, errors={"": (CHANGED_MEANWHILE, {})}, status=409)
    raise _saved(request, doc_id)
