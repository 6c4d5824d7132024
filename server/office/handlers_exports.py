"""The office's other lists as CSV: the conflict queue, device health and the
audit trail, each with the filters of its page, read a page at a time
(:mod:`server.office.csv_export`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from typing import Final

from aiohttp import web

from server.conflicts.desk import MAX_PAGE
from server.gateway.keys import CONFLICTS, STATE
from server.office.csv_export import csv_response
from server.office.display import local_time
from server.office.handlers_oversight import device_rows_asked
from server.office.keys import OFFICER
from server.office.oversight import (
    audit_page,
)
from server.web.pages import gettext_for
from sync.errors import BadRequest

__all__ = ["add_export_routes"]

Rows = AsyncIterator[Iterable[Sequence[object]]]
# Rows read per query while a list is written out.
_PAGE: Final = 500


def _station(request: web.Request) -> str | None:
    return request.query.get("station", "").strip() or None


async def _first_then_rest(pages: Rows) -> Rows:
    """``pages`` with its first page read now, so a refused filter is a 400
    page before the CSV's 200 is sent."""
    try:
        first = await anext(pages)
    except BadRequest:
        raise web.HTTPBadRequest(reason="query") from None
    except StopAsyncIteration:
        first = []

    async def rest() -> Rows:
        yield first
        async for page in pages:
            yield page

    return rest()


async def conflicts_csv(request: web.Request) -> web.StreamResponse:
    _ = gettext_for(request)
    desk, principal, station = request.config_dict[CONFLICTS], request[OFFICER], _station(request)

    async def pages() -> Rows:
        after = None
        while True:
            page = await desk.list(principal, station_id=station, limit=MAX_PAGE, after=after)
            yield [
                (i.station_id, i.record_type or "", i.doc_id, ", ".join(i.fields), i.queued_at)
                for i in page.items
            ]
            if page.next_after is None:
                return
            after = page.next_after

    header = [_("Station"), _("Record"), _("Record id"), _("Fields to choose"), _("Queued")]
    name = f"conflicts-{station or 'district'}.csv"
    return await csv_response(request, name, header, await _first_then_rest(pages()))


async def devices_csv(request: web.Request) -> web.StreamResponse:
    _ = gettext_for(request)
    rows, _hours = await device_rows_asked(request)

    async def pages() -> Rows:
        yield [
            (
                r["device_id"],
                r["name"],
                r["officer_id"],
                r["station_id"] or "",
                r["last_seen"] or "",
                r["last_checkpoint_at"] or "",
                "" if r["behind"] is None else r["behind"],
                "" if r["pending"] is None else r["pending"],
                "revoked" if r["revoked"] else "silent" if r["stale"] else "in touch",
            )
            for r in rows
        ]

    header = [
        _("Device"),
        _("Name"),
        _("Officer"),
        _("Station"),
        _("Last contact"),
        _("Last checkpoint"),
        _("Changes not pulled"),
        _("Records not pushed at last contact"),
        _("State"),
    ]
    return await csv_response(request, "devices.csv", header, pages())


async def audit_csv(request: web.Request) -> web.StreamResponse:
    _ = gettext_for(request)
    principal, state, station = request[OFFICER], request.config_dict[STATE], _station(request)

    async def pages() -> Rows:
        since: int | None = 0
        while since is not None:
            page = await audit_page(principal, state, station_id=station, since=since, limit=_PAGE)
            yield [
                (
                    e.seq,
                    local_time(e.at),
                    e.db,
                    e.record_type or "",
                    e.doc_id,
                    e.rev,
                    e.officer_id,
                    e.device_id or "",
                    e.signed,
                )
                for e in page.entries
            ]
            since = page.next_since

    header = ["#", _("When"), _("Station"), _("Record"), _("Record id"), _("Revision")]
    header += [_("Officer"), _("Device"), _("Signature")]
    name = f"audit-{station or 'district'}.csv"
    return await csv_response(request, name, header, await _first_then_rest(pages()))


def add_export_routes(app: web.Application) -> None:
    app.router.add_get("/conflicts.csv", conflicts_csv, name="conflicts_csv")
    app.router.add_get("/devices.csv", devices_csv, name="devices_csv")
    app.router.add_get("/audit.csv", audit_csv, name="audit_csv")
