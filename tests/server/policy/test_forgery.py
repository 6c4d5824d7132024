"""What a hostile officer tried against the gateway, and what it answers now.

Each case was accepted before: a replayed signed body, fields naming another
officer, a closed complaint rewritten by a beat officer, a deleted id
re-created in another beat, a signed deletion the beat's devices never saw,
journal entries written into another device's chain. Station ``alpha`` is
beat-scoped (see conftest): ``bo-one`` works beat ``alpha-one``, ``bo-two``
beat ``alpha-two``.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from sync import journal
from sync.revid import new_rev
from tests.server import conftest as fixtures
from tests.server.conftest import (
    District,
    basic,
    bearer,
    bulk_docs,
    field_edits,
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


def _beat_one(seed: int, **fields: Any) -> dict[str, Any]:
    """A visitor entry of beat alpha-one, made by bo-one."""
    return record(seed, beat="alpha-one", officer="bo-one") | fields


def _replicated(body: dict[str, Any], parent: str | None, history: list[str]) -> dict[str, Any]:
    """``body`` as a device pushes it: a child of ``parent`` whose history is ``history``."""
    rev = new_rev(parent, False, body)
    ids = [rev, *history]
    return body | {"_rev": rev, "_revisions": {"start": len(ids), "ids": [r[2:] for r in ids]}}


async def _pushed(client: Any, district: District, doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` signed by dev-bo-one and pushed by it; the signed revision."""
    pushed = signed(doc, district, "dev-bo-one")
    assert await bulk_docs(client, [pushed], bearer(district, "dev-bo-one"), new_edits=False) == []
    return pushed


async def test_a_replayed_signed_body_is_refused_and_the_audit_names_the_signer(
    client: Any, district: District
) -> None:
    first = await _pushed(client, district, _replicated(_beat_one(1), None, []))
    edit = {k: v for k, v in first.items() if not k.startswith("_") and k != "signature"}
    edit |= {"_id": first["_id"], "purpose": "second visit", "updated_at": first["created_at"]}
    second = await _pushed(client, district, _replicated(edit, first["_rev"], [first["_rev"]]))

    # Another officer re-submits the first signed body on top of the second edit ...
    old_body = {k: v for k, v in first.items() if k not in ("_rev", "_revisions")}
    (as_put,) = await bulk_docs(client, [old_body | {"_rev": second["_rev"]}], basic("so-alpha"))
    # ... or as a replicated child of it.
    replayed = _replicated(old_body, second["_rev"], [second["_rev"], first["_rev"]])
    (as_push,) = await bulk_docs(client, [replayed], basic("so-alpha"), new_edits=False)

    for refused in (as_put, as_push):
        assert refused["error"] == "forbidden"
        assert "cannot be replayed" in refused["reason"]
    current = await (await store_of(client)).get(first["_id"])
    assert (current["_rev"], current["purpose"]) == (second["_rev"], "second visit")
    audited = [e for e in await state_of(client).read(db="station-alpha")]
    assert [(e.rev, e.signed, e.signer) for e in audited] == [
        (first["_rev"], "verified", "dev-bo-one"),
        (second["_rev"], "verified", "dev-bo-one"),
    ]


@pytest.mark.parametrize(
    ("field", "expected"),
    [("created_by", "created_by must be 'bo-one'"), ("updated_by", "updated_by must be 'bo-one'")],
)
async def test_a_new_record_names_its_author(
    client: Any, district: District, field: str, expected: str
) -> None:
    forged = _replicated(_beat_one(2, **{field: "so-alpha"}), None, [])
    (signed_by_device,) = await bulk_docs(
        client,
        [signed(forged, district, "dev-bo-one")],
        bearer(district, "dev-bo-one"),
        new_edits=False,
    )
    # Unsigned, with a password: the author is the officer who logged in.
    (by_password,) = await bulk_docs(client, [_beat_one(3, **{field: "so-alpha"})], basic("bo-one"))
    for refused in (signed_by_device, by_password):
        assert refused["error"] == "forbidden"
        assert expected in refused["reason"]
    (honest,) = await bulk_docs(client, [_beat_one(4)], basic("bo-one"))
    assert honest["ok"]


def _complaint(seed: int) -> dict[str, Any]:
    doc = record(seed, record_type="complaint", beat="alpha-one", officer="so-alpha")
    doc["status"] = "registered"
    doc["action_log"] = [{"at": doc["created_at"], "by": "so-alpha", "action": "registered"}]
    doc.pop("assigned_officer", None)
    doc.pop("fir_number", None)
    return doc


async def test_new_action_log_entries_name_their_author(client: Any, district: District) -> None:
    (created,) = await bulk_docs(client, [_complaint(5)], basic("so-alpha"))
    edit = copy.deepcopy(_complaint(5)) | {"_rev": created["rev"], "updated_by": "bo-one"}
    edit["action_log"].append({"at": edit["created_at"], "by": "so-alpha", "action": "note"})
    (refused,) = await bulk_docs(client, [edit], basic("bo-one"))
    assert refused["error"] == "forbidden"
    assert "action_log.1.by must be 'bo-one'" in refused["reason"]
    edit["action_log"][1]["by"] = "bo-one"
    (accepted,) = await bulk_docs(client, [edit], basic("bo-one"))
    assert accepted["ok"]


async def test_a_closed_complaint_is_changed_only_by_a_station_officer(
    client: Any, district: District
) -> None:
    (created,) = await bulk_docs(client, [_complaint(6)], basic("so-alpha"))
    closed = copy.deepcopy(_complaint(6)) | {"_rev": created["rev"], "status": "closed"}
    closed["action_log"].append({"at": closed["created_at"], "by": "so-alpha", "action": "closed"})
    (stored,) = await bulk_docs(client, [closed], basic("so-alpha"))
    rewritten = closed | {
        "_rev": stored["rev"],
        "description": "Nothing happened.",
        "updated_by": "bo-one",
    }
    (refused,) = await bulk_docs(client, [rewritten], basic("bo-one"))
    assert refused["error"] == "forbidden"
    assert "is closed: only a station officer may change it" in refused["reason"]
    corrected = rewritten | {"updated_by": "so-alpha", "description": "Corrected by the SHO."}
    (accepted,) = await bulk_docs(client, [corrected], basic("so-alpha"))
    assert accepted["ok"]


async def test_a_deleted_id_stays_with_its_beat(client: Any, district: District) -> None:
    doc = record(7, beat="alpha-one", officer="so-alpha")
    (created,) = await bulk_docs(client, [doc], basic("so-alpha"))
    deleted = {"_id": doc["_id"], "_rev": created["rev"], "_deleted": True}
    (gone,) = await bulk_docs(client, [deleted], basic("so-alpha"))
    assert gone["ok"]

    elsewhere = record(8, beat="alpha-two", officer="bo-two") | {"_id": doc["_id"]}
    (as_create,) = await bulk_docs(client, [elsewhere], basic("bo-two"))
    (as_branch,) = await bulk_docs(
        client, [_replicated(elsewhere, None, [])], basic("bo-two"), new_edits=False
    )
    for refused in (as_create, as_branch):
        assert refused["error"] == "forbidden"
        assert "since deleted; a new record takes a new id" in refused["reason"]
    # In its own beat the id may come back (CouchDB re-creates over a tombstone).
    (again,) = await bulk_docs(client, [doc], basic("so-alpha"))
    assert again["ok"]


async def test_a_signed_deletion_carries_its_beat_so_the_beat_sees_it(
    client: Any, district: District
) -> None:
    first = await _pushed(client, district, _replicated(_beat_one(9), None, []))
    bare = _replicated({"_id": first["_id"], "_deleted": True}, first["_rev"], [first["_rev"]])
    (refused,) = await bulk_docs(
        client,
        [signed(bare, district, "dev-bo-one")],
        bearer(district, "dev-bo-one"),
        new_edits=False,
    )
    assert refused["error"] == "forbidden"
    assert "must carry the record's station_id 'alpha' and beat_id 'alpha-one'" in refused["reason"]

    scoped = {"_id": first["_id"], "_deleted": True, "station_id": "alpha", "beat_id": "alpha-one"}
    await _pushed(client, district, _replicated(scoped, first["_rev"], [first["_rev"]]))
    feed = await client.get(f"{DB}/_changes", headers=bearer(district, "dev-bo-one"))
    rows = {row["id"]: row for row in (await feed.json())["results"]}
    assert rows[first["_id"]].get("deleted") is True


def _entry(
    district: District, owner: str, seq: int, record_doc: dict[str, Any], **changes: Any
) -> dict[str, Any]:
    """A journal entry of ``owner``'s chain at ``seq``, as its device makes it."""
    entries = field_edits(district, owner, [record_doc] * seq, officer="bo-one")[1::2]
    return {k: v for k, v in entries[seq - 1].items() if k != "signature"} | changes


async def test_a_journal_entry_belongs_to_the_device_that_signs_it(
    client: Any, district: District
) -> None:
    victim_next = journal.entry_id("dev-bo-one", 1)
    doc = _beat_one(10)
    unsigned = _entry(district, "dev-bo-one", 1, doc)
    # Unsigned, with a password, in a district that accepts unsigned writes.
    (no_signature,) = await bulk_docs(client, [unsigned], basic("so-alpha"), new_edits=False)
    # dev-so-alpha's own entry, signed by itself, at the victim's place.
    squatting = _entry(district, "dev-so-alpha", 1, doc, _id=victim_next)
    (wrong_place,) = await bulk_docs(
        client,
        [signed(squatting, district, "dev-so-alpha")],
        bearer(district, "dev-so-alpha"),
        new_edits=False,
    )
    assert no_signature["error"] == wrong_place["error"] == "forbidden"
    assert "must carry the signature of the device" in no_signature["reason"]
    assert f"must have the id 'journal-dev-so-alpha-{1:010d}'" in wrong_place["reason"]

    # The victim's real entry still goes in, and its chain is whole.
    real = field_edits(district, "dev-bo-one", [doc], officer="bo-one")
    assert await bulk_docs(client, real, bearer(district, "dev-bo-one"), new_edits=False) == []
    audit = await client.get("/_beatsync/audit?db=station-alpha", headers=basic("central"))
    body = await audit.json()
    assert body["chain_breaks"] == []
    assert [w["doc_id"] for w in body["writes"] if w["doc_id"].startswith("journal-")] == [
        victim_next
    ]
