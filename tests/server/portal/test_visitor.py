"""A visit announced on the portal is an entry of the station's visitor
register with no time in; the desk checks the visitor in from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from server.gateway.keys import STATE, STORES
from server.portal.tickets import find_ticket
from tests.server.conftest import basic
from tests.server.portal.support import open_status, post_form, receipt_of


def visit(when: datetime) -> dict[str, str]:
    return {
        "station": "alpha",
        "whom": "The SHO",
        "when": when.strftime("%Y-%m-%dT%H:%M"),
        "purpose": "To collect a copy of my complaint",
        "name": "Kamla Devi",
        "phone": "9988776655",
    }


async def test_an_announced_visit_is_checked_in_at_the_desk(
    portal: TestClient[Any, Any],
) -> None:
    tomorrow = datetime.now(UTC) + timedelta(days=1)
    status, page = await post_form(portal, "/portal/visit", visit(tomorrow))
    assert status == 201, page
    number, pin = receipt_of(page)
    ticket = await find_ticket(portal.server.app[STATE], number)
    assert ticket is not None
    store = await portal.server.app[STORES].get("alpha")
    entry = await store.get(ticket.doc_id)
    assert entry["type"] == "visitor_entry"
    assert "time_in" not in entry
    assert entry["expected_at"]
    assert "Expected" in (await open_status(portal, number, pin))[1]

    entry.update(time_in="2026-01-06T11:05:00+05:30", updated_by="so-alpha")
    put = await portal.put(f"/station-alpha/{entry['_id']}", json=entry, headers=basic("so-alpha"))
    assert put.status == 201, await put.text()
    assert "Checked in" in (await open_status(portal, number, pin))[1]


async def test_a_visit_in_the_past_is_refused(portal: TestClient[Any, Any]) -> None:
    yesterday = datetime.now(UTC) - timedelta(days=1)
    status, page = await post_form(portal, "/portal/visit", visit(yesterday))
    assert status == 422
    assert "This time has passed." in page
    assert "Kamla Devi" in page
