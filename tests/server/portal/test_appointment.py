"""Appointments: a slot's booking is one document, so of 50 citizens who book
one slot at once exactly one gets it (409 MVCC for the others, embedded store
and CouchDB alike); cancel and move keep the number and PIN; the outbox holds
what the citizen is told."""

from __future__ import annotations

import asyncio
import html as htmllib
import re
from datetime import datetime
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from schemas.i18n import IST
from server.conflicts.runner import MergeRunner
from server.gateway.keys import CONFIG, MERGE_LISTENERS, MERGER, STATE, STORES
from server.portal.booking import cancel
from server.portal.outbox import Outbox
from server.portal.services import OUTBOX_FILE
from server.portal.tickets import Ticket, find_ticket
from server.state.timestamps import utc_now
from sync.database import Database
from sync.errors import Forbidden
from tests.server.portal.support import open_status, post_form, receipt_of
from tests.web_support import csrf_token_of

SLOTS = "/portal/appointment/slots?officer=so-alpha"
CITIZEN = {"name": "Ram Prasad", "phone": "9812345678", "purpose": "A land record"}


async def free_slots(client: TestClient[Any, Any]) -> list[str]:
    page = await (await client.get(SLOTS)).text()
    return re.findall(r'<option value="(\d{4}-[^"]+)"', page)


def outbox_of(client: TestClient[Any, Any]) -> Outbox:
    return Outbox(client.server.app[CONFIG].data_dir / OUTBOX_FILE)


async def book(client: TestClient[Any, Any], slot: str, **changes: str) -> tuple[int, str]:
    return await post_form(client, SLOTS, {**CITIZEN, "slot": slot, **changes})


async def test_fifty_citizens_one_slot_one_booking(portal: TestClient[Any, Any]) -> None:
    slot = (await free_slots(portal))[0]
    token = csrf_token_of(await (await portal.get(SLOTS)).text())

    async def attempt(n: int) -> int:
        data = FormData({"csrf_token": token, **CITIZEN, "phone": f"98{n:08d}", "slot": slot})
        answer = await portal.post(SLOTS, data=data)
        await answer.read()
        return answer.status

    statuses = await asyncio.gather(*(attempt(n) for n in range(50)))
    assert sorted(statuses) == [201] + [409] * 49
    store = await portal.server.app[STORES].get("alpha")
    rows = await store.all_docs(
        startkey="appointment-so-alpha-", endkey="appointment-so-alpha-\ufff0"
    )
    assert len(rows["rows"]) == 1
    assert slot not in await free_slots(portal)


async def test_a_taken_slot_is_refused_with_the_answers_kept(
    portal: TestClient[Any, Any],
) -> None:
    slot = (await free_slots(portal))[0]
    assert (await book(portal, slot))[0] == 201
    # The page still offered it: the citizen read it before it was taken.
    token = csrf_token_of(await (await portal.get(SLOTS)).text())
    data = FormData({"csrf_token": token, **CITIZEN, "name": "Second Person", "slot": slot})
    answer = await portal.post(SLOTS, data=data)
    page = htmllib.unescape(await answer.text())
    # Taken since the citizen's page was drawn: the same answer whether the
    # booking landed before this request read the free slots or during its write.
    assert answer.status == 409
    assert "Someone booked that time a moment ago" in page
    assert "Second Person" in page


async def test_booking_cancel_and_move(portal: TestClient[Any, Any]) -> None:
    first, second, third = (await free_slots(portal))[:3]
    status, page = await book(portal, first)
    assert status == 201
    number, pin = receipt_of(page)
    outbox = await outbox_of(portal).pending()
    assert [m.kind for m in outbox] == ["confirmation"]  # the reminder is the scheduler's
    assert all(m.number == number and m.phone == CITIZEN["phone"] for m in outbox)

    status, page = await post_form(
        portal,
        "/portal/booking/move",
        {"number": number, "pin": pin, "slot": second},
        form_page="/portal/status",
    )
    assert status == 200, page
    ticket = await find_ticket(portal.server.app[STATE], number)
    assert ticket is not None
    assert ticket.doc_id.endswith(second[:16].replace("-", "").replace(":", ""))
    assert first in await free_slots(portal)  # moving away frees the old slot
    assert second not in await free_slots(portal)
    store = await portal.server.app[STORES].get("alpha")
    slots = (
        await store.all_docs(
            startkey="appointment-so-alpha-",
            endkey="appointment-so-alpha-\ufff0",
            include_docs=True,
        )
    )["rows"]
    assert [row["doc"]["status"] for row in slots] == ["requested"]

    status, page = await post_form(
        portal, "/portal/booking/cancel", {"number": number, "pin": pin}, form_page="/portal/status"
    )
    assert status == 200, page
    status, page = await open_status(portal, number, pin)
    assert "Cancelled" in page
    kinds = [m.kind for m in await outbox_of(portal).pending()]
    assert kinds == ["confirmation", "confirmation", "cancellation"]
    assert {second, third} <= set(await free_slots(portal))


async def test_a_cancelled_slot_is_booked_again_by_exactly_one(
    portal: TestClient[Any, Any],
) -> None:
    slot = (await free_slots(portal))[0]
    number, pin = receipt_of((await book(portal, slot))[1])
    status, page = await post_form(
        portal, "/portal/booking/cancel", {"number": number, "pin": pin}, form_page="/portal/status"
    )
    assert status == 200, page
    assert slot in await free_slots(portal)
    store = await portal.server.app[STORES].get("alpha")
    ticket = await find_ticket(portal.server.app[STATE], number)
    assert ticket is not None
    kept = await store.get(ticket.doc_id)  # the booking lives on, cancelled, for its citizen
    assert (kept["status"], kept["slot"], kept["citizen"]) == (
        "cancelled",
        slot,
        {"name": CITIZEN["name"], "phone": CITIZEN["phone"]},
    )

    token = csrf_token_of(await (await portal.get(SLOTS)).text())

    async def attempt(n: int) -> tuple[int, str]:
        data = FormData(
            {
                "csrf_token": token,
                **CITIZEN,
                "name": "Gita Rani",
                "phone": f"97{n:08d}",
                "slot": slot,
            }
        )
        answer = await portal.post(SLOTS, data=data)
        return answer.status, await answer.text()

    answers = await asyncio.gather(*(attempt(n) for n in range(20)))
    assert sorted(status for status, _ in answers) == [201] + [409] * 19
    assert slot not in await free_slots(portal)
    [winner] = [page for status, page in answers if status == 201]
    again, again_pin = receipt_of(winner)
    assert "Booked" in (await open_status(portal, again, again_pin))[1]
    status, page = await open_status(portal, number, pin)
    assert "Cancelled" in page
    assert "Gita Rani" not in page


async def test_a_wrong_pin_cannot_cancel(portal: TestClient[Any, Any]) -> None:
    slot = (await free_slots(portal))[0]
    number, pin = receipt_of((await book(portal, slot))[1])
    wrong = "000000" if pin != "000000" else "111111"
    status, _ = await post_form(
        portal,
        "/portal/booking/cancel",
        {"number": number, "pin": wrong},
        form_page="/portal/status",
    )
    assert status == 403
    status, page = await open_status(portal, number, pin)
    assert "Booked" in page


async def double_booked(
    portal: TestClient[Any, Any],
) -> tuple[str, str, str, Ticket, Database, dict[str, Any]]:
    """A citizen's online booking, and the branch an officer's device wrote
    offline for a walk-in at the same slot, arrived by replication."""
    app = portal.server.app
    slot = (await free_slots(portal))[0]
    number, pin = receipt_of((await book(portal, slot))[1])
    ticket = await find_ticket(app[STATE], number)
    assert ticket is not None
    store = await app[STORES].get("alpha")
    ours = await store.get(ticket.doc_id)
    theirs = {
        **ours,
        "citizen": {"name": "Someone Else", "phone": "9700000000"},
        "purpose": "Walked in at the station",
        "created_by": "so-alpha",
        "updated_by": "so-alpha",
        "_rev": "1-" + "f" * 32,  # the highest rev id: CouchDB's winner
        "_revisions": {"start": 1, "ids": ["f" * 32]},
    }
    await store.bulk_docs([theirs], new_edits=False)
    return slot, number, pin, ticket, store, ours


async def test_a_double_booking_across_replicas_is_queued_and_both_citizens_told(
    portal: TestClient[Any, Any],
) -> None:
    """An officer's device, offline, booked the same slot for a walk-in; its
    revision arrives by replication (new_edits=false) as a second branch of
    the same document: CouchDB's conflict. The merge runner queues it for the
    office (never merged), both citizens get a notice in Hindi and English,
    and the online citizen's status page says so, showing their own booking
    (the walk-in's branch wins CouchDB's pick here) and nothing of the other."""
    app = portal.server.app
    slot, number, pin, ticket, store, _ours = await double_booked(portal)
    assert (await store.get(ticket.doc_id, conflicts=True))["created_by"] == "so-alpha"

    report = await app[MERGER].merge_station("alpha")
    assert report.queued == [ticket.doc_id]
    assert report.merged == []
    entry = await app[STATE].open_conflict("alpha", ticket.doc_id)
    assert entry is not None
    assert entry.record_type == "appointment"
    notices = [m for m in await outbox_of(portal).pending() if m.kind == "double_booking"]
    assert sorted(m.phone for m in notices) == sorted([CITIZEN["phone"], "9700000000"])
    assert all("booked for someone else too" in m.text for m in notices)
    assert all("किसी और" in m.text for m in notices)  # and in Hindi
    # A second pass, or a restarted gateway's runner, tells nobody again.
    await app[MERGER].merge_station("alpha")
    await MergeRunner(app[STATE], app[STORES], listeners=app[MERGE_LISTENERS]).merge_station(
        "alpha"
    )
    assert len([m for m in await outbox_of(portal).pending() if m.kind == "double_booking"]) == 2

    status, page = await open_status(portal, number, pin)
    assert status == 200
    assert "Two bookings were made for this time at once." in htmllib.unescape(page)
    assert "Booked" in page
    assert "Someone Else" not in page
    assert "Walked in" not in page

    # The citizen gives way: only their branch goes; the walk-in keeps the
    # slot, and the queue entry closes as settled.
    status, page = await post_form(
        portal, "/portal/booking/cancel", {"number": number, "pin": pin}, form_page="/portal/status"
    )
    assert status == 200, page
    left = await store.get(ticket.doc_id, conflicts=True)
    assert left["created_by"] == "so-alpha"
    assert not left.get("_conflicts")
    assert slot not in await free_slots(portal)
    await app[MERGER].merge_station("alpha")
    assert await app[STATE].open_conflict("alpha", ticket.doc_id) is None
    assert "Cancelled" in (await open_status(portal, number, pin))[1]


async def test_a_citizen_whose_double_booking_the_office_gave_away_is_told(
    portal: TestClient[Any, Any],
) -> None:
    """The office kept the walk-in's booking (the citizen's branch deleted, as
    the desk's resolution writes it): the status page says so, shows nothing
    of the other booking, and offers no cancel or move of it."""
    _slot, number, pin, ticket, store, ours = await double_booked(portal)
    gone = {"_id": ours["_id"], "_rev": "2-" + "e" * 32, "_deleted": True}
    gone["_revisions"] = {"start": 2, "ids": ["e" * 32, ours["_rev"].split("-")[1]]}
    await store.bulk_docs([gone], new_edits=False)
    assert not (await store.get(ticket.doc_id, conflicts=True)).get("_conflicts")

    status, page = await open_status(portal, number, pin)
    assert status == 200
    assert "The office gave this time to another booking." in htmllib.unescape(page)
    assert "Someone Else" not in page
    assert "Walked in" not in page
    assert "/portal/booking/cancel" not in page
    status, _ = await post_form(
        portal, "/portal/booking/cancel", {"number": number, "pin": pin}, form_page="/portal/status"
    )
    assert status == 409
    assert (await store.get(ticket.doc_id))["created_by"] == "so-alpha"


async def test_the_outbox_is_drained_by_a_sender(portal: TestClient[Any, Any]) -> None:
    slot = (await free_slots(portal))[0]
    number, _pin = receipt_of((await book(portal, slot))[1])
    outbox = outbox_of(portal)
    sent: list[str] = []

    async def sms(message: Any) -> None:
        sent.append(message.number)

    assert await outbox.drain(sms, now="2000-01-01T00:00:00.000Z") == 0
    assert await outbox.drain(sms, now=utc_now()) == 1
    assert sent == [number]
    assert await outbox.pending() == []

    async def down(message: Any) -> None:
        raise ConnectionError("SMS gateway down")

    await book(portal, (await free_slots(portal))[0], phone="9800000002")
    assert await outbox.drain(down, now=utc_now()) == 0
    assert len(await outbox.pending()) == 1  # kept for the next try


async def test_only_the_citizen_who_booked_frees_the_slot(portal: TestClient[Any, Any]) -> None:
    slot = (await free_slots(portal))[0]
    number, _pin = receipt_of((await book(portal, slot))[1])
    app = portal.server.app
    ticket = await find_ticket(app[STATE], number)
    assert ticket is not None
    store = await app[STORES].get("alpha")
    doc = await store.get(ticket.doc_id)
    stranger = {
        **doc,
        "created_by": "citizen:0000000000000bad",
        "updated_by": "citizen:0000000000000bad",
    }
    before = (await store.info())["doc_count"]
    with pytest.raises(Forbidden):
        await cancel(app[STATE], app[STORES], stranger)
    assert (await store.info())["doc_count"] == before  # no cancelled copy either
    assert (await store.get(ticket.doc_id))["status"] == "requested"
    assert slot not in await free_slots(portal)


async def test_slots_are_named_in_the_readers_language(portal: TestClient[Any, Any]) -> None:
    """A Hindi page offers 'सोम 7 दिस॰, 10:00', not strftime's English 'Mon 07-12'."""
    weekdays = {
        "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
        "hi": ("सोम", "मंगल", "बुध", "गुरु", "शुक्र", "शनि", "रवि"),
    }
    other_script = {"en": re.compile("[\u0900-\u097f]"), "hi": re.compile("[A-Za-z]")}
    for language, names in weekdays.items():
        page = await (await portal.get(SLOTS, headers={"Accept-Language": language})).text()
        options = re.findall(r'<option value="(\d{4}-[^"]+)"[^>]*>([^<]+)</option>', page)
        assert options, page
        for value, label in options:
            start = datetime.fromisoformat(value).astimezone(IST)
            assert label.split()[0] == names[start.weekday()], (language, label)
            assert label.endswith(f"{start:%H:%M}")
            assert not other_script[language].search(label), (language, label)
