"""What a tracking number opens: the record's station and id, and the PIN's hash.

Kept in the gateway's settings (SQLite or CouchDB, like the rest of the
gateway's state), never in the record: the record syncs to officers' devices,
the PIN hash has no business there.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from server.state.interface import Settings

__all__ = ["Ticket", "find_ticket", "save_ticket"]

_PREFIX = "portal.ticket."


@dataclass(frozen=True, slots=True)
class Ticket:
    number: str
    station_id: str
    doc_id: str
    pin_hash: str
    # The citizen:<ref> who filed it: of a record in conflict (a double
    # booking), the leaf this citizen made is theirs, the others are not.
    # Empty on tickets issued before it was kept.
    actor: str = ""


async def save_ticket(settings: Settings, ticket: Ticket) -> None:
    await settings.set_setting(_PREFIX + ticket.number, json.dumps(asdict(ticket)))


async def find_ticket(settings: Settings, number: str) -> Ticket | None:
    raw = await settings.get_setting(_PREFIX + number)
    return Ticket(**json.loads(raw)) if raw else None
