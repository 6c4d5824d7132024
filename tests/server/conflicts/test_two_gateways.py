"""Two gateways over one CouchDB merge the same conflicts at the same time and
converge: the same revisions, written twice, are one revision.

CouchDB only: the embedded store belongs to one gateway process. Both
gateways read the merge's base from the audit log they share, which is what
makes their merges equal (a merger without it could merge differently: a
station hub merges only where it keeps the base, tests/server/hub/test_hub_merge.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.config import GatewayConfig
from server.gateway.app import create_app
from server.gateway.keys import MERGER
from tests.server.conflicts.support import both, conflicted, note, setting
from tests.server.conftest import District, state_of, store_of
from tests.server.couch_support import require_pouchdb_server

Client = TestClient[Any, Any]


@pytest.fixture
async def two_gateways(
    couch_district: tuple[District, GatewayConfig],
    aiohttp_client: Callable[..., Awaitable[Client]],
) -> tuple[Client, Client]:
    require_pouchdb_server()
    config = couch_district[1]
    return await aiohttp_client(create_app(config)), await aiohttp_client(create_app(config))


async def test_two_gateways_merging_at_once_write_the_same_revisions(
    two_gateways: tuple[Client, Client],
) -> None:
    first, second = two_gateways
    records = [
        await conflicted(
            first,
            [
                both(note("2026-01-02T10:00:00Z"), setting("description", f"Account {seed}.")),
                both(note("2026-01-02T11:00:00Z"), setting("complainant.phone", "9123456780")),
            ],
            seed=seed,
        )
        for seed in range(5)
    ]
    reports = await asyncio.gather(
        first.server.app[MERGER].merge_station("alpha"),
        second.server.app[MERGER].merge_station("alpha"),
    )
    assert {doc_id for r in reports for doc_id in r.merged} == {p["_id"] for p, _ in records}
    store = await store_of(first)
    for parent, _ in records:
        rows = await store.open_revs(parent["_id"], "all")
        live = [r["ok"] for r in rows if "ok" in r and not r["ok"].get("_deleted")]
        assert len(live) == 1, live
        assert live[0]["description"].startswith("Account")
        assert live[0]["complainant"]["phone"] == "9123456780"
        audited = await state_of(second).audited(
            "station-alpha", {(parent["_id"], live[0]["_rev"])}
        )
        assert audited == {(parent["_id"], live[0]["_rev"])}
