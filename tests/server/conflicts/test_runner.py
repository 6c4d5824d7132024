"""The gateway's merge on both backends: conflicts merged in one batch, the rest queued."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from server.conflicts.runner import CHECKPOINT_ID, MERGE_AUTHOR
from server.conflicts.views import MergeReport
from server.gateway.keys import CONFLICTS, MERGER
from tests.server.conflicts.support import both, conflicted, note, setting
from tests.server.conftest import backend, state_of, store_of
from tests.server.conftest import client_on_both as client
from tests.server.conftest import district_on_both as district

__all__ = ["backend", "client", "district"]


async def _leaves(client: TestClient[Any, Any], doc_id: str) -> list[dict[str, Any]]:
    store = await store_of(client)
    rows = await store.open_revs(doc_id, "all")
    return [r["ok"] for r in rows if "ok" in r and not r["ok"].get("_deleted")]


async def _merge_from_zero(client: TestClient[Any, Any]) -> MergeReport:
    """A pass from the start of the feed, as a gateway that lost its checkpoint
    (or another gateway, new to this database) makes."""
    store = await store_of(client)
    await store.put_local({**await store.get_local(CHECKPOINT_ID), "seq": 0})
    return await client.server.app[MERGER].merge_station("alpha")


async def test_mergeable_edits_become_one_revision_on_the_winner(
    client: TestClient[Any, Any], district: Any
) -> None:
    parent, children = await conflicted(
        client,
        [
            both(note("2026-01-02T10:00:00+05:30"), setting("description", "A longer account.")),
            both(note("2026-01-02T09:00:00+05:30"), setting("complainant.phone", "9876543210")),
        ],
    )
    report = await client.server.app[MERGER].merge_station("alpha")
    assert report.merged == [parent["_id"]]
    assert report.queued == []
    (merged,) = await _leaves(client, parent["_id"])
    # Each branch's own change is kept (three-way against their parent)...
    assert merged["description"] == "A longer account."
    assert merged["complainant"]["phone"] == "9876543210"
    # ...and both notes, the winner's log first, so the merge only appends to it.
    winner = max(children, key=lambda d: (int(d["_rev"].split("-")[0]), d["_rev"]))
    assert merged["action_log"][: len(winner["action_log"])] == winner["action_log"]
    assert len(merged["action_log"]) == len(parent["action_log"]) + 2
    assert merged["_rev"].startswith("3-")
    entries = await state_of(client).entries_of("station-alpha", {(parent["_id"], merged["_rev"])})
    assert entries[(parent["_id"], merged["_rev"])].officer_id == MERGE_AUTHOR
    counts = await client.server.app[CONFLICTS].counts()
    assert (counts.merged, counts.open) == (1, 0)


async def test_a_second_pass_and_a_second_merger_write_nothing_new(
    client: TestClient[Any, Any], district: Any
) -> None:
    parent, _ = await conflicted(
        client, [note("2026-01-02T10:00:00Z"), note("2026-01-02T11:00:00Z", action="visited")]
    )
    runner = client.server.app[MERGER]
    await runner.merge_station("alpha")
    store = await store_of(client)
    before = await store.info()
    again = await _merge_from_zero(client)
    assert again.merged == []
    assert again.queued == []
    assert (await store.info())["doc_count"] == before["doc_count"]
    assert len(await _leaves(client, parent["_id"])) == 1


async def test_a_name_edited_differently_is_queued_not_merged(
    client: TestClient[Any, Any], district: Any
) -> None:
    parent, _ = await conflicted(
        client,
        [
            both(note("2026-01-02T10:00:00Z"), setting("complainant.name", "Sunita Devi")),
            both(note("2026-01-02T11:00:00Z"), setting("complainant.name", "Sunita Kumari")),
        ],
    )
    report = await client.server.app[MERGER].merge_station("alpha")
    assert report.queued == [parent["_id"]]
    assert report.merged == []
    assert len(await _leaves(client, parent["_id"])) == 2  # nothing written
    entry = await state_of(client).open_conflict("alpha", parent["_id"])
    assert entry is not None
    assert entry.fields == ("complainant.name",)
    assert (await client.server.app[CONFLICTS].counts("alpha")).open == 1
    # Queued once: a second pass over the same leaves does not count it again.
    again = await _merge_from_zero(client)
    assert again.queued == []
    assert (await client.server.app[CONFLICTS].counts()).queued == 1
