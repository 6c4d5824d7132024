"""One client cannot starve the others (issue 14): per-client slots, a fair
queue, 429/503 with Retry-After, idle longpolls holding no slot.

The scheduler is first tested alone (the order it hands slots out in), then
through the real gateway on both backends, where the flooder's requests are
held inside the store (a wrapper that waits for the test's say-so), so who is
served while they hold their slots does not depend on the machine's speed.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from schemas.identity import Role
from server.config import FairLimits, GatewayConfig
from server.gateway.app import create_app
from server.gateway.fair_share import FairShare, client_key
from server.gateway.keys import FAIR_SHARE
from server.state.models import Device, Officer, Principal
from tests.server import conftest as fixtures
from tests.server.conftest import basic, bearer, bulk_docs, record, signed, store_of

backend = fixtures.backend
district = fixtures.district_on_both
config_on_both = fixtures.config_on_both

DB = "/station-alpha"
FLOODER = basic("so-alpha")  # an officer with a password: one client


# -- the scheduler alone ---------------------------------------------------------------


async def settle() -> None:
    """Let woken waiters run (a grant wakes its task a few loop turns later)."""
    for _ in range(10):
        await asyncio.sleep(0)


async def _take(share: FairShare, key: str, order: list[str]) -> None:
    await share.acquire(key)
    order.append(key)


async def test_a_freed_slot_goes_to_the_client_served_least_not_the_first_in_line() -> None:
    share = FairShare(FairLimits(per_client=1, total=1, queue_per_client=10, wait_s=5))
    await share.acquire("flood")
    order: list[str] = []
    waiting = [asyncio.create_task(_take(share, "flood", order)) for _ in range(3)]
    await settle()
    waiting.append(asyncio.create_task(_take(share, "device", order)))
    await settle()
    for _ in range(4):
        share.release(order[-1] if order else "flood")
        await settle()
    await asyncio.gather(*waiting)
    # The device came last but was served first; the flood took its turns after.
    assert order == ["device", "flood", "flood", "flood"]


async def test_fewest_in_progress_first_then_round_robin() -> None:
    share = FairShare(FairLimits(per_client=3, total=3, queue_per_client=10, wait_s=5))
    for _ in range(2):
        await share.acquire("a")
    await share.acquire("b")
    order: list[str] = []
    tasks = [asyncio.create_task(_take(share, key, order)) for key in ("a", "a", "b", "c")]
    await settle()
    share.release("a")  # a: 1, b: 1, c: 0 in progress -> c
    await settle()
    share.release("a")  # a: 0 -> a (b has 1)
    await settle()
    share.release("b")  # a: 1, b: 0 -> b
    await settle()
    share.release("c")  # a: 1, b: 1, c: 0 but nothing waiting for c -> a
    await asyncio.gather(*tasks)
    assert order == ["c", "a", "b", "a"]


async def test_a_full_queue_is_refused_at_once_and_a_long_wait_says_whose_fault() -> None:
    from sync.errors import ServiceUnavailable, TooManyRequests

    share = FairShare(FairLimits(per_client=1, total=2, queue_per_client=1, wait_s=0.2))
    await share.acquire("flood")
    await share.acquire("other")
    queued = asyncio.create_task(share.acquire("flood"))
    await settle()
    with pytest.raises(TooManyRequests) as refused:
        await share.acquire("flood")  # its one queue place is taken
    assert refused.value.retry_after >= 1
    with pytest.raises(TooManyRequests):
        await queued  # its own request held its slot: 429
    with pytest.raises(ServiceUnavailable) as busy:
        await share.acquire("third")  # the gateway was full: 503
    assert busy.value.status == 503
    assert busy.value.retry_after >= 1
    assert (share.running("flood"), share.busy) == (1, 2)


async def test_a_cancelled_waiter_leaves_the_queue_and_a_granted_one_gives_back() -> None:
    share = FairShare(FairLimits(per_client=1, total=1, queue_per_client=5, wait_s=5))
    await share.acquire("a")
    gone = asyncio.create_task(share.acquire("b"))
    await settle()
    gone.cancel()
    await asyncio.gather(gone, return_exceptions=True)
    granted_then_cancelled = asyncio.create_task(share.acquire("c"))
    await settle()
    share.release("a")  # grants c ...
    granted_then_cancelled.cancel()  # ... which is cancelled before it runs
    await asyncio.gather(granted_then_cancelled, return_exceptions=True)
    assert share.busy == 0
    await asyncio.wait_for(share.acquire("d"), 1)


async def test_idle_lends_the_slot_back_and_takes_one_again() -> None:
    share = FairShare(FairLimits(per_client=1, total=1, queue_per_client=5, wait_s=5))
    async with share.slot("device") as slot:
        async with slot.idle():
            assert share.busy == 0
            async with share.slot("device"):  # the same device's write meanwhile
                assert share.busy == 1
        assert share.busy == 1
    assert share.busy == 0


def test_a_client_is_its_device_else_its_officer_else_its_address() -> None:
    officer = Officer("so-alpha", "A", Role.STATION_OFFICER, "alpha", None, "h")
    device = Device("dev-1", "so-alpha", "Tablet", "key", "2026-12-01T00:00:00Z")
    assert client_key(Principal(officer, device), "10.0.0.1") == "device:dev-1"
    assert client_key(Principal(officer), "10.0.0.1") == "officer:so-alpha"
    assert client_key(None, "10.0.0.1") == "address:10.0.0.1"


# -- through the gateway, both backends -------------------------------------------------


@pytest.fixture
def fair_client(
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    config_on_both: GatewayConfig,
) -> Callable[[FairLimits], Awaitable[TestClient[Any, Any]]]:
    async def make(limits: FairLimits) -> TestClient[Any, Any]:
        return await aiohttp_client(create_app(dataclasses.replace(config_on_both, fair=limits)))

    return make


class HeldAllDocs:
    """``_all_docs`` calls wait in the store until the test lets one through."""

    def __init__(self, store: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.entered = asyncio.Queue[None]()
        self._tokens = asyncio.Queue[None]()
        real = store.all_docs

        async def held(**options: Any) -> Any:
            self.entered.put_nowait(None)
            await self._tokens.get()
            return await real(**options)

        monkeypatch.setattr(store, "all_docs", held)

    def let_through(self, n: int = 1) -> None:
        for _ in range(n):
            self._tokens.put_nowait(None)

    async def wait_entered(self, n: int) -> None:
        for _ in range(n):
            await asyncio.wait_for(self.entered.get(), 30)


FLOODER_KEY = "officer:so-alpha"
DEVICE_KEY = "device:dev-so-alpha"


async def queued(client: TestClient[Any, Any], key: str, n: int) -> None:
    """Until ``n`` of ``key``'s requests wait for a slot (a first password login
    pays the KDF, so requests reach the queue a while after they are sent)."""
    share = client.server.app[FAIR_SHARE]
    for _ in range(600):
        if share.waiting(key) == n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{share.waiting(key)} of {key}'s requests wait, not {n}")


@dataclasses.dataclass
class Flood:
    """The flooder's requests: the first held in the store, the rest waiting."""

    client: TestClient[Any, Any]
    held: HeldAllDocs
    tasks: list[asyncio.Task[int]]

    async def statuses(self) -> list[int]:
        """Each request's status, once the held ones are let through."""
        self.held.let_through(len(self.tasks))
        return list(await asyncio.gather(*self.tasks))


async def _flood(
    fair_client: Callable[[FairLimits], Awaitable[TestClient[Any, Any]]],
    monkeypatch: pytest.MonkeyPatch,
    n: int,
    **limits: Any,
) -> Flood:
    """A gateway with one slot per client and ``limits``, and ``n`` ``_all_docs``
    from the flooder: one in progress, held in the store, ``n - 1`` waiting."""
    client = await fair_client(FairLimits(per_client=1, **limits))
    held = HeldAllDocs(await store_of(client), monkeypatch)

    async def one() -> int:
        answer = await client.get(f"{DB}/_all_docs", headers=FLOODER)
        await answer.read()
        return answer.status

    tasks = [asyncio.create_task(one()) for _ in range(n)]
    await held.wait_entered(1)
    await queued(client, FLOODER_KEY, n - 1)
    return Flood(client, held, tasks)


async def test_a_flooding_officer_holds_only_his_slots_and_another_device_is_served(
    fair_client, district, monkeypatch: pytest.MonkeyPatch
) -> None:
    flood = await _flood(fair_client, monkeypatch, 4, total=4, queue_per_client=3)
    client, tasks = flood.client, flood.tasks
    assert flood.held.entered.empty(), "a second request of one client started"
    refused = await client.get(f"{DB}/_all_docs", headers=FLOODER)
    body = await refused.json()
    assert refused.status == 429, body
    assert body["error"] == "too_many_requests"
    assert "at once" in body["reason"]
    assert int(refused.headers["Retry-After"]) >= 1
    # Meanwhile another client syncs as if nobody flooded.
    doc = signed(record(1), district, "dev-so-alpha")
    (written,) = await asyncio.wait_for(
        bulk_docs(client, [doc], bearer(district, "dev-so-alpha")), 30
    )
    assert written.get("ok"), written
    changes = await client.get(f"{DB}/_changes", headers=bearer(district, "dev-so-alpha"))
    assert changes.status == 200
    assert not any(task.done() for task in tasks), [t.result() for t in tasks if t.done()]
    assert await flood.statuses() == [200] * 4


async def test_the_slot_freed_by_a_flooder_goes_to_the_client_waiting_behind_him(
    fair_client, district, monkeypatch: pytest.MonkeyPatch
) -> None:
    flood = await _flood(fair_client, monkeypatch, 4, total=1)
    device = asyncio.create_task(
        flood.client.get(f"{DB}/_changes", headers=bearer(district, "dev-so-alpha"))
    )
    await queued(flood.client, DEVICE_KEY, 1)  # the gateway's one slot is the flooder's
    flood.held.let_through(1)
    answer = await asyncio.wait_for(device, 30)
    assert answer.status == 200
    # Served before the three that were queued first.
    assert sum(task.done() for task in flood.tasks) == 1
    assert await flood.statuses() == [200] * 4


async def test_a_request_that_waits_too_long_gets_503_and_up_is_never_queued(
    fair_client, district, monkeypatch: pytest.MonkeyPatch
) -> None:
    flood = await _flood(fair_client, monkeypatch, 2, total=1, wait_s=0.5)
    client = flood.client
    up = await asyncio.wait_for(client.get("/_up"), 5)
    assert up.status == 200
    answer = await client.get(f"{DB}/_changes", headers=bearer(district, "dev-so-alpha"))
    body = await answer.json()
    assert answer.status == 503, body
    assert body["error"] == "service_unavailable"
    assert int(answer.headers["Retry-After"]) >= 1
    # The flooder's second request waited on his own first: 429, not the gateway's fault.
    assert sorted(await flood.statuses()) == [200, 429]


async def test_an_idle_longpoll_holds_no_slot(fair_client, district) -> None:
    """With one slot per client, a device's live pull (an idle longpoll) must not
    block its own push: the push would wait for the poll, which waits for a push."""
    client = await fair_client(FairLimits(per_client=1, total=2, queue_per_client=5, wait_s=3))
    device = bearer(district, "dev-so-alpha")
    now = await (await client.get(f"{DB}/_changes?since=now", headers=device)).json()
    poll = asyncio.create_task(
        client.get(
            f"{DB}/_changes?feed=longpoll&since={now['last_seq']}&timeout=20000", headers=device
        )
    )
    await asyncio.sleep(0.5)
    doc = signed(record(2), district, "dev-so-alpha")
    (written,) = await bulk_docs(client, [doc], device)
    assert written.get("ok"), written
    answer = await asyncio.wait_for(poll, 20)
    assert answer.status == 200
    assert [row["id"] for row in (await answer.json())["results"]] == [doc["_id"]]


async def test_a_longpoll_with_rows_answers_at_once_and_an_idle_one_times_out(
    fair_client, district
) -> None:
    client = await fair_client(FairLimits())
    device = bearer(district, "dev-so-alpha")
    docs = [signed(record(s), district, "dev-so-alpha") for s in (3, 4)]
    await bulk_docs(client, docs, device)
    answer = await asyncio.wait_for(
        client.get(f"{DB}/_changes?feed=longpoll&since=0&timeout=20000", headers=device), 10
    )
    body = await answer.json()
    assert {row["id"] for row in body["results"]} == {d["_id"] for d in docs}
    idle = await client.get(
        f"{DB}/_changes?feed=longpoll&since={body['last_seq']}&timeout=300", headers=device
    )
    empty = await idle.json()
    assert idle.status == 200
    assert empty["results"] == []
    assert "last_seq" in empty
