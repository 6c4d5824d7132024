"""``serve`` merges in the background: a conflict pushed to a running gateway is
merged without anyone asking, on both backends, and the gateway stops cleanly
with its merge loop waiting on a long-poll."""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.config import GatewayConfig
from server.gateway.app import create_app
from server.gateway.keys import CONFLICTS
from tests.server.conflicts.support import conflicted, note
from tests.server.conftest import backend, store_of
from tests.server.conftest import district_on_both as district
from tests.server.couch_support import wait_for

__all__ = ["backend", "district"]


@pytest.fixture
async def merging_client(
    backend: str,
    district: Any,
    request: pytest.FixtureRequest,
    aiohttp_client: Callable[..., Awaitable[TestClient[Any, Any]]],
    config: GatewayConfig,
) -> TestClient[Any, Any]:
    if backend == "couch":
        config = request.getfixturevalue("couch_district")[1]
    return await aiohttp_client(create_app(dataclasses.replace(config, merge_conflicts=True)))


async def test_a_running_gateway_merges_what_arrives(merging_client: TestClient[Any, Any]) -> None:
    parent, _ = await conflicted(
        merging_client,
        [note("2026-01-02T10:00:00Z"), note("2026-01-02T11:00:00Z", action="visited")],
    )
    store = await store_of(merging_client)

    async def merged() -> bool:
        rows = await store.open_revs(parent["_id"], "all")
        return sum(1 for r in rows if "ok" in r and not r["ok"].get("_deleted")) == 1

    await wait_for(merged, attempts=300, every=0.1)
    assert (await merging_client.server.app[CONFLICTS].counts()).merged == 1
