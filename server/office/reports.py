"""What the reports pages read: a month's complaints counted by station,
status and category with the twelve months before it, and the overdue
lists, each through the backend's report index (:mod:`server.state.reports`).

Plain functions over the state and the index, so the handlers stay thin and
the bench (bench/office.py) times exactly what a page does. The caller's
scope is decided here: the district for the central office, their own
station for an SHO; an admin reads no records, so no reports either.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Final

from schemas.i18n import IST
from schemas.identity import Role
from server.policy.access import require_role
from server.state.interface import GatewayState
from server.state.models import Principal
from server.state.reports import (
    OVERDUE_KINDS,
    Counts,
    OverdueKind,
    OverduePage,
    OverdueQuery,
    ReportIndex,
    canonical_time,
)
from sync.errors import BadRequest, Forbidden

__all__ = [
    "CHART_MONTHS",
    "DEFAULT_DAYS",
    "MAX_DAYS",
    "MonthlyReport",
    "month_or_now",
    "monthly_report",
    "overdue_all",
    "overdue_query",
    "report_scope",
]

# Twelve bars: a year's trend on a phone's width.
CHART_MONTHS: Final = 12
# When an item counts as overdue unless the page asks otherwise: a complaint
# untouched for a week (a preliminary enquiry should end within 7 days,
# Lalita Kumari v. Govt. of U.P., 2013), a verification visit not made in a
# fortnight.
DEFAULT_DAYS: Final[Mapping[str, int]] = {"complaint": 7, "verification_visit": 15}
MAX_DAYS: Final = 3650
# Rows read per query while a whole list is exported.
_EXPORT_PAGE: Final = 500
_MONTH: Final = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


async def report_scope(
    principal: Principal | None, state: GatewayState, station_id: str | None
) -> str | None:
    """The station the caller's report covers (None: the district), or 403/400."""
    who = require_role(principal, Role.CENTRAL_OFFICE, Role.STATION_OFFICER)
    if who.role is Role.STATION_OFFICER:
        if station_id is not None and station_id != who.officer.station_id:
            raise Forbidden("You may only see your own station.")
        return who.officer.station_id
    if station_id is not None and await state.get_station(station_id) is None:
        raise BadRequest(f"There is no station {station_id!r}.")
    return station_id


def month_or_now(text: str | None, now: datetime) -> str:
    """``YYYY-MM`` as asked, or this month in India time; 400 for anything else."""
    if not text:
        return now.astimezone(IST).strftime("%Y-%m")
    if not _MONTH.match(text):
        raise BadRequest("month must look like 2026-03")
    return text


def _months_back(month: str, count: int) -> list[str]:
    year, number = int(month[:4]), int(month[5:])
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{number:02d}")
        year, number = (year - 1, 12) if number == 1 else (year, number - 1)
    return out[::-1]


@dataclass(frozen=True, slots=True)
class MonthlyReport:
    station_id: str | None
    month: str
    counts: Counts
    # CHART_MONTHS months ending with ``month``, oldest first, zeros included.
    trend: list[tuple[str, int]]


async def monthly_report(
    principal: Principal | None,
    state: GatewayState,
    index: ReportIndex,
    *,
    station_id: str | None,
    month: str,
) -> MonthlyReport:
    station = await report_scope(principal, state, station_id)
    counts = await index.counts(station, month)
    months = _months_back(month, CHART_MONTHS)
    per_month = await index.months(station, months[0], months[-1])
    return MonthlyReport(station, month, counts, [(m, per_month.get(m, 0)) for m in months])


def _kind(kind: str) -> OverdueKind:
    for known in OVERDUE_KINDS:
        if kind == known:
            return known
    raise BadRequest(f"kind must be one of {', '.join(OVERDUE_KINDS)}")


def _before(days: int, now: datetime) -> str:
    if not 1 <= days <= MAX_DAYS:
        raise BadRequest(f"days must be between 1 and {MAX_DAYS}")
    return canonical_time(now - timedelta(days=days))


async def overdue_query(
    principal: Principal | None,
    state: GatewayState,
    kind: str,
    *,
    station_id: str | None,
    days: int,
    now: datetime,
    after: str | None = None,
    limit: int = 50,
) -> OverdueQuery:
    """What the caller may ask: ``kind`` waiting more than ``days``, in their scope."""
    station = await report_scope(principal, state, station_id)
    return OverdueQuery(_kind(kind), station, _before(days, now), after, limit)


async def overdue_all(index: ReportIndex, query: OverdueQuery) -> AsyncIterator[OverduePage]:
    """The whole list, a page at a time (for the CSV export): never all in memory."""
    at: OverdueQuery | None = replace(query, limit=_EXPORT_PAGE)
    while at is not None:
        page = await index.overdue(at)
        yield page
        at = at.next(page)
