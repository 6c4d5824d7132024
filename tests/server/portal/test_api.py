"""The station's JSON view of the portal: complaints awaiting the complainant's
signature, for its own station officers and the central office only."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from server.gateway.keys import STATE, STORES
from server.portal.tickets import find_ticket
from tests.server.conftest import basic
from tests.server.portal.support import file_complaint

AWAITING = "/_beatsync/portal/awaiting-signature"


async def test_the_station_sees_complaints_awaiting_signature(
    portal: TestClient[Any, Any],
) -> None:
    number, _pin = await file_complaint(portal)
    ticket = await find_ticket(portal.server.app[STATE], number)
    assert ticket is not None
    answer = await portal.get(AWAITING, params={"station": "alpha"}, headers=basic("so-alpha"))
    assert answer.status == 200
    listed = (await answer.json())["complaints"]
    assert [c["id"] for c in listed] == [ticket.doc_id]
    assert listed[0]["lapsed"] is False
    assert "complainant" not in listed[0]

    # Once an officer records the signature, it leaves the list.
    store = await portal.server.app[STORES].get("alpha")
    doc = await store.get(ticket.doc_id)
    doc["action_log"].append(
        {"at": "2026-01-03T10:00:00Z", "by": "so-alpha", "action": "signed_at_station"}
    )
    doc["updated_by"] = "so-alpha"
    put = await portal.put(f"/station-alpha/{doc['_id']}", json=doc, headers=basic("so-alpha"))
    assert put.status == 201, await put.text()
    answer = await portal.get(AWAITING, params={"station": "alpha"}, headers=basic("central"))
    assert (await answer.json())["complaints"] == []


async def test_others_may_not_look(portal: TestClient[Any, Any]) -> None:
    for headers, status in (
        ({}, 401),
        (basic("so-bravo"), 403),
        (basic("bo-one"), 403),
        (basic("admin"), 403),
    ):
        answer = await portal.get(AWAITING, params={"station": "alpha"}, headers=headers)
        assert answer.status == status
        assert "error" in await answer.json()
    answer = await portal.get(AWAITING, headers=basic("so-alpha"))
    assert answer.status == 400
