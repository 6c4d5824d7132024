"""The station's JSON view of the portal: complaints awaiting the complainant's
signature, for its own station officers and the central office only."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.gateway.keys import STATE, STORES
from server.portal.records import EFILED_PREFIX, LISTED_DAYS, efiled_key
from server.portal.tickets import find_ticket
from tests.server.conftest import basic, record
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


async def test_the_list_reads_only_recent_e_complaints(
    portal: TestClient[Any, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A range of the id index, not the station's whole _all_docs: records
    that are not e-complaints, and e-complaints older than LISTED_DAYS, are
    never read (on SQLite and CouchDB alike, sealed or not)."""
    number, _pin = await file_complaint(portal)
    ticket = await find_ticket(portal.server.app[STATE], number)
    assert ticket is not None
    assert ticket.doc_id.startswith(EFILED_PREFIX)
    store = await portal.server.app[STORES].get("alpha")
    fresh = await store.get(ticket.doc_id)
    old_at = datetime.now(UTC) - timedelta(days=LISTED_DAYS + 1)
    old = {
        **fresh,
        "_id": f"{efiled_key(old_at)}-{'0' * 32}",
        "created_at": old_at.isoformat().replace("+00:00", "Z"),
        "_rev": "1-" + "a" * 32,
    }
    await store.bulk_docs([old], new_edits=False)
    for n in range(5):
        other = {**record(n, record_type="complaint"), "_id": f"other-{n}"}
        put = await portal.put(f"/station-alpha/other-{n}", json=other, headers=basic("so-alpha"))
        assert put.status == 201, await put.text()
    read: list[str] = []
    real = store.all_docs

    async def spy(**kwargs: Any) -> Any:
        answer = await real(**kwargs)
        read.extend(row["id"] for row in answer["rows"])
        return answer

    monkeypatch.setattr(store, "all_docs", spy)
    answer = await portal.get(AWAITING, params={"station": "alpha"}, headers=basic("so-alpha"))
    assert [c["id"] for c in (await answer.json())["complaints"]] == [ticket.doc_id]
    assert read == [ticket.doc_id]
