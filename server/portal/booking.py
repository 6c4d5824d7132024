"""Booking, cancelling and moving an appointment: the slot's document is the booking.

The first write of a slot's id wins; every later one is the store's 409
(:mod:`server.portal.slots`). Cancelling frees the slot: first the
slot's document is deleted, then the booking lives on, ``cancelled``, under
a new random id (what the citizen's tracking number then opens, and what the
station's register keeps). A deleted id is written again like a new one
(CouchDB re-creates over a tombstone, extending its branch), so the next
booking of that slot is again a race that exactly one write wins.
"""

from __future__ import annotations

import uuid
from typing import Any

from server.portal.directory import Schedule
from server.portal.outbox import Message, Outbox
from server.portal.records import appointment
from server.portal.reminders import remember_booking
from server.portal.slots import local_time, slot_doc_id
from server.portal.writer import write_record
from server.state.interface import GatewayState
from server.state.stations import StationDatabases
from server.state.timestamps import utc_now
from sync.database import Doc

__all__ = ["book", "cancel", "taken_slots"]


async def taken_slots(stores: StationDatabases, schedule: Schedule) -> set[str]:
    """Ids of the officer's booked slots (any status but deleted)."""
    prefix = f"appointment-{schedule.officer_id}-"
    store = await stores.get(schedule.station_id)
    rows = (await store.all_docs(startkey=prefix, endkey=prefix + "\ufff0"))["rows"]
    return {row["id"] for row in rows}


async def _beat_of(state: GatewayState, station_id: str) -> str:
    return sorted(b.id for b in await state.list_beats(station_id))[0]


async def book(
    state: GatewayState,
    stores: StationDatabases,
    schedule: Schedule,
    ref: str,
    answers: dict[str, Any],
) -> Doc:
    """Write the booking of ``answers["slot"]``; ``Conflict`` if it is taken."""
    doc = appointment(
        ref,
        schedule.station_id,
        await _beat_of(state, schedule.station_id),
        slot_doc_id(schedule.officer_id, answers["slot"]),
        {**answers, "officer_id": schedule.officer_id, "with": schedule.with_},
    )
    doc["_rev"] = await write_record(state, stores, doc)
    return doc


async def cancel(state: GatewayState, stores: StationDatabases, doc: Doc) -> Doc:
    """The booking ``doc`` (the citizen's revision of the slot) cancelled by
    its citizen: the slot freed, then the booking kept, cancelled, under a
    new id. In that order because a bulk write is not all-or-nothing: a
    refused or lost deletion (409: cancelled twice at once) writes nothing."""
    citizen = doc["created_by"]
    freed = {
        "_id": doc["_id"],
        "_rev": doc["_rev"],
        "_deleted": True,
        "station_id": doc["station_id"],
        "beat_id": doc["beat_id"],
        "updated_by": citizen,
    }
    cancelled = {k: v for k, v in doc.items() if not k.startswith("_")}
    cancelled.update(
        _id=uuid.uuid4().hex, status="cancelled", updated_by=citizen, updated_at=utc_now()
    )
    await write_record(state, stores, freed)
    cancelled["_rev"] = await write_record(state, stores, cancelled)
    return cancelled


async def announce(
    state: GatewayState, outbox: Outbox, doc: Doc, number: str, lang: str, confirmation: str
) -> None:
    """Queue the confirmation now; the reminder is the scheduler's, the day
    before (:mod:`server.portal.reminders`), with this number, in this language."""
    await remember_booking(state, doc, number, lang)
    await outbox.add(
        Message("confirmation", doc["citizen"]["phone"], number, confirmation, utc_now())
    )


def slot_text(doc: Doc) -> str:
    return local_time(doc["slot"])
