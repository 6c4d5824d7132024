"""The per-phone limit holds under concurrency: of many forms sent at once
from one mobile number, only the limit's worth are stored (the turn is taken
before the write, not counted after it), and a booking that lost its slot
to someone else gives its turn back."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import FormData
from aiohttp.test_utils import TestClient

from server.gateway.keys import STORES
from server.portal.services import Limits
from tests.server.portal.support import COMPLAINT
from tests.server.portal.test_appointment import CITIZEN, SLOTS, book, free_slots
from tests.web_support import csrf_token_of

PER_PHONE = 3
AT_ONCE = 12


@pytest.fixture
def limits() -> Limits:
    return Limits(per_address=1000, per_phone=PER_PHONE)


async def doc_count(client: TestClient[Any, Any]) -> int:
    store = await client.server.app[STORES].get("alpha")
    return int((await store.info())["doc_count"])


async def post_all(
    client: TestClient[Any, Any], path: str, forms: list[dict[str, str]]
) -> list[int]:
    token = csrf_token_of(await (await client.get(path)).text())

    async def post(fields: dict[str, str]) -> int:
        answer = await client.post(path, data=FormData({"csrf_token": token, **fields}))
        await answer.read()
        return answer.status

    return list(await asyncio.gather(*(post(fields) for fields in forms)))


async def test_complaints_sent_at_once_from_one_phone(portal: TestClient[Any, Any]) -> None:
    before = await doc_count(portal)
    statuses = await post_all(portal, "/portal/complaint", [COMPLAINT] * AT_ONCE)
    assert sorted(statuses) == [201] * PER_PHONE + [429] * (AT_ONCE - PER_PHONE)
    assert await doc_count(portal) == before + PER_PHONE


async def test_bookings_sent_at_once_from_one_phone(portal: TestClient[Any, Any]) -> None:
    slots = (await free_slots(portal))[:AT_ONCE]
    statuses = await post_all(portal, SLOTS, [{**CITIZEN, "slot": slot} for slot in slots])
    assert sorted(statuses) == [201] * PER_PHONE + [429] * (AT_ONCE - PER_PHONE)
    assert len(set(slots) - set(await free_slots(portal))) == PER_PHONE


async def test_a_booking_lost_to_someone_else_costs_no_turn(portal: TestClient[Any, Any]) -> None:
    slots = await free_slots(portal)
    phones = [f"96000000{n:02d}" for n in range(6)]
    statuses = await post_all(
        portal, SLOTS, [{**CITIZEN, "phone": phone, "slot": slots[0]} for phone in phones]
    )
    assert sorted(statuses) == [201] + [409] * 5
    loser = phones[statuses.index(409)]
    for slot in slots[1 : 1 + PER_PHONE]:
        assert (await book(portal, slot, phone=loser))[0] == 201
    assert (await book(portal, slots[1 + PER_PHONE], phone=loser))[0] == 429
