"""Appointment reminders: a scheduler that queues each booking's reminder in
the outbox once its meeting is less than a day away.

It reads the bookings themselves, not what the portal queued when they were
made, so a walk-in an officer booked offline on a device is reminded too,
and a booking cancelled or moved before its day is not (its slot document
is gone). Each pass reads, per officer with published hours, the one range
of slot ids between now and a day ahead (:func:`server.portal.slots.slot_doc_id`
sorts by time), never the station's whole database.

Idempotent across restarts: each reminder queued is marked in the gateway's
settings (``portal.reminder.<booking>``, kept with the state, SQLite or
CouchDB), and a marked booking is skipped. The mark is written after the
message, so a gateway stopped in between queues that one reminder again on
its next pass: a citizen may get a reminder twice, never none.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final

from schemas.i18n import translations
from server.portal.bilingual import both_languages
from server.portal.directory import Schedule, load_schedules
from server.portal.forms import N_
from server.portal.outbox import Message, Outbox
from server.portal.slots import local_time, slot_doc_id
from server.state.interface import GatewayState
from server.state.stations import StationDatabases
from server.state.timestamps import utc_now
from sync.database import Doc

__all__ = [
    "REMINDER",
    "REMINDER_BEFORE",
    "ReminderScheduler",
    "booking_key",
    "booking_number",
    "remember_booking",
]

log = logging.getLogger("beatsync.portal.reminders")

# When the reminder goes out: a day before the meeting.
REMINDER_BEFORE: Final = timedelta(days=1)
# How often the scheduler looks; a reminder is at most this late.
EVERY_S: Final = 300.0
# %(station)s is the station's name, which says "police station" itself.
REMINDER = N_("Reminder: your meeting %(number)s at %(station)s is on %(slot)s.")
# A booking made at the station has no tracking number.
REMINDER_WALK_IN = N_("Reminder: your meeting at %(station)s is on %(slot)s.")
_PREFIX = "portal.reminder."
_LIVE = ("requested", "confirmed")


def booking_key(doc: Mapping[str, Any]) -> str:
    """One booking of a slot: its id, and who made it when (a slot cancelled
    and booked again keeps its id but is another booking)."""
    made = hashlib.sha256(f"{doc.get('created_by')}|{doc.get('created_at')}".encode()).hexdigest()
    return f"{_PREFIX}{doc['_id']}.{made[:16]}"


@dataclass(frozen=True, slots=True)
class _Mark:
    number: str = ""  # the tracking number, when the booking was made online
    lang: str = ""  # the page's language then
    queued_at: str = ""


async def remember_booking(state: GatewayState, doc: Doc, number: str, lang: str) -> None:
    """What the reminder of an online booking says: its number, in its language."""
    await state.set_setting(booking_key(doc), json.dumps({"number": number, "lang": lang}))


async def _mark(state: GatewayState, key: str) -> _Mark | None:
    raw = await state.get_setting(key)
    return _Mark(**json.loads(raw)) if raw else None


async def booking_number(state: GatewayState, doc: Mapping[str, Any]) -> str:
    """The tracking number of booking ``doc`` (a leaf of its slot), or "" for
    one made at the station."""
    mark = await _mark(state, booking_key(doc))
    return mark.number if mark else ""


class ReminderScheduler:
    def __init__(self, state: GatewayState, stores: StationDatabases, outbox: Outbox) -> None:
        self._state = state
        self._stores = stores
        self._outbox = outbox
        # One pass at a time (the background loop and a test, say).
        self._lock = asyncio.Lock()

    async def run_once(self, now: datetime) -> int:
        """Queue the reminder of every live booking whose meeting is after
        ``now`` and within :data:`REMINDER_BEFORE`, unless queued already."""
        async with self._lock:
            queued = 0
            for schedule in (await load_schedules(self._state)).values():
                for doc in await self._bookings(schedule, now):
                    queued += await self._remind(doc)
            return queued

    async def _bookings(self, schedule: Schedule, now: datetime) -> list[Doc]:
        store = await self._stores.get(schedule.station_id)
        rows = await store.all_docs(
            startkey=slot_doc_id(schedule.officer_id, now),
            endkey=slot_doc_id(schedule.officer_id, now + REMINDER_BEFORE),
            include_docs=True,
        )
        docs = [row["doc"] for row in rows["rows"] if isinstance(row.get("doc"), dict)]
        return [
            doc
            for doc in docs
            if doc.get("status") in _LIVE
            and isinstance(doc.get("citizen"), dict)
            and datetime.fromisoformat(doc["slot"]) > now
        ]

    async def _remind(self, doc: Doc) -> int:
        key = booking_key(doc)
        mark = await _mark(self._state, key) or _Mark()
        if mark.queued_at:
            return 0
        station = await self._state.get_station(doc["station_id"])
        values = {
            "number": mark.number,
            "station": station.name if station else doc["station_id"],
            "slot": local_time(doc["slot"]),
        }
        if mark.lang:
            text = translations(mark.lang).gettext(REMINDER) % values
        else:  # booked at the station: no number, no page language to follow
            text = both_languages(REMINDER_WALK_IN if not mark.number else REMINDER, values)
        now = utc_now()
        await self._outbox.add(Message("reminder", doc["citizen"]["phone"], mark.number, text, now))
        await self._state.set_setting(key, json.dumps(_as_dict(mark, queued_at=now)))
        return 1

    async def run(self, stop: asyncio.Event, every_s: float = EVERY_S) -> None:
        """A pass every ``every_s`` until ``stop`` (the gateway's background task)."""
        while not stop.is_set():
            try:
                await self.run_once(datetime.fromisoformat(utc_now()))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # CouchDB down, a disk full: the next pass tries again.
                log.warning("reminder pass failed", extra={"fields": {"error": str(exc)[:200]}})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every_s)


def _as_dict(mark: _Mark, **changes: Any) -> dict[str, str]:
    return {"number": mark.number, "lang": mark.lang, "queued_at": mark.queued_at, **changes}
