"""Device sync health and the audit trail: parse, call :mod:`server.office.oversight`, render."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from server.gateway.keys import STATE, STORES
from server.office.handlers_conflicts import stations_for
from server.office.keys import OFFICER
from server.office.oversight import (
    DEFAULT_STALE_HOURS,
    MAX_STALE_HOURS,
    audit_page,
    device_health,
    record_trail,
)
from server.office.pages import office_page
from server.web.pages import gettext_for
from sync.errors import BadRequest

__all__ = ["add_oversight_routes", "device_rows_asked", "query_number"]


def query_number(
    request: web.Request, name: str, default: int, *, minimum: int, maximum: int
) -> int:
    """A whole number from the query, or 400 (a page, in the reader's language)."""
    text = request.query.get(name, "").strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit() or not minimum <= int(text) <= maximum:
        raise web.HTTPBadRequest(reason="query")
    return int(text)


async def device_rows_asked(request: web.Request) -> tuple[list[dict[str, Any]], int]:
    """The device health rows the query asks for (``stale_hours``), and the hours."""
    hours = query_number(
        request, "stale_hours", DEFAULT_STALE_HOURS, minimum=1, maximum=MAX_STALE_HOURS
    )
    rows = await device_health(
        request[OFFICER],
        request.config_dict[STATE],
        request.config_dict[STORES],
        now=datetime.now(UTC),
        stale_hours=hours,
    )
    return rows, hours


async def devices(request: web.Request) -> web.Response:
    _ = gettext_for(request)
    rows, hours = await device_rows_asked(request)
    return office_page(
        "devices.html",
        request,
        {
            "title": _("Device sync health"),
            "rows": rows,
            "stale_hours": hours,
            "stale": sum(r["stale"] for r in rows),
        },
    )


async def audit(request: web.Request) -> web.Response:
    _ = gettext_for(request)
    principal, state = request[OFFICER], request.config_dict[STATE]
    station = request.query.get("station", "").strip() or None
    record = request.query.get("record", "").strip() or None
    since = query_number(request, "since", 0, minimum=0, maximum=2**62)
    next_url = None
    try:
        if record is not None:
            if station is None:
                raise web.HTTPBadRequest(reason="query")
            entries = await record_trail(
                principal, state, request.config_dict[STORES], station, record
            )
        else:
            page = await audit_page(principal, state, station_id=station, since=since)
            entries = list(page.entries)
            if page.next_since is not None:
                query = {"since": str(page.next_since), **({"station": station} if station else {})}
                next_url = request.rel_url.with_query(query)
    except BadRequest:
        raise web.HTTPBadRequest(reason="query") from None
    return office_page(
        "audit.html",
        request,
        {
            "title": _("Audit trail"),
            "entries": entries,
            "stations": await stations_for(request, principal),
            "station": station,
            "record": record,
            "next_url": next_url,
        },
    )


def add_oversight_routes(app: web.Application) -> None:
    app.router.add_get("/devices", devices, name="devices")
    app.router.add_get("/audit", audit, name="audit")
