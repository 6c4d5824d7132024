"""Records: the lists, a record's page, and the forms that record them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aiohttp import web

import schemas
from field_client import render
from field_client.decisions import decision_of
from field_client.records import RECORD_TYPES, Photo, now_stamp
from field_client.ui import drafts
from field_client.ui.fields import (
    FORMS,
    N_,
    NEIGHBOUR_ROWS,
    STATUS_LABELS,
    UPDATE_FIELDS,
    field_errors,
)
from field_client.ui.handlers_session import page, replica_of
from field_client.ui.listing import due_by, is_today, matches, page_of
from field_client.ui.uploads import MAX_PHOTOS, TOO_MANY_PHOTOS, read_upload
from schemas.web.pages import CSRF_FIELD, gettext_for
from sync.errors import NotFound

__all__ = ["form_page", "form_post", "record_list", "record_page"]

SAVED = N_("Saved on this device. It will be sent at the next sync.")
DRAFT_KEPT = N_("Draft kept on this device (encrypted). Finish it when you can.")
FIX_THESE = N_("Some answers need a correction; see the messages below.")
_TITLES = {
    "complaint": N_("Complaints"),
    "visitor_entry": N_("Visitors today"),
    "verification_visit": N_("Verification visits"),
}
_NEW_TITLES = {
    "complaint": N_("New complaint"),
    "visitor_entry": N_("New visitor"),
    "verification_visit": N_("Record a verification visit"),
}


def _type_of(request: web.Request) -> str:
    record_type = request.match_info["type"]
    if record_type not in RECORD_TYPES:
        raise web.HTTPNotFound()
    return record_type


def _keep(record_type: str, query: Mapping[str, str]) -> Any:
    status, words = query.get("status", ""), query.get("q", "").strip()

    def keep(doc: Mapping[str, Any]) -> bool:
        if doc["type"] != record_type or (words and not matches(doc, words)):
            return False
        if record_type == "visitor_entry" and not query.get("all"):
            return is_today(doc)
        return not status or doc.get("status") == status

    return keep


async def record_list(request: web.Request) -> web.Response:
    record_type = _type_of(request)
    docs = await replica_of(request).list_records(record_type)
    try:
        number = int(request.query.get("page", "1"))
    except ValueError:
        number = 1
    shown = page_of(docs, number, _keep(record_type, request.query))
    statuses: dict[str, str] = {}
    if record_type == "complaint":
        statuses = dict(STATUS_LABELS)
    elif record_type == "verification_visit":
        statuses = {"assigned": N_("Assigned to me, not yet made"), "visited": N_("Made")}
    return page(
        "list.html",
        request,
        {
            "title": gettext_for(request)(_TITLES[record_type]),
            "record_type": record_type,
            "page": shown,
            "statuses": statuses,
            "status": request.query.get("status", ""),
            "q": request.query.get("q", ""),
            "due_by": due_by,
            "status_labels": STATUS_LABELS,
        },
    )


async def record_page(
    request: web.Request,
    values: Mapping[str, str] | None = None,
    errors: Mapping[str, tuple[str, dict[str, Any]]] | None = None,
    status: int = 200,
) -> web.Response:
    """The record with its log, history and journal, and the edits it takes
    (``values``/``errors``: a refused edit, shown again beside its fields)."""
    replica = replica_of(request)
    _ = gettext_for(request)
    try:
        doc = await replica.get_record(request.match_info["id"])
    except NotFound:
        raise web.HTTPNotFound() from None
    revs = await replica.db.get(doc["_id"], revs=True)
    ids = revs.get("_revisions", {"start": 0, "ids": []})
    history = [f"{ids['start'] - n}-{rev}" for n, rev in enumerate(ids["ids"])]
    journal = [e for e in await replica.journal() if e.get("record_id") == doc["_id"]]
    return page(
        "record.html",
        request,
        {
            "title": _(_TITLES[doc["type"]]),
            "doc": doc,
            # Times as the wall clock reads them, like the CLI's tables.
            "facts": [(k, render.local_time(v)) for k, v in render.flatten(_shown_fields(doc))],
            "local_time": render.local_time,
            "revs": history,
            "journal": sorted(journal, key=lambda e: str(e.get("at"))),
            "status_labels": STATUS_LABELS,
            "decision": decision_of(doc),
            "update_fields": UPDATE_FIELDS,
            "values": values or {},
            "errors": {k: _(m) % v if v else _(m) for k, (m, v) in (errors or {}).items()},
        },
        status=status,
    )


def _shown_fields(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The record's own fields (the action log has its own list on the page)."""
    hidden = ("signature", "action_log")
    return {k: v for k, v in doc.items() if not k.startswith("_") and k not in hidden}


def _draft_key(record_type: str, edited: str) -> str:
    return f"{record_type}-{edited}" if edited else record_type


async def _assigned(request: web.Request) -> dict[str, Any] | None:
    """The assigned visit this form records (``?visit=ID``), if any."""
    visit_id = request.query.get("visit", "")
    if not visit_id:
        return None
    try:
        doc = await replica_of(request).get_record(visit_id)
    except NotFound:
        raise web.HTTPNotFound() from None
    if doc["type"] != "verification_visit" or doc.get("status") != "assigned":
        raise web.HTTPNotFound()
    return doc


def _prefill(assigned: Mapping[str, Any] | None) -> dict[str, str]:
    if assigned is None:
        return {}
    subject = assigned.get("subject") or {}
    return {
        "kind": str(assigned.get("kind", "")),
        "name": str(subject.get("name", "")),
        "phone": str(subject.get("phone", "")),
        "address": str(assigned.get("address", "")),
    }


async def form_page(request: web.Request) -> web.Response:
    record_type = _type_of(request)
    assigned = await _assigned(request)
    key = _draft_key(record_type, assigned["_id"] if assigned else "")
    db = replica_of(request).db
    values = {**_prefill(assigned), **await drafts.load(db, key)}
    return _form(request, record_type, values, {}, assigned, kept=await drafts.load_photos(db, key))


def _form(
    request: web.Request,
    record_type: str,
    values: Mapping[str, str],
    errors: Mapping[str, tuple[str, dict[str, Any]]],
    assigned: Mapping[str, Any] | None,
    *,
    notice: str = "",
    status: int = 200,
    kept: Mapping[str, Photo] | None = None,
) -> web.Response:
    _ = gettext_for(request)
    # A form with photos carries its CSRF token in its action (see uploads).
    action = request.rel_url.with_query({k: v for k, v in request.query.items() if k != CSRF_FIELD})
    return page(
        "form.html",
        request,
        {
            "title": _(_NEW_TITLES[record_type]),
            "form": FORMS[record_type],
            "values": values,
            "errors": {k: _(m) % v if v else _(m) for k, (m, v) in errors.items()},
            "assigned": assigned,
            "notice": _(notice) if notice else "",
            "fix_these": _(FIX_THESE) if errors else "",
            "neighbour_rows": range(1, NEIGHBOUR_ROWS + 1),
            "action": str(action),
            "kept_photos": sorted(kept or {}),
        },
        status=status,
    )


async def form_post(request: web.Request) -> web.Response:
    record_type = _type_of(request)
    form, replica = FORMS[record_type], replica_of(request)
    assigned = await _assigned(request)
    photos: dict[str, Photo] = {}
    errors: dict[str, tuple[str, dict[str, Any]]] = {}
    if form.neighbours:
        upload = await read_upload(request)
        values, photos = upload.values, upload.photos
        if upload.error:
            errors["photos"] = upload.error
    else:
        values = {k: v.strip() for k, v in (await request.post()).items() if isinstance(v, str)}
    values.pop(CSRF_FIELD, None)
    action = values.pop("action", "save")
    key = _draft_key(record_type, assigned["_id"] if assigned else "")
    if form.neighbours:  # the photos kept in the draft come first, then the new ones
        photos = drafts.numbered(await drafts.load_photos(replica.db, key), photos)
        if len(photos) > MAX_PHOTOS:
            photos = dict(list(photos.items())[:MAX_PHOTOS])
            errors["photos"] = (TOO_MANY_PHOTOS, {"limit": MAX_PHOTOS})
    if action == "draft":
        await drafts.save(replica.db, key, values, photos)
        return _form(request, record_type, values, {}, assigned, notice=DRAFT_KEPT, kept=photos)
    if not errors:
        try:
            doc_id = await _save(replica, record_type, values, photos, assigned)
        except schemas.RecordInvalid as exc:
            errors = field_errors(form, exc)
        else:
            await drafts.discard(replica.db, key)
            url = request.app.router["record"].url_for(id=doc_id)
            raise web.HTTPSeeOther(str(url.with_query(saved="1")))
    # Refused: nothing is stored but the draft, so nothing typed (or photographed) is lost.
    await drafts.save(replica.db, key, values, photos)
    return _form(request, record_type, values, errors, assigned, status=422, kept=photos)


async def _save(
    replica: Any,
    record_type: str,
    values: Mapping[str, str],
    photos: Mapping[str, Photo],
    assigned: Mapping[str, Any] | None,
) -> str:
    officer_id, at = replica.settings.officer_id, now_stamp()
    record = FORMS[record_type].build(values, officer_id, at)
    if record_type == "verification_visit":
        record["photos"] = sorted(photos)
        if assigned is not None:
            # The visit the portal assigned, now made: the same record, edited.
            kept = {k: v for k, v in assigned.items() if k != "_conflicts"}
            record = {**kept, **record, "status": "visited"}
    doc_id, _rev = await replica.save_record(record, photos=photos)
    return str(doc_id)
