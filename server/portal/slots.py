"""An officer's bookable slots, and the one id each slot's booking takes.

The id is a function of the officer and the slot's start, so two bookings of
one slot are two writes of one document: the store's MVCC answers the second
with 409 (embedded store and CouchDB alike), and two bookings made apart (at
an offline station hub and at the centre) become a CouchDB conflict when
they meet, never two appointments. Times are India Standard Time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta

from schemas.i18n import IST
from server.portal.directory import WEEKDAYS, Schedule

__all__ = ["BOOKING_DAYS", "open_slots", "parse_slot", "slot_doc_id"]

# How far ahead a citizen may book.
BOOKING_DAYS = 14
_ID_TIME = "%Y%m%dT%H%M"


def slot_doc_id(officer_id: str, start: datetime) -> str:
    return f"appointment-{officer_id}-{start.astimezone(IST).strftime(_ID_TIME)}"


def _starts(schedule: Schedule, day: date) -> Iterator[datetime]:
    if day.isoformat() in schedule.holidays:
        return
    step = timedelta(minutes=schedule.slot_minutes)
    for span in schedule.hours.get(WEEKDAYS[day.weekday()], []):
        begin, end = (time.fromisoformat(part) for part in span.split("-"))
        start = datetime.combine(day, begin, IST)
        while start + step <= datetime.combine(day, end, IST):
            yield start
            start += step


def open_slots(schedule: Schedule, now: datetime, days: int = BOOKING_DAYS) -> list[datetime]:
    """Every slot start of the next ``days`` days still in the future."""
    today = now.astimezone(IST).date()
    return [
        start
        for offset in range(days + 1)
        for start in _starts(schedule, today + timedelta(days=offset))
        if start > now
    ]


def parse_slot(schedule: Schedule, value: str, now: datetime) -> datetime | None:
    """The slot a form names (its ISO start), if the schedule offers it now."""
    try:
        wanted = datetime.fromisoformat(value)
    except ValueError:
        return None
    if wanted.tzinfo is None:
        return None
    return wanted if wanted in open_slots(schedule, now) else None


def local_time(iso: str) -> str:
    """A stored time as a citizen reads it: India time, day first."""
    try:
        return datetime.fromisoformat(iso).astimezone(IST).strftime("%d-%m-%Y %H:%M")
    except ValueError:
        return iso


def utc_now() -> datetime:
    return datetime.now(UTC)
