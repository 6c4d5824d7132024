"""What the office's oversight pages read: device sync health and the audit
trail, each through the state's queries (a page of the log by sequence, the
revisions of one record by id), never the whole log.

Plain functions over the state and stores, so the handlers stay thin and
the bench (bench/office.py) times exactly what a page does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from schemas.identity import Role
from server.gateway.handlers_beatsync import device_rows
from server.policy.access import require_role, resolve_scope
from server.state.interface import GatewayState
from server.state.models import AuditEntry, Principal, station_db_name
from server.state.stations import StationDatabases
from sync.errors import BadRequest, Forbidden

__all__ = [
    "AUDIT_PAGE",
    "DEFAULT_STALE_HOURS",
    "MAX_STALE_HOURS",
    "AuditPage",
    "audit_page",
    "device_health",
    "record_trail",
    "stale_count",
]

DEFAULT_STALE_HOURS: Final = 24
MAX_STALE_HOURS: Final = 24 * 90
AUDIT_PAGE: Final = 50


def _stations_seen(principal: Principal | None, station_id: str | None) -> str | None:
    """The station filter the caller must use (an SHO: their own, always)."""
    who = require_role(principal, Role.CENTRAL_OFFICE, Role.ADMIN, Role.STATION_OFFICER)
    if who.role is Role.STATION_OFFICER:
        if station_id is not None and station_id != who.officer.station_id:
            raise Forbidden("You may only see your own station.")
        return who.officer.station_id
    return station_id


def _parsed(stamp: str | None) -> datetime | None:
    if not stamp:
        return None
    try:
        return datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None


def _is_stale(row: dict[str, Any], cutoff: datetime) -> bool:
    seen = _parsed(row.get("last_seen"))
    return not row.get("revoked") and (seen is None or seen < cutoff)


async def device_health(
    principal: Principal | None,
    state: GatewayState,
    stores: StationDatabases,
    *,
    now: datetime,
    stale_hours: int = DEFAULT_STALE_HOURS,
    station_id: str | None = None,
) -> list[dict[str, Any]]:
    """Every device the caller may see, with ``stale`` (no contact for
    ``stale_hours``; a revoked device is never stale, it is gone): stale
    ones first, then the longest silent."""
    station = _stations_seen(principal, station_id)
    if not 1 <= stale_hours <= MAX_STALE_HOURS:
        raise BadRequest(f"stale_hours must be between 1 and {MAX_STALE_HOURS}")
    cutoff = now - timedelta(hours=stale_hours)
    rows = [
        {**row, "stale": _is_stale(row, cutoff)}
        for row in await device_rows(state, stores)
        if station is None or row["station_id"] == station
    ]
    rows.sort(key=lambda r: (not r["stale"], r.get("last_seen") or ""))
    return rows


async def stale_count(
    state: GatewayState, stores: StationDatabases, *, now: datetime, stale_hours: int
) -> int:
    cutoff = now - timedelta(hours=stale_hours)
    return sum(_is_stale(row, cutoff) for row in await device_rows(state, stores))


@dataclass(frozen=True, slots=True)
class AuditPage:
    entries: Sequence[AuditEntry]
    next_since: int | None  # pass as ``since`` for the next page; None: the last one


async def audit_page(
    principal: Principal | None,
    state: GatewayState,
    *,
    station_id: str | None = None,
    since: int = 0,
    limit: int = AUDIT_PAGE,
) -> AuditPage:
    """One page of the accepted writes, oldest first, of one station or the district."""
    # An admin manages identities and reads no records, nor their history.
    require_role(principal, Role.CENTRAL_OFFICE, Role.STATION_OFFICER)
    station = _stations_seen(principal, station_id)
    if station is not None and await state.get_station(station) is None:
        raise BadRequest(f"There is no station {station!r}.")
    db = station_db_name(station) if station else None
    entries = await state.read(db=db, since=since, limit=limit + 1)
    more = len(entries) > limit
    entries = entries[:limit]
    return AuditPage(entries, entries[-1].seq if more and entries else None)


async def record_trail(
    principal: Principal | None,
    state: GatewayState,
    stores: StationDatabases,
    station_id: str,
    doc_id: str,
) -> list[AuditEntry]:
    """Every revision of one record the audit log has, oldest first: the
    revisions of every branch (merged and losing ones included) looked up
    by id, one query for the lot."""
    scope = await resolve_scope(principal, station_db_name(station_id), state)
    rows = await (await stores.get(station_id)).open_revs(doc_id, "all")
    revs: set[tuple[str, str]] = set()
    for row in rows:
        history = row.get("ok", {}).get("_revisions")
        if isinstance(history, dict):
            start = int(history["start"])
            revs.update((doc_id, f"{start - i}-{h}") for i, h in enumerate(history["ids"]))
    found = await state.entries_of(scope.db_name, revs)
    return sorted(found.values(), key=lambda e: e.seq)
