"""A complaint filed online lands in the station's database through the write
path (audited as the citizen), and its status opens with number and PIN only."""

from __future__ import annotations

import html as htmllib
from typing import Any

from aiohttp.test_utils import TestClient

from schemas.i18n import translations
from server.gateway.keys import STATE, STORES
from server.portal.tickets import find_ticket
from tests.server.portal.conftest import STATION_ADDRESS
from tests.server.portal.support import COMPLAINT, file_complaint, open_status, post_form

HINDI = {"Accept-Language": "hi-IN,hi;q=0.9"}
hi = translations("hi").gettext


async def test_a_complaint_filed_online_is_a_station_record(portal: TestClient[Any, Any]) -> None:
    number, pin = await file_complaint(portal)
    ticket = await find_ticket(portal.server.app[STATE], number)
    assert ticket is not None
    assert ticket.station_id == "alpha"
    assert pin not in ticket.pin_hash
    doc = await (await portal.server.app[STORES].get("alpha")).get(ticket.doc_id)
    assert doc["type"] == "complaint"
    assert doc["status"] == "registered"
    # The locality's beat, so it syncs to that beat officer's device.
    assert doc["beat_id"] == "alpha-two"
    assert doc["complainant"]["phone"] == COMPLAINT["phone"]
    assert doc["created_by"].startswith("citizen:")
    assert doc["action_log"][0]["action"] == "filed_online"
    audit = await portal.server.app[STATE].read(db="station-alpha")
    entry = next(e for e in audit if e.doc_id == ticket.doc_id)
    assert entry.officer_id == doc["created_by"]
    assert entry.signed == "unsigned"


async def test_the_status_page_shows_the_clock_and_the_station(
    portal: TestClient[Any, Any],
) -> None:
    number, pin = await file_complaint(portal, headers=HINDI)
    status, page = await open_status(portal, number, pin, headers=HINDI)
    assert status == 200
    text = htmllib.unescape(page)
    assert hi("Registered") in text
    assert STATION_ADDRESS in text
    assert (
        hi("Sign this complaint at the station within %(days)s days %(hours)s hours.")
        % {
            "days": 2,
            "hours": 23,
        }
        in text
    )


async def test_nothing_shows_without_the_right_pin(portal: TestClient[Any, Any]) -> None:
    number, pin = await file_complaint(portal)
    wrong = "000000" if pin != "000000" else "111111"
    status, page = await open_status(portal, number, wrong)
    assert status == 403
    for secret in (COMPLAINT["name"], COMPLAINT["address"], STATION_ADDRESS, "Registered"):
        assert secret not in htmllib.unescape(page)
    status, _ = await open_status(portal, "C-2222-2222", pin)
    assert status == 403


async def test_a_refused_form_keeps_the_answers_and_stores_nothing(
    portal: TestClient[Any, Any],
) -> None:
    before = (await (await portal.server.app[STORES].get("alpha")).info())["doc_count"]
    status, page = await post_form(
        portal,
        "/portal/complaint",
        {**COMPLAINT, "phone": "12345", "time": "tomorrow", "category": "ufo"},
        headers=HINDI,
    )
    assert status == 422
    text = htmllib.unescape(page)
    assert hi("Give a 10-digit mobile number, like 9876543210.") in text
    assert hi("Give a date and time, like 2026-05-01 10:30.") in text
    assert hi("Please choose one of the options.") in text
    assert COMPLAINT["description"] in text
    assert COMPLAINT["address"] in text
    after = (await (await portal.server.app[STORES].get("alpha")).info())["doc_count"]
    assert after == before
