"""The office decides a double booking (a citizen's online booking and the
walk-in an officer's offline device booked for the same slot): each party
gets one SMS in Hindi and English, through the outbox, saying whether their
booking stands or what to do next; a resolution posted again sends nothing;
the citizen's status page shows the outcome. Through the office's HTTP form,
on both backends (the whole site: gateway, portal, office)."""

from __future__ import annotations

import asyncio
import html as htmllib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.config import GatewayConfig
from server.conflicts.desk import ConflictDesk
from server.gateway.keys import CONFLICTS, MERGE_LISTENERS, MERGER, STATE, STORES
from server.portal.outbox import Message
from server.site import create_site
from server.state.models import Principal
from sync.errors import NotFound
from tests.server.office.conftest import log_in, post
from tests.server.portal.conftest import provision_keys, provision_portal
from tests.server.portal.support import open_status
from tests.server.portal.test_appointment import CITIZEN, double_booked, outbox_of

WALK_IN = "9700000000"
REASON = "The walk-in was at the desk first; the citizen was told by phone."


@pytest.fixture
async def site(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    config_on_both: GatewayConfig,
) -> TestClient[Any, Any]:
    app = create_site(config_on_both)

    async def provision(app: Any) -> None:
        await provision_portal(app)
        await provision_keys(app)

    app.on_startup.append(provision)
    return await aiohttp_client(app)


async def _decided(client: TestClient[Any, Any]) -> dict[str, Message]:
    messages = [m for m in await outbox_of(client).pending() if m.kind == "booking_decided"]
    by_phone = {m.phone: m for m in messages}
    assert len(by_phone) == len(messages), "a party was told twice"
    return by_phone


async def _queued_and_resolved(
    client: TestClient[Any, Any], *, keep_citizen: bool
) -> tuple[str, str, str, dict[str, Message]]:
    """Double-book a slot, let the merge queue it, and resolve it through the
    office's form; the citizen's number, PIN, the conflict page's path and
    what each party was told of the decision."""
    app = client.server.app
    _slot, number, pin, ticket, store, ours = await double_booked(client)
    assert (await app[MERGER].merge_station("alpha")).queued == [ticket.doc_id]
    winner = await store.get(ticket.doc_id, conflicts=True)
    revs = sorted([winner["_rev"], *winner["_conflicts"]])
    theirs = next(rev for rev in revs if rev != ours["_rev"])
    assert await log_in(client, "central") == 303
    path = f"/office/conflicts/alpha/{ticket.doc_id}"
    chosen = ours["_rev"] if keep_citizen else theirs
    status, page = await post(client, path, {"reason": REASON, "choose": chosen, "leaf": revs})
    assert status == 303, page
    told = await _decided(client)
    assert sorted(told) == sorted([CITIZEN["phone"], WALK_IN])
    return number, pin, path, told


async def _resolved_again_sends_nothing(
    client: TestClient[Any, Any], path: str, before: dict[str, Message]
) -> None:
    app = client.server.app
    # The office's form posted twice (a double click, a retried request)...
    status, _ = await post(
        client, path, {"reason": REASON, "choose": "1-" + "f" * 32}, form_page="/office/conflicts"
    )
    assert status in (404, 409)
    # ...and the desk asked again directly, as the office's ID.
    central = await app[STATE].get_officer("central")
    assert central is not None
    with pytest.raises(NotFound):
        await app[CONFLICTS].resolve(
            Principal(central), "alpha", path.rsplit("/", 1)[1], reason=REASON
        )
    assert await _decided(client) == before


async def _status_after_a_second_try(
    client: TestClient[Any, Any], path: str, told: dict[str, Message], number: str, pin: str
) -> str:
    await _resolved_again_sends_nothing(client, path, told)
    status, page = await open_status(client, number, pin)
    assert status == 200
    return htmllib.unescape(page)


def _says(message: Message, *parts: str) -> None:
    missing = [part for part in parts if part not in message.text]
    assert not missing, message.text


async def test_the_office_keeps_the_citizens_booking_and_both_are_told(
    site: TestClient[Any, Any],
) -> None:
    number, pin, path, told = await _queued_and_resolved(site, keep_citizen=True)
    kept, given = told[CITIZEN["phone"]], told[WALK_IN]
    assert kept.number == number
    _says(kept, "your police meeting on", "stands", "मुलाक़ात तय है")
    # Hindi first, then English.
    assert kept.text.index("मुलाक़ात") < kept.text.index("stands")
    # The walk-in has no tracking number: they are sent to the station.
    assert given.number == ""
    _says(given, "Please ask Alpha police station for another time.", "Alpha police station से संपर्क")
    page = await _status_after_a_second_try(site, path, told, number, pin)
    assert "Booked" in page
    assert "Two bookings were made for this time at once." not in page


async def test_the_office_gives_the_slot_to_the_walk_in_and_the_citizen_may_rebook(
    site: TestClient[Any, Any],
) -> None:
    number, pin, path, told = await _queued_and_resolved(site, keep_citizen=False)
    _says(told[WALK_IN], "stands", "मुलाक़ात तय है")
    # The citizen is told how to book another time: their number, the page.
    given = told[CITIZEN["phone"]]
    assert given.number == number
    _says(given, f"with your number {number} and your PIN", "/portal/status")
    _says(given, f"अपने नंबर {number} और PIN से")
    page = await _status_after_a_second_try(site, path, told, number, pin)
    assert "The office gave this time to another booking." in page
    assert "/portal/booking/cancel" not in page


async def test_two_resolutions_at_once_tell_each_party_once(site: TestClient[Any, Any]) -> None:
    """A double click: two requests resolve the same conflict at the same
    moment. Both pass the desk's checks; only the one that closed the queue
    entry tells the citizens."""
    app = site.server.app
    _slot, _number, _pin, ticket, _store, ours = await double_booked(site)
    await app[MERGER].merge_station("alpha")
    # The same clock for both, as two requests in the same second have.
    moment = datetime.now(UTC).isoformat(timespec="seconds")
    desk = ConflictDesk(
        app[STATE], app[STORES], listeners=app[MERGE_LISTENERS], clock=lambda: moment
    )
    central = await app[STATE].get_officer("central")
    assert central is not None
    who, doc_id = Principal(central), ticket.doc_id
    answers = await asyncio.gather(
        *(desk.resolve(who, "alpha", doc_id, reason=REASON, choose=ours["_rev"]) for _ in range(2)),
        return_exceptions=True,
    )
    assert any(not isinstance(answer, BaseException) for answer in answers), answers
    assert sorted(await _decided(site)) == sorted([CITIZEN["phone"], WALK_IN])
