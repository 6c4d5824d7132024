"""The runner as a station hub runs it (``relayed`` set): it waits for the
district to hold every leaf, and queues nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.conflicts.runner import CHECKPOINT_ID, MergeRunner
from server.gateway.keys import STATE, STORES
from sync.errors import NotFound
from tests.server.conflicts.support import NAMES, both, conflicted, note, setting
from tests.server.conftest import District, store_of

Client = TestClient[Any, Any]


def _hub_runner(client: Client, at_district: set[str]) -> MergeRunner:
    app = client.server.app

    async def relayed(leaves: Mapping[str, Sequence[str]]) -> set[str]:
        return set(leaves) & at_district

    return MergeRunner(app[STATE], app[STORES], relayed=relayed)


async def test_a_record_not_yet_at_the_district_waits_and_its_page_is_read_again(
    client: Client, district: District
) -> None:
    parent, _ = await conflicted(
        client,
        [
            both(note("2026-01-02T10:00:00Z"), setting("description", "Two men.")),
            both(note("2026-01-02T11:00:00Z"), setting("complainant.phone", "9123456780")),
        ],
    )
    doc_id = parent["_id"]
    store = await store_of(client)
    at_district: set[str] = set()
    runner = _hub_runner(client, at_district)
    report = await runner.merge_station("alpha")
    assert (report.deferred, report.merged) == ([doc_id], [])
    rows = await store.open_revs(doc_id, "all")
    assert len([r for r in rows if not r["ok"].get("_deleted")]) == 2
    with pytest.raises(NotFound):  # no checkpoint past the record that waits
        await store.get_local(CHECKPOINT_ID)
    at_district.add(doc_id)  # the relay carried both leaves
    report = await runner.merge_station("alpha")
    assert (report.deferred, report.merged) == ([], [doc_id])
    rows = await store.open_revs(doc_id, "all")
    assert len([r for r in rows if not r["ok"].get("_deleted")]) == 1


async def test_what_a_hub_cannot_merge_stays_in_conflict_unqueued(
    client: Client, district: District
) -> None:
    parent, children = await conflicted(
        client,
        [
            both(note("2026-01-02T10:00:00Z"), setting("complainant.name", NAMES[0])),
            both(note("2026-01-02T11:00:00Z"), setting("complainant.name", NAMES[1])),
        ],
    )
    doc_id = parent["_id"]
    report = await _hub_runner(client, {doc_id}).merge_station("alpha")
    assert (report.left, report.merged, report.queued) == ([doc_id], [], [])
    assert await client.server.app[STATE].open_conflicts("alpha", [doc_id]) == {}
    rows = await (await store_of(client)).open_revs(doc_id, "all")
    live = sorted(r["ok"]["_rev"] for r in rows if not r["ok"].get("_deleted"))
    assert live == sorted(c["_rev"] for c in children)
