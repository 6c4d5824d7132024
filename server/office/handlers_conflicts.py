"""The conflict queue: list, look at one conflict, resolve it.

Thin: parse the query or the form, call :class:`server.conflicts.desk.ConflictDesk`
(which decides who sees what and writes the resolution through the audited
write path), render. A refused resolution comes back as the same page with
the officer's choices and a message; nothing is written.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web
from multidict import MultiDictProxy

from schemas.identity import Role
from server.conflicts.views import ConflictView
from server.gateway.keys import CONFLICTS, STATE
from server.office.display import at_path, shown
from server.office.keys import OFFICER
from server.office.pages import office_page
from server.state.models import Principal
from server.web.pages import gettext_for, see_other
from sync.errors import BadRequest, Conflict

__all__ = ["PAGE_SIZE", "add_conflict_routes"]

PAGE_SIZE: Final = 50
_FIELD_PREFIX: Final = "field:"


async def stations_for(request: web.Request, principal: Principal) -> list[Any]:
    """The stations the officer may filter by: every one for the district, their own for an SHO."""
    stations = await request.config_dict[STATE].list_stations()
    if principal.role is Role.STATION_OFFICER:
        return [s for s in stations if s.id == principal.officer.station_id]
    return stations


async def queue(request: web.Request) -> web.Response:
    _ = gettext_for(request)
    principal = request[OFFICER]
    station = request.query.get("station") or None
    after = request.query.get("after") or None
    try:
        page = await request.config_dict[CONFLICTS].list(
            principal, station_id=station, limit=PAGE_SIZE, after=after
        )
    except BadRequest:
        raise web.HTTPBadRequest(reason="query") from None
    next_url = None
    if page.next_after is not None:
        query = {"after": page.next_after, **({"station": station} if station else {})}
        next_url = request.rel_url.with_query(query)
    return office_page(
        "queue.html",
        request,
        {
            "title": _("Conflict queue"),
            "items": page.items,
            "stations": await stations_for(request, principal),
            "station": station,
            "next_url": next_url,
            "resolved": request.query.get("resolved"),
        },
    )


def _choices(form: MultiDictProxy[Any]) -> tuple[str | None, dict[str, str]]:
    choose = str(form.get("choose", "")) or None
    fields = {
        name[len(_FIELD_PREFIX) :]: str(value)
        for name, value in form.items()
        if name.startswith(_FIELD_PREFIX) and value
    }
    return choose, fields


def _conflict_page(
    request: web.Request,
    view: ConflictView,
    *,
    error: str | None = None,
    form: MultiDictProxy[Any] | None = None,
    status: int = 200,
) -> web.Response:
    _ = gettext_for(request)
    choose, fields = _choices(form) if form is not None else (None, {})
    return office_page(
        "conflict.html",
        request,
        {
            "title": _("Conflict"),
            "view": view,
            "error": error,
            "choose": choose,
            "fields": fields,
            "reason": str(form.get("reason", "")) if form is not None else "",
            "field_prefix": _FIELD_PREFIX,
            "shown": shown,
            "at_path": at_path,
        },
        status=status,
    )


async def conflict(request: web.Request) -> web.Response:
    station, doc_id = request.match_info["station"], request.match_info["doc_id"]
    view = await request.config_dict[CONFLICTS].get(request[OFFICER], station, doc_id)
    return _conflict_page(request, view)


def _form_problem(
    request: web.Request, view: ConflictView, form: MultiDictProxy[Any]
) -> str | None:
    """What is missing from the officer's answer, in their language, before
    the desk is asked (the desk checks again, in English, for the JSON API)."""
    _ = gettext_for(request)
    if not str(form.get("reason", "")).strip():
        return _("Write the reason for this resolution: it is kept in the record's log.")
    choose, fields = _choices(form)
    undecided = [d.path for d in view.differing if not d.mergeable and d.path not in fields]
    if choose is None and undecided:
        return _("Choose a version for every field marked “choose”: %(fields)s") % {
            "fields": ", ".join(undecided)
        }
    return None


async def resolve(request: web.Request) -> web.StreamResponse:
    _ = gettext_for(request)
    principal = request[OFFICER]
    station, doc_id = request.match_info["station"], request.match_info["doc_id"]
    desk = request.config_dict[CONFLICTS]
    view = await desk.get(principal, station, doc_id)
    form = await request.post()
    problem = _form_problem(request, view, form)
    if problem is not None:
        return _conflict_page(request, view, error=problem, form=form, status=400)
    choose, fields = _choices(form)
    try:
        await desk.resolve(
            principal,
            station,
            doc_id,
            reason=str(form.get("reason", "")),
            choose=choose,
            fields=fields,
            expect_leaves=[str(v) for v in form.getall("leaf", [])],
        )
    except Conflict:
        fresh = await desk.get(principal, station, doc_id)
        message = _("The record changed since you opened it. Look at the versions again.")
        return _conflict_page(request, fresh, error=message, status=409)
    except BadRequest:
        message = _("That choice is not one of the versions shown, or the reason is too long.")
        return _conflict_page(request, view, error=message, form=form, status=400)
    return see_other(request.app.router["queue"].url_for().with_query({"resolved": doc_id}))


def add_conflict_routes(app: web.Application) -> None:
    app.router.add_get("/conflicts", queue, name="queue")
    one = app.router.add_resource("/conflicts/{station}/{doc_id}", name="conflict")
    one.add_route("GET", conflict)
    one.add_route("POST", resolve)
