"""The office's conflict desk on both backends: who sees what, the side-by-side
view, and resolutions that are ordinary audited revisions."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.conflicts.desk import RESOLVED_ACTION, ConflictDesk
from server.gateway.keys import CONFLICTS
from server.state.models import Principal
from sync.errors import BadRequest, Conflict, Forbidden, NotFound
from tests.server.conflicts.support import NAMES
from tests.server.conflicts.support import queued_complaint as _queued
from tests.server.conftest import backend, state_of, store_of
from tests.server.conftest import client_on_both as client
from tests.server.conftest import district_on_both as district

__all__ = ["backend", "client", "district"]


async def _principal(client: TestClient[Any, Any], officer_id: str) -> Principal:
    officer = await state_of(client).get_officer(officer_id)
    assert officer is not None
    return Principal(officer)


def _desk(client: TestClient[Any, Any]) -> ConflictDesk:
    return client.server.app[CONFLICTS]


async def test_the_view_shows_each_version_who_made_it_and_what_differs(
    client: TestClient[Any, Any], district: Any
) -> None:
    doc_id, revs = await _queued(client)
    view = await _desk(client).get(await _principal(client, "central"), "alpha", doc_id)
    assert [leaf.rev for leaf in view.leaves] == revs
    assert {leaf.officer_id for leaf in view.leaves} == {"so-alpha"}
    assert all(leaf.at and leaf.signed == "unsigned" for leaf in view.leaves)
    assert sorted(leaf.edited_at or "" for leaf in view.leaves) == [
        "2026-01-02T10:00:00Z",
        "2026-01-02T11:00:00Z",
    ]
    assert sum(leaf.winner for leaf in view.leaves) == 1
    diffs = {d.path: d for d in view.differing}
    assert not diffs["complainant.name"].mergeable
    assert set(diffs["complainant.name"].values.values()) == set(NAMES)
    assert diffs["description"].mergeable  # only one branch changed it
    assert view.proposal["description"] == "The accused was seen near the market."


async def test_resolving_field_by_field_writes_one_audited_revision(
    client: TestClient[Any, Any], district: Any
) -> None:
    doc_id, revs = await _queued(client)
    central = await _principal(client, "central")
    view = await _desk(client).get(central, "alpha", doc_id)
    pick = next(leaf.rev for leaf in view.leaves if leaf.body["complainant"]["name"] == NAMES[0])
    done = await _desk(client).resolve(
        central,
        "alpha",
        doc_id,
        reason="The complainant's Aadhaar card reads Sunita Devi.",
        fields={"complainant.name": pick},
        expect_leaves=revs,
    )
    store = await store_of(client)
    rows = await store.open_revs(doc_id, "all")
    live = [r["ok"] for r in rows if "ok" in r and not r["ok"].get("_deleted")]
    assert [doc["_rev"] for doc in live] == [done.rev]
    (record,) = live
    assert record["complainant"]["name"] == NAMES[0]
    assert record["description"] == "The accused was seen near the market."  # merged part kept
    assert record["updated_by"] == "central"
    last = record["action_log"][-1]
    assert (last["action"], last["by"]) == (RESOLVED_ACTION, "central")
    assert {e["action"] for e in record["action_log"]} >= {"note", "visited"}
    audit = await state_of(client).entries_of(
        "station-alpha", {(doc_id, r) for r in (done.rev, *done.deleted)}
    )
    assert {entry.officer_id for entry in audit.values()} == {"central"}
    assert len(audit) == 1 + len(done.deleted)
    # The losing body is still readable in the audit trail.
    loser = next(r for r in revs if r != pick)
    bodies = await state_of(client).bodies("station-alpha", {(doc_id, loser)})
    assert bodies[(doc_id, loser)]["complainant"]["name"] != NAMES[0]
    page = await _desk(client).list(central, status="resolved")
    assert [(e.doc_id, e.resolved_by, e.resolution_rev) for e in page.items] == [
        (doc_id, "central", done.rev)
    ]
    counts = await _desk(client).counts()
    assert (counts.open, counts.resolved) == (0, 1)


@pytest.mark.parametrize(
    ("reason", "choose", "fields", "message"),
    [
        ("   ", "first", {}, "needs a reason"),
        ("a reason", None, {}, "Choose a version for complainant.name"),
        ("a reason", "2-00000000000000000000000000000000", {}, "not one of the versions"),
        ("a reason", "first", {"category": "first"}, "not a field the versions differ on"),
    ],
)
async def test_a_bad_resolution_is_refused_and_changes_nothing(
    client: TestClient[Any, Any],
    district: Any,
    reason: str,
    choose: str | None,
    fields: dict[str, str],
    message: str,
) -> None:
    doc_id, revs = await _queued(client)
    first = revs[0]
    with pytest.raises(BadRequest, match=message):
        await _desk(client).resolve(
            await _principal(client, "central"),
            "alpha",
            doc_id,
            reason=reason,
            choose=first if choose == "first" else choose,
            fields={k: first for k in fields},
        )
    rows = await (await store_of(client)).open_revs(doc_id, "all")
    assert sorted(r["ok"]["_rev"] for r in rows if "ok" in r) == revs
    assert await state_of(client).open_conflict("alpha", doc_id) is not None


async def test_a_stale_view_is_a_conflict(client: TestClient[Any, Any], district: Any) -> None:
    doc_id, revs = await _queued(client)
    with pytest.raises(Conflict):
        await _desk(client).resolve(
            await _principal(client, "central"),
            "alpha",
            doc_id,
            reason="checked",
            choose=revs[0],
            expect_leaves=revs[:1],
        )


async def test_an_sho_sees_only_their_station_and_a_beat_officer_nothing(
    client: TestClient[Any, Any], district: Any
) -> None:
    doc_id, revs = await _queued(client)
    desk = _desk(client)
    sho_alpha, sho_bravo = (
        await _principal(client, "so-alpha"),
        await _principal(client, "so-bravo"),
    )
    assert [e.doc_id for e in (await desk.list(sho_alpha)).items] == [doc_id]
    assert (await desk.list(sho_bravo)).items == []
    with pytest.raises(Forbidden):
        await desk.list(sho_bravo, station_id="alpha")
    with pytest.raises(Forbidden):
        await desk.get(sho_bravo, "alpha", doc_id)
    with pytest.raises(Forbidden):
        await desk.resolve(sho_bravo, "alpha", doc_id, reason="mine now", choose=revs[0])
    for officer in ("bo-one", "admin"):
        with pytest.raises(Forbidden):
            await desk.list(await _principal(client, officer))
    with pytest.raises(NotFound):
        await desk.get(sho_alpha, "alpha", "no-such-record")
    # The SHO of the station may resolve it.
    done = await desk.resolve(sho_alpha, "alpha", doc_id, reason="I met her", choose=revs[1])
    assert done.rev.startswith("3-")


async def test_the_listing_pages_in_one_order(client: TestClient[Any, Any], district: Any) -> None:
    queued = sorted([(await _queued(client, seed))[0] for seed in (1, 2, 3)])
    central = await _principal(client, "central")
    seen, after = [], None
    while True:
        page = await _desk(client).list(central, station_id="alpha", limit=2, after=after)
        seen += [e.doc_id for e in page.items]
        if page.next_after is None:
            break
        after = page.next_after
    assert seen == queued
    with pytest.raises(BadRequest):
        await _desk(client).list(central, limit=0)
    with pytest.raises(BadRequest):
        await _desk(client).list(central, after="not-a-position")
