"""Where a citizen's record goes: the station and beat of a locality, or of
the station the citizen picked (its first beat; the station reassigns)."""

from __future__ import annotations

from collections.abc import Sequence

from server.portal.directory import load_localities
from server.state.interface import GatewayState

__all__ = ["place_choices", "resolve_place", "station_choices"]


async def place_choices(state: GatewayState) -> list[tuple[str, str]]:
    return [(loc.name, loc.name) for loc in await load_localities(state)]


async def station_choices(state: GatewayState) -> list[tuple[str, str]]:
    return [(st.id, st.name) for st in await state.list_stations()]


async def resolve_place(
    state: GatewayState, locality: str | None, station_id: str | None
) -> tuple[str, str] | None:
    """``(station_id, beat_id)`` for the answers, or ``None`` if neither names one."""
    if locality:
        for loc in await load_localities(state):
            if loc.name == locality:
                return loc.station_id, loc.beat_id
    if station_id:
        beats: Sequence[str] = sorted(b.id for b in await state.list_beats(station_id))
        if beats:
            return station_id, beats[0]
    return None
