"""The district's portal directory, set by the admin CLI: which station and
beat serve each locality, and the weekly hours each officer meets citizens.

Both live in the gateway's settings as JSON, so every gateway of the district
(and ``serve --demo``) reads the same table.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from datetime import date

from server.state.interface import GatewayState, Settings
from sync.errors import BadRequest, NotFound

__all__ = [
    "APPOINTMENT_WITH",
    "WEEKDAYS",
    "Locality",
    "Schedule",
    "add_locality",
    "load_localities",
    "load_schedules",
    "remove_locality",
    "save_schedule",
    "set_station_address",
    "station_address",
]

_LOCALITIES = "portal.localities"
_SCHEDULES = "portal.schedules"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
APPOINTMENT_WITH = ("sp", "sho", "station_officer")
_HOURS = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass(frozen=True, slots=True)
class Locality:
    name: str
    station_id: str
    beat_id: str


@dataclass(frozen=True, slots=True)
class Schedule:
    """When one officer meets citizens: ``hours`` per weekday (``"10:00-13:00"``)."""

    officer_id: str
    station_id: str
    with_: str
    slot_minutes: int = 15
    hours: dict[str, list[str]] = field(default_factory=dict)
    holidays: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.with_ not in APPOINTMENT_WITH:
            raise BadRequest(f"with must be one of {', '.join(APPOINTMENT_WITH)}")
        if not 5 <= self.slot_minutes <= 240:
            raise BadRequest("slot length must be 5 to 240 minutes")
        for day, spans in self.hours.items():
            if day not in WEEKDAYS or any(not _HOURS.match(span) for span in spans):
                raise BadRequest(f"hours must be like mon=10:00-13:00 (got {day}={spans})")
        for holiday in self.holidays:
            date.fromisoformat(holiday)


async def load_localities(settings: Settings) -> list[Locality]:
    raw = await settings.get_setting(_LOCALITIES)
    return [Locality(**item) for item in json.loads(raw)] if raw else []


async def _save_localities(settings: Settings, localities: list[Locality]) -> None:
    ordered = sorted(localities, key=lambda loc: (loc.name.casefold(), loc.station_id))
    await settings.set_setting(_LOCALITIES, json.dumps([asdict(loc) for loc in ordered]))


async def add_locality(state: GatewayState, locality: Locality) -> None:
    """Add or replace the locality of that name (a beat of a known station)."""
    await state.require_place(locality.station_id, locality.beat_id)
    others = [
        loc
        for loc in await load_localities(state)
        if loc.name.casefold() != locality.name.casefold()
    ]
    await _save_localities(state, [*others, locality])


async def remove_locality(settings: Settings, name: str) -> None:
    localities = await load_localities(settings)
    kept = [loc for loc in localities if loc.name.casefold() != name.casefold()]
    if len(kept) == len(localities):
        raise NotFound(f"no locality {name!r}")
    await _save_localities(settings, kept)


async def load_schedules(settings: Settings) -> dict[str, Schedule]:
    raw = await settings.get_setting(_SCHEDULES)
    return {oid: Schedule(**item) for oid, item in json.loads(raw).items()} if raw else {}


async def save_schedule(state: GatewayState, schedule: Schedule) -> None:
    officer = await state.get_officer(schedule.officer_id)
    if officer is None or officer.revoked:
        raise NotFound(f"no officer {schedule.officer_id!r}")
    await state.require_place(schedule.station_id)
    schedules = await load_schedules(state)
    schedules[schedule.officer_id] = schedule
    await state.set_setting(
        _SCHEDULES, json.dumps({oid: asdict(s) for oid, s in sorted(schedules.items())})
    )


def _address_key(station_id: str) -> str:
    return f"portal.address.{station_id}"


async def set_station_address(state: GatewayState, station_id: str, address: str) -> None:
    """Where citizens go to sign a complaint or meet an officer."""
    await state.require_place(station_id)
    await state.set_setting(_address_key(station_id), address)


async def station_address(settings: Settings, station_id: str) -> str | None:
    return await settings.get_setting(_address_key(station_id))
