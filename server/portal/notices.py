"""Messages the portal sends without a citizen's request in hand: no page
language to follow, so the text goes in Hindi and in English, one after the
other, from the one catalogue (:func:`server.portal.bilingual.both_languages`).

The double booking of a slot (booked at the centre and, offline, at a
station or on an officer's device) is one listener of the merge runner and
the office's desk (:data:`server.conflicts.runner.QueueListener`):

* queued: every citizen named in its leaves is told the office will decide;
* resolved by the office: the citizen whose booking the resolution kept is
  told it stands; every other is told the time went to another booking and
  what to do next: with a tracking number, move the booking on the status
  page; a walk-in (no number), ask the station.

Exactly once each: the runner and the desk call listeners only when the
queue entry changed (queued anew, or closed by this resolution).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from schemas.merge import Leaf
from server.conflicts.leaves import Conflicted
from server.conflicts.runner import QueueListener
from server.portal.bilingual import both_languages
from server.portal.forms import N_
from server.portal.outbox import Message, Outbox
from server.portal.reminders import booking_number
from server.portal.slots import local_time
from server.state.conflict_queue import QueuedConflict
from server.state.interface import GatewayState
from server.state.timestamps import utc_now
from sync.database import Doc

__all__ = ["BOOKING_KEPT", "DOUBLE_BOOKED", "GIVEN_AWAY", "GIVEN_AWAY_WALK_IN", "booking_notices"]

DOUBLE_BOOKED = N_(
    "Your police meeting on %(slot)s was booked for someone else too. The office will"
    " decide and tell you; you may also move your meeting."
)
BOOKING_KEPT = N_(
    "The office has decided about the double booking: your police meeting on %(slot)s"
    " stands. Please come at that time."
)
GIVEN_AWAY = N_(
    "The office gave the time %(slot)s to another booking. Please book another time:"
    " open the status page (/portal/status) with your number %(number)s and your PIN,"
    " and move your meeting."
)
GIVEN_AWAY_WALK_IN = N_(
    "The office gave the time %(slot)s to another booking. Please ask %(station)s for another time."
)
KINDS = {"open": "double_booking", "resolved": "booking_decided"}


def _phone(body: Mapping[str, Any]) -> str | None:
    citizen = body.get("citizen")
    phone = citizen.get("phone") if isinstance(citizen, dict) else None
    return phone if isinstance(phone, str) else None


def _by_phone(leaves: list[Leaf]) -> dict[str, Leaf]:
    """One party per phone (a citizen who booked twice is told once)."""
    return {phone: leaf for leaf in leaves if (phone := _phone(leaf.body)) is not None}


def _slot(record: Conflicted) -> str:
    slot = next((str(leaf.body["slot"]) for leaf in record.leaves if "slot" in leaf.body), "")
    return local_time(slot)


def booking_notices(outbox: Outbox, state_of: Callable[[], GatewayState]) -> QueueListener:
    """The listener that tells every citizen of a double booking, queued and
    decided. ``state_of``: the gateway's state, opened after the listener is
    registered (the tracking numbers and station names are there)."""

    async def queued(record: Conflicted) -> list[Message]:
        text = both_languages(DOUBLE_BOOKED, {"slot": _slot(record)})
        now = utc_now()
        # No booking number: the notice is about the slot, which every party
        # shares, and only the online citizen has a number.
        return [Message(KINDS["open"], p, "", text, now) for p in sorted(_by_phone(record.leaves))]

    async def decided(entry: QueuedConflict, record: Conflicted, resolved: Doc) -> list[Message]:
        kept, state = _phone(resolved), state_of()
        station = await state.get_station(entry.station_id)
        values = {"slot": _slot(record), "station": station.name if station else entry.station_id}
        now = utc_now()
        messages = []
        for phone, leaf in sorted(_by_phone(record.leaves).items()):
            number = await booking_number(state, leaf.body)
            if phone == kept:
                text = both_languages(BOOKING_KEPT, values)
            else:
                text = both_languages(
                    GIVEN_AWAY if number else GIVEN_AWAY_WALK_IN, {**values, "number": number}
                )
            messages.append(Message(KINDS["resolved"], phone, number, text, now))
        return messages

    async def tell(entry: QueuedConflict, record: Conflicted, resolved: Doc | None) -> None:
        if entry.record_type != "appointment":
            return
        if entry.status == "open":
            await outbox.add(*await queued(record))
        elif entry.status == "resolved" and resolved is not None:
            await outbox.add(*await decided(entry, record, resolved))

    return tell
