"""A replicated edit is judged against the revision it was made from, not the current winner.

The case from the field: the SHO adds a note to a complaint at the station
while the beat officer, offline from the same revision, sets it to
``assigned``. Both append to ``action_log``. Judged against the winner (the
SHO's revision), the officer's list "changed an earlier entry" and the push
was refused on every sync, forever. Judged against its own parent it is a
valid edit; it is stored as a conflict branch for the domain merge.

The parent's body is gone from the store by then (a superseded revision's body
is compacted away, as CouchDB compaction does), so the gateway keeps the body of
every revision it accepted beside its audit entry and judges against that.
"""

from __future__ import annotations

import copy
from typing import Any

from sync.revid import new_rev
from tests.server import conftest as fixtures
from tests.server.conftest import (
    basic,
    bearer,
    bulk_docs,
    record,
    signed,
    state_of,
    store_of,
)

DB = "/station-alpha"

# Every test here runs on the embedded backend and over CouchDB (pouchdb-server).
backend = fixtures.backend
client = fixtures.client_on_both
district = fixtures.district_on_both


def _complaint() -> dict[str, Any]:
    doc = record(7, record_type="complaint", officer="so-alpha")
    doc["status"] = "registered"
    doc["action_log"] = [{"at": doc["created_at"], "by": "so-alpha", "action": "registered"}]
    doc.pop("assigned_officer", None)
    return doc


def _entry(at: str, by: str, action: str) -> dict[str, str]:
    return {"at": f"2024-03-14T{at}:00+05:30", "by": by, "action": action}


async def _created_then_noted_at_the_station(
    client: Any, doc: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The SHO creates ``doc`` (1-x), then adds a note: the winner moves on to
    2-a and the store compacts 1-x's body away."""
    (created,) = await bulk_docs(client, [doc], basic("so-alpha"))
    note = copy.deepcopy({**doc, "_rev": created["rev"]})
    note["action_log"].append(_entry("12:00", "so-alpha", "note"))
    (noted,) = await bulk_docs(client, [note], basic("so-alpha"))
    assert noted.get("ok"), noted
    return created, noted


def _child(parent: dict[str, Any], parent_rev: str, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` as a replicated child of ``parent_rev`` (what a device pushes)."""
    rev = new_rev(parent_rev, False, body)
    start = int(parent_rev.split("-")[0]) + 1
    return {**body, "_rev": rev, "_revisions": {"start": start, "ids": [rev[2:], parent_rev[2:]]}}


async def test_concurrent_additions_to_the_action_log_both_reach_the_centre(
    client: Any, district: Any
) -> None:
    doc = _complaint()
    created, sho = await _created_then_noted_at_the_station(client, doc)

    # In the field, offline from 1-x: the beat officer assigns it to themself.
    offline = copy.deepcopy(doc)
    offline |= {"status": "assigned", "assigned_officer": "bo-one", "updated_by": "bo-one"}
    offline["action_log"].append(_entry("12:05", "bo-one", "assigned"))
    pushed = signed(_child(doc, created["rev"], offline), district, "dev-bo-one")
    assert await bulk_docs(client, [pushed], bearer(district, "dev-bo-one"), new_edits=False) == []

    store = await store_of(client)
    leaves = await store.open_revs(doc["_id"], "all")
    assert sorted(leaf["ok"]["_rev"] for leaf in leaves) == sorted([sho["rev"], pushed["_rev"]])
    audited = await state_of(client).audited("station-alpha", {(doc["_id"], pushed["_rev"])})
    assert audited == {(doc["_id"], pushed["_rev"])}


async def test_an_edit_invalid_against_its_own_parent_is_still_refused(
    client: Any, district: Any
) -> None:
    doc = _complaint()
    created, _ = await _created_then_noted_at_the_station(client, doc)

    # Offline from 1-x, the officer rewrites the first entry of the log.
    forged = copy.deepcopy(doc)
    forged["action_log"][0]["note"] = "never said"
    pushed = signed(_child(doc, created["rev"], forged), district, "dev-bo-one")
    (refused,) = await bulk_docs(client, [pushed], bearer(district, "dev-bo-one"), new_edits=False)
    assert refused["error"] == "forbidden"
    assert "action_log.0" in refused["reason"]
    leaves = await (await store_of(client)).open_revs(doc["_id"], "all")
    assert len(leaves) == 1


async def test_a_grandchild_is_judged_against_its_nearest_known_ancestor(
    client: Any, district: Any
) -> None:
    # Two edits offline: 1-x -> 2-b -> 3-c pushed together as one revision 3-c
    # (a replicator sends only leaves); 2-b is unknown here, 1-x's body is kept.
    doc = _complaint()
    created, _ = await _created_then_noted_at_the_station(client, doc)

    step = copy.deepcopy(doc) | {
        "status": "assigned",
        "assigned_officer": "bo-one",
        "updated_by": "bo-one",
    }
    step["action_log"].append(_entry("12:05", "bo-one", "assigned"))
    middle = _child(doc, created["rev"], step)
    last_body = copy.deepcopy(step) | {"status": "under_investigation"}
    last_body["action_log"].append(_entry("13:00", "bo-one", "under_investigation"))
    rev3 = new_rev(middle["_rev"], False, last_body)
    last = last_body | {
        "_rev": rev3,
        "_revisions": {"start": 3, "ids": [rev3[2:], middle["_rev"][2:], created["rev"][2:]]},
    }
    pushed = signed(last, district, "dev-bo-one")
    assert await bulk_docs(client, [pushed], bearer(district, "dev-bo-one"), new_edits=False) == []
