"""The reports pages and their CSV exports: parse, call :mod:`server.office.reports`, render."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime

from aiohttp import web

from schemas.i18n import month_name
from schemas.web.labels import CATEGORY_LABELS, COMPLAINT_STATUS_LABELS, N_
from server.gateway.keys import REPORTS, STATE
from server.office.chart import HEIGHT, WIDTH, bars
from server.office.csv_export import csv_response
from server.office.display import local_time
from server.office.handlers_conflicts import stations_for
from server.office.handlers_oversight import query_number
from server.office.keys import OFFICER
from server.office.pages import office_page
from server.office.reports import (
    DEFAULT_DAYS,
    MAX_DAYS,
    MonthlyReport,
    month_or_now,
    monthly_report,
    overdue_all,
    overdue_query,
)
from server.state.reports import OverdueItem, OverdueQuery
from server.web.pages import LANGUAGE, gettext_for
from sync.errors import BadRequest

__all__ = ["add_report_routes"]

_TABLES = ("station", "status", "category", "month")
_KIND_TITLES = {  # marked for the catalogue, translated where shown
    "verification_visit": N_("Verification visits past their deadline"),
    "complaint": N_("Complaints with no action"),
}


def _station(request: web.Request) -> str | None:
    return request.query.get("station", "").strip() or None


async def _monthly(request: web.Request) -> MonthlyReport:
    try:
        return await monthly_report(
            request[OFFICER],
            request.config_dict[STATE],
            request.config_dict[REPORTS],
            station_id=_station(request),
            month=month_or_now(request.query.get("month", "").strip(), datetime.now(UTC)),
        )
    except BadRequest:
        raise web.HTTPBadRequest(reason="query") from None


def _labelled(
    request: web.Request, counts: Mapping[str, int], labels: Mapping[str, str]
) -> list[tuple[str, int]]:
    _ = gettext_for(request)
    return [(_(labels[k]) if k in labels else (k or "—"), n) for k, n in counts.items()]


async def report(request: web.Request) -> web.Response:
    _ = gettext_for(request)
    monthly = await _monthly(request)
    query = {
        "month": monthly.month,
        **({"station": monthly.station_id} if monthly.station_id else {}),
    }
    return office_page(
        "reports.html",
        request,
        {
            "title": _("Reports"),
            "report": monthly,
            "month_name": month_name(monthly.month, request[LANGUAGE], "MMMM y"),
            "by_status": _labelled(request, monthly.counts.by_status, COMPLAINT_STATUS_LABELS),
            "by_category": _labelled(request, monthly.counts.by_category, CATEGORY_LABELS),
            "bars": bars([(month_name(m, request[LANGUAGE]), n) for m, n in monthly.trend]),
            "chart_width": WIDTH,
            "chart_height": HEIGHT,
            "stations": await stations_for(request, request[OFFICER]),
            "station": monthly.station_id,
            "csv_query": query,
            "default_days": DEFAULT_DAYS,
        },
    )


async def report_csv(request: web.Request) -> web.StreamResponse:
    _ = gettext_for(request)
    table = request.match_info["table"]
    if table not in _TABLES:
        raise web.HTTPNotFound()
    monthly = await _monthly(request)
    rows: Sequence[tuple[str, int]]
    if table == "station":
        rows = list(monthly.counts.by_station.items())
    elif table == "status":
        rows = _labelled(request, monthly.counts.by_status, COMPLAINT_STATUS_LABELS)
    elif table == "category":
        rows = _labelled(request, monthly.counts.by_category, CATEGORY_LABELS)
    else:
        rows = monthly.trend
    heading = {"station": _("Station"), "status": _("Status"), "category": _("Category")}
    name = f"complaints-{monthly.month}-by-{table}-{monthly.station_id or 'district'}.csv"

    async def one_page() -> AsyncIterator[Iterable[Sequence[object]]]:
        yield rows

    return await csv_response(
        request, name, [heading.get(table, _("Month")), _("Complaints")], one_page()
    )


async def _overdue_query(request: web.Request, *, paged: bool) -> tuple[OverdueQuery, int]:
    """The list asked for, and its number of days."""
    kind = request.match_info["kind"]
    if kind not in _KIND_TITLES:
        raise web.HTTPNotFound()
    days = query_number(request, "days", DEFAULT_DAYS[kind], minimum=1, maximum=MAX_DAYS)
    try:
        query = await overdue_query(
            request[OFFICER],
            request.config_dict[STATE],
            kind,
            station_id=_station(request),
            days=days,
            now=datetime.now(UTC),
            after=(request.query.get("after") or None) if paged else None,
        )
        return query, days
    except BadRequest:
        raise web.HTTPBadRequest(reason="query") from None


def _list_query(query: OverdueQuery, days: int) -> dict[str, str]:
    """The filters of a list, for its next page and its CSV."""
    return {"days": str(days), **({"station": query.station_id} if query.station_id else {})}


async def overdue(request: web.Request) -> web.Response:
    _ = gettext_for(request)
    query, days = await _overdue_query(request, paged=True)
    try:
        page = await request.config_dict[REPORTS].overdue(query)
    except BadRequest:
        raise web.HTTPBadRequest(reason="query") from None
    filters = _list_query(query, days)
    next_url = (
        request.rel_url.with_query({**filters, "after": page.next_after})
        if page.next_after
        else None
    )
    return office_page(
        "overdue.html",
        request,
        {
            "title": _(_KIND_TITLES[query.kind]),
            "kind": query.kind,
            "items": page.items,
            "days": days,
            "stations": await stations_for(request, request[OFFICER]),
            "station": query.station_id,
            "next_url": next_url,
            "csv_query": filters,
        },
    )


def _overdue_row(item: OverdueItem) -> tuple[object, ...]:
    return (
        item.station_id,
        item.beat_id or "",
        item.doc_id,
        item.status or "",
        local_time(item.waiting_since),
    )


async def overdue_csv(request: web.Request) -> web.StreamResponse:
    _ = gettext_for(request)
    query, _days = await _overdue_query(request, paged=False)

    async def rows() -> AsyncIterator[Iterable[Sequence[object]]]:
        async for page in overdue_all(request.config_dict[REPORTS], query):
            yield [_overdue_row(item) for item in page.items]

    header = [_("Station"), _("Beat"), _("Record"), _("Status"), _("Waiting since")]
    name = f"overdue-{query.kind}-{query.station_id or 'district'}.csv"
    return await csv_response(request, name, header, rows())


def add_report_routes(app: web.Application) -> None:
    app.router.add_get("/reports", report, name="reports")
    app.router.add_get("/reports/{table}.csv", report_csv, name="report_csv")
    # The CSV first: "/overdue/{kind}" would take "complaint.csv" for a kind.
    app.router.add_get("/overdue/{kind}.csv", overdue_csv, name="overdue_csv")
    app.router.add_get("/overdue/{kind}", overdue, name="overdue")
