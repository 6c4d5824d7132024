"""The reminder scheduler: a booking's reminder is queued once its meeting is
less than a day away, in the language its citizen booked in, for walk-ins an
officer booked on a device too (in Hindi and English); never twice, even by
a restarted gateway (the marks live in the state); never for a cancelled
booking; and a slot booked again after a cancellation is reminded anew."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from server.gateway.keys import STATE, STORES
from server.portal.outbox import Message
from server.portal.reminders import ReminderScheduler
from server.portal.services import OUTBOX, REMINDERS
from server.portal.slots import slot_doc_id
from server.state.timestamps import utc_now
from tests.server.conftest import basic
from tests.server.portal.support import post_form, receipt_of
from tests.server.portal.test_appointment import book, free_slots

WALK_IN_PHONE = "9700000009"


async def reminders(client: TestClient[Any, Any]) -> list[Message]:
    return [m for m in await client.server.app[OUTBOX].pending() if m.kind == "reminder"]


async def book_walk_in(client: TestClient[Any, Any], slot: str) -> None:
    """What an officer's device writes for a citizen at the desk (no ticket)."""
    now = utc_now()
    doc = {
        "_id": slot_doc_id("so-alpha", datetime.fromisoformat(slot)),
        "type": "appointment",
        "schema_version": 1,
        "station_id": "alpha",
        "beat_id": "alpha-one",
        "created_by": "so-alpha",
        "created_at": now,
        "updated_by": "so-alpha",
        "updated_at": now,
        "citizen": {"name": "Walk In", "phone": WALK_IN_PHONE},
        "officer_id": "so-alpha",
        "with": "sho",
        "slot": slot,
        "purpose": "Came to the station",
        "status": "requested",
    }
    put = await client.put(f"/station-alpha/{doc['_id']}", json=doc, headers=basic("so-alpha"))
    assert put.status == 201, await put.text()


async def test_reminders_are_queued_a_day_ahead_once(portal: TestClient[Any, Any]) -> None:
    app = portal.server.app
    slots = await free_slots(portal)
    soon, walk_in, later = slots[0], slots[1], slots[-1]  # later: about 14 days ahead
    number, _pin = receipt_of((await book(portal, soon, phone="9800000001"))[1])
    await book_walk_in(portal, walk_in)
    await book(portal, later, phone="9800000003")
    scheduler = app[REMINDERS]
    now = datetime.now(UTC)

    assert await scheduler.run_once(now) == 2
    by_phone = {m.phone: m for m in await reminders(portal)}
    assert set(by_phone) == {"9800000001", WALK_IN_PHONE}
    online = by_phone["9800000001"]
    assert online.number == number
    assert online.text.startswith("Reminder: your meeting")  # the English page it was booked on
    assert number in online.text
    assert "police station police station" not in online.text  # the name says it already
    walked = by_phone[WALK_IN_PHONE]
    assert walked.number == ""
    assert "याद दिलाना" in walked.text  # Hindi, then English
    assert "Reminder: your meeting at" in walked.text

    # Again, and by a restarted gateway's scheduler: nothing new.
    assert await scheduler.run_once(now) == 0
    restarted = ReminderScheduler(app[STATE], app[STORES], app[OUTBOX])
    assert await restarted.run_once(now) == 0
    assert len(await reminders(portal)) == 2

    # Its day comes for the later one.
    assert await restarted.run_once(datetime.fromisoformat(later) - timedelta(hours=23)) == 1
    assert [m.phone for m in await reminders(portal)][-1] == "9800000003"


async def test_a_cancelled_booking_gets_none_and_a_rebooking_gets_its_own(
    portal: TestClient[Any, Any],
) -> None:
    app = portal.server.app
    slot = (await free_slots(portal))[0]
    number, pin = receipt_of((await book(portal, slot, phone="9800000004"))[1])
    status, page = await post_form(
        portal, "/portal/booking/cancel", {"number": number, "pin": pin}, form_page="/portal/status"
    )
    assert status == 200, page
    now = datetime.now(UTC)
    assert await app[REMINDERS].run_once(now) == 0

    # The same slot booked again (in Hindi): the same id, another booking.
    hindi = {"Accept-Language": "hi"}
    status, page = await post_form(
        portal,
        "/portal/appointment/slots?officer=so-alpha",
        {"name": "Gita Rani", "phone": "9800000005", "purpose": "A land record", "slot": slot},
        headers=hindi,
    )
    assert status == 201, page
    assert await app[REMINDERS].run_once(now) == 1
    [reminder] = await reminders(portal)
    assert reminder.phone == "9800000005"
    assert reminder.text.startswith("याद दिलाना")
    assert "Reminder" not in reminder.text
