"""What ``serve --demo`` adds for the portal: localities, station addresses and
meeting hours, so a visitor can file, book and track at once."""

from __future__ import annotations

from pathlib import Path

from server.portal.directory import (
    Locality,
    Schedule,
    add_locality,
    load_schedules,
    save_schedule,
    set_station_address,
)
from server.portal.district_keys import create_key, published_keys
from server.state.interface import GatewayState

__all__ = ["provision_demo_portal"]

_WEEKDAYS = {day: ["10:00-13:00", "15:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
_LOCALITIES = [
    ("Chowk Bazaar", "kotwali", "kotwali-bazaar"),
    ("Ghat Road", "kotwali", "kotwali-ghat"),
    ("Civil Lines", "sadar", "sadar-north"),
    ("Railway Colony", "sadar", "sadar-south"),
    ("Rampur Purab", "rampur", "rampur-east"),
    ("Rampur Paschim", "rampur", "rampur-west"),
]


async def provision_demo_portal(state: GatewayState, data_dir: Path) -> None:
    """Idempotent, like the demo district: a restart keeps what an admin changed."""
    if not await published_keys(state):
        await create_key(state, data_dir, rotate=False)
    if await load_schedules(state):
        return
    for name, station_id, beat_id in _LOCALITIES:
        await add_locality(state, Locality(name, station_id, beat_id))
    for station_id in ("kotwali", "sadar", "rampur"):
        address = f"{station_id.title()} police station, Station Road"
        await set_station_address(state, station_id, address)
        await save_schedule(state, Schedule(f"sho-{station_id}", station_id, "sho", 15, _WEEKDAYS))
    # The SP meets citizens at the district headquarters, in Kotwali.
    sp_hours = {"mon": ["11:00-13:00"], "thu": ["11:00-13:00"]}
    await save_schedule(state, Schedule("central", "kotwali", "sp", 15, sp_hours))
