"""The write path: validation per document, signatures, audit log, CouchDB's answers."""

from __future__ import annotations

import asyncio
from typing import Any

from server.gateway.keys import AUTHENTICATOR, DISTRICT
from server.policy.access import resolve_scope
from server.policy.district import REFUSE_UNSIGNED, DistrictSettings
from server.policy.writes import WriteDeps, write_docs
from server.state.models import Principal
from sync.revid import new_rev
from tests.server.conftest import (
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


async def test_batch_with_invalid_docs_stores_only_the_valid_ones_in_order(
    client, district
) -> None:
    good_a, good_b = record(10), record(11)
    wrong_station = record(12, station="bravo")
    schema_broken = {**record(13), "time_in": "yesterday"}
    results = await bulk_docs(
        client, [good_a, wrong_station, good_b, schema_broken], basic("so-alpha")
    )
    assert [r.get("ok") for r in results] == [True, None, True, None]
    assert [r["id"] for r in results] == [
        d["_id"] for d in (good_a, wrong_station, good_b, schema_broken)
    ]
    assert results[1]["error"] == results[3]["error"] == "forbidden"
    assert "station_id" in results[1]["reason"]
    assert "time_in" in results[3]["reason"]
    store = await store_of(client)
    ids = {row["id"] for row in (await store.all_docs())["rows"]}
    assert ids == {good_a["_id"], good_b["_id"]}


async def test_accepted_writes_are_audited_with_author_device_and_signature(
    client, district
) -> None:
    by_device = signed(record(20), district, "dev-so-alpha")
    by_password = record(21)
    await bulk_docs(client, [by_device], bearer(district, "dev-so-alpha"))
    await bulk_docs(client, [by_password], basic("so-alpha"))
    # Refused, so not audited:
    await bulk_docs(client, [record(22, station="bravo")], basic("so-alpha"))
    answer = await client.get("/_beatsync/audit?db=station-alpha", headers=basic("central"))
    writes = (await answer.json())["writes"]
    assert [(w["doc_id"], w["officer_id"], w["device_id"], w["signed"]) for w in writes] == [
        (by_device["_id"], "so-alpha", "dev-so-alpha", "verified"),
        (by_password["_id"], "so-alpha", None, "unsigned"),
    ]
    assert all(w["rev"].startswith("1-") for w in writes)


async def test_device_writes_must_be_signed_by_an_enrolled_key(client, district) -> None:
    unsigned = record(30)
    forged = signed(record(31), district, "dev-bo-one")  # claims dev-so-alpha below
    forged["signature"]["device_id"] = "dev-so-alpha"
    tampered = signed(record(32), district, "dev-so-alpha")
    tampered["purpose"] = "changed after signing"
    good = signed(record(33), district, "dev-so-alpha")
    results = await bulk_docs(
        client, [unsigned, forged, tampered, good], bearer(district, "dev-so-alpha")
    )
    assert [r.get("error") for r in results] == ["forbidden", "forbidden", "forbidden", None]
    assert "Unsigned" in results[0]["reason"]
    assert "does not verify" in results[1]["reason"]
    assert "does not verify" in results[2]["reason"]


async def test_district_can_refuse_unsigned_password_writes(client, district) -> None:
    await client.server.app[DISTRICT].set_refuse_unsigned(True)
    results = await bulk_docs(client, [record(40)], basic("so-alpha"))
    assert results[0]["error"] == "forbidden"
    assert "unsigned" in results[0]["reason"]


async def test_the_gateway_reads_refuse_unsigned_once_for_many_writes(client, district) -> None:
    state = state_of(client)
    reads: list[str] = []
    real_get = state.get_setting

    async def counting_get(key: str, default: str | None = None) -> str | None:
        reads.append(key)
        return await real_get(key, default)

    state.get_setting = counting_get
    try:
        for seed in range(50, 55):  # well within SETTINGS_TTL_S
            assert (await bulk_docs(client, [record(seed)], basic("so-alpha")))[0].get("ok")
    finally:
        del state.get_setting
    assert reads.count(REFUSE_UNSIGNED) <= 1


async def test_a_refuse_unsigned_change_is_seen_at_once_here_and_after_the_ttl_elsewhere(
    client, district
) -> None:
    state, now = state_of(client), [100.0]
    here = DistrictSettings(state, ttl_s=5.0, clock=lambda: now[0])
    elsewhere = DistrictSettings(state)  # e.g. the admin CLI in another process
    assert await here.refuse_unsigned() is False
    await elsewhere.set_refuse_unsigned(True)
    now[0] += 4.9
    assert await here.refuse_unsigned() is False
    now[0] += 0.1
    assert await here.refuse_unsigned() is True
    await here.set_refuse_unsigned(False)
    assert await here.refuse_unsigned() is False
    assert await state.get_setting(REFUSE_UNSIGNED) == "false"


def _complaint(seed: int, status: str = "registered") -> dict[str, Any]:
    doc = record(seed, record_type="complaint", officer="bo-one")
    doc["status"] = status
    doc.pop("fir_number", None)
    doc.pop("assigned_officer", None)
    return doc


async def test_only_a_station_officer_closes_a_complaint(client, district) -> None:
    complaint = _complaint(50)
    (created,) = await bulk_docs(client, [complaint], basic("bo-one"))
    assert created.get("ok"), created
    closing = {**complaint, "_rev": created["rev"], "status": "closed", "updated_by": "bo-one"}
    (refused,) = await bulk_docs(client, [closing], basic("bo-one"))
    assert refused["error"] == "forbidden"
    assert "cannot move" in refused["reason"]
    (closed,) = await bulk_docs(client, [{**closing, "updated_by": "so-alpha"}], basic("so-alpha"))
    assert closed.get("ok"), closed


async def test_created_by_is_immutable_also_through_replication(client, district) -> None:
    doc = record(60)
    (created,) = await bulk_docs(client, [doc], basic("so-alpha"))
    # A replicated child revision (new_edits=false) that rewrites created_by.
    child = {**doc, "created_by": "someone-else"}
    rev = new_rev(created["rev"], False, child)
    child |= {"_rev": rev, "_revisions": {"start": 2, "ids": [rev[2:], created["rev"][2:]]}}
    results = await bulk_docs(client, [child], basic("so-alpha"), new_edits=False)
    assert len(results) == 1
    assert results[0]["error"] == "forbidden"
    assert "created_by" in results[0]["reason"]
    honest = {**doc, "purpose": "Edited offline."}
    rev = new_rev(created["rev"], False, honest)
    honest |= {"_rev": rev, "_revisions": {"start": 2, "ids": [rev[2:], created["rev"][2:]]}}
    assert await bulk_docs(client, [honest], basic("so-alpha"), new_edits=False) == []
    store = await store_of(client)
    assert (await store.get(doc["_id"]))["_rev"] == rev


async def test_beat_officer_sees_only_own_beat_in_scoped_station(client, district) -> None:
    mine, theirs = record(70, beat="alpha-one"), record(71, beat="alpha-two")
    await bulk_docs(client, [mine, theirs], basic("so-alpha"))
    answer = await client.get(f"{DB}/_changes?include_docs=true", headers=basic("bo-one"))
    ids = [row["id"] for row in (await answer.json())["results"]]
    assert ids == [mine["_id"]]
    answer = await client.get(f"{DB}/_all_docs", headers=basic("bo-one"))
    assert [row["id"] for row in (await answer.json())["rows"]] == [mine["_id"]]
    answer = await client.get(f"{DB}/{theirs['_id']}", headers=basic("bo-one"))
    assert answer.status == 403


async def test_device_status_tracks_pulls_and_how_far_behind(client, district) -> None:
    headers = bearer(district, "dev-so-alpha")
    await bulk_docs(client, [signed(record(80), district, "dev-so-alpha")], headers)
    answer = await client.get(f"{DB}/_changes", headers=headers)
    pulled = (await answer.json())["last_seq"]
    await bulk_docs(client, [record(81), record(82)], basic("so-alpha"))
    answer = await client.get("/_beatsync/devices", headers=basic("central"))
    status = {d["device_id"]: d for d in (await answer.json())["devices"]}["dev-so-alpha"]
    assert status["last_seq"] == pulled
    assert status["last_seen"] is not None
    assert status["behind"] == 2


async def test_put_and_delete_answer_like_couchdb(client, district) -> None:
    doc = record(90)
    created = await client.put(f"{DB}/{doc['_id']}", json=doc, headers=basic("so-alpha"))
    assert created.status == 201
    rev = (await created.json())["rev"]
    stale = await client.put(f"{DB}/{doc['_id']}", json=doc, headers=basic("so-alpha"))
    assert stale.status == 409
    assert (await stale.json())["error"] == "conflict"
    deleted = await client.delete(f"{DB}/{doc['_id']}?rev={rev}", headers=basic("so-alpha"))
    assert deleted.status == 200
    gone = await client.get(f"{DB}/{doc['_id']}", headers=basic("so-alpha"))
    assert gone.status == 404
    assert (await gone.json()) == {"error": "not_found", "reason": "deleted"}


async def test_audit_joins_the_device_journals_and_flags_a_broken_chain(client, district) -> None:
    headers = bearer(district, "dev-so-alpha")
    pushed = field_edits(district, "dev-so-alpha", [record(s) for s in (200, 201, 202)])
    # The device loses entry 2 of its journal (its record still arrives).
    del pushed[3]
    answer = await client.post(
        f"{DB}/_bulk_docs", json={"docs": pushed, "new_edits": False}, headers=headers
    )
    assert await answer.json() == []
    audit = await (
        await client.get("/_beatsync/audit?db=station-alpha", headers=basic("central"))
    ).json()
    edits = audit["field_edits"]
    assert [(e["device_id"], e["seq"], e["author"]) for e in edits] == [
        ("dev-so-alpha", 1, "so-alpha"),
        ("dev-so-alpha", 3, "so-alpha"),
    ]
    assert all(e["reached_gateway"] for e in edits)
    assert audit["chain_breaks"] == [
        {"device_id": "dev-so-alpha", "seq": 3, "reason": "entries 2..2 are missing"}
    ]
    assert {w["signed"] for w in audit["writes"]} == {"verified"}
    assert len(audit["writes"]) == 5


async def test_a_beat_officer_sees_deletions_in_their_beat(client, district) -> None:
    doc = record(300, beat="alpha-one")
    (created,) = await bulk_docs(client, [doc], basic("so-alpha"))
    # A bare tombstone, as PouchDB's remove() sends it.
    tombstone = {"_id": doc["_id"], "_rev": created["rev"], "_deleted": True}
    (deleted,) = await bulk_docs(client, [tombstone], basic("so-alpha"))
    assert deleted.get("ok"), deleted
    answer = await client.get(f"{DB}/_changes", headers=basic("bo-one"))
    rows = (await answer.json())["results"]
    assert [(r["id"], r.get("deleted")) for r in rows] == [(doc["_id"], True)]
    answer = await client.get(f"{DB}/_changes", headers=basic("bo-two"))
    assert (await answer.json())["results"] == []


async def test_concurrent_writers_and_pullers_all_succeed_and_are_audited(client, district) -> None:
    device = bearer(district, "dev-so-alpha")
    docs = [signed(record(400 + i), district, "dev-so-alpha") for i in range(80)]

    async def push(doc: dict[str, Any]) -> int:
        answer = await client.post(f"{DB}/_bulk_docs", json={"docs": [doc]}, headers=device)
        return answer.status

    async def pull() -> int:
        return (await client.get(f"{DB}/_changes", headers=device)).status

    statuses = await asyncio.gather(*(push(d) for d in docs), *(pull() for _ in range(40)))
    assert set(statuses) <= {200, 201}
    assert len(await state_of(client).read(db="station-alpha")) == len(docs)


async def test_journal_entries_are_append_only_and_only_their_device_adds_to_a_chain(
    client, district
) -> None:
    headers = bearer(district, "dev-so-alpha")
    _, entry = field_edits(district, "dev-so-alpha", [record(500)])
    answer = await client.post(
        f"{DB}/_bulk_docs", json={"docs": [entry], "new_edits": False}, headers=headers
    )
    assert await answer.json() == []
    rewritten = {k: v for k, v in entry.items() if k != "_revisions"} | {"action": "delete"}
    edited = signed(rewritten, district, "dev-so-alpha")
    deleted = signed(
        {"_id": entry["_id"], "_rev": entry["_rev"], "_deleted": True}, district, "dev-so-alpha"
    )
    results = await bulk_docs(client, [edited], headers)
    results += await bulk_docs(client, [deleted], basic("so-alpha"))
    assert [r.get("error") for r in results] == ["forbidden", "forbidden"]
    assert all("append-only" in r["reason"] for r in results)
    # dev-bo-one signs an entry claiming to be in dev-so-alpha's chain.
    foreign = field_edits(district, "dev-so-alpha", [record(500), record(501)])[3]
    forged = signed({k: v for k, v in foreign.items() if k != "signature"}, district, "dev-bo-one")
    (refused,) = await bulk_docs(client, [forged], basic("so-alpha"), new_edits=False)
    assert refused["error"] == "forbidden"
    assert "journal entry of device 'dev-so-alpha'" in refused["reason"]


async def test_resending_a_replicated_revision_is_a_no_op(client, district) -> None:
    headers = bearer(district, "dev-so-alpha")
    pushed = field_edits(district, "dev-so-alpha", [record(600)])
    for _ in range(2):  # e.g. the checkpoint was lost and the batch is sent again
        answer = await client.post(
            f"{DB}/_bulk_docs", json={"docs": pushed, "new_edits": False}, headers=headers
        )
        assert await answer.json() == []
    assert len(await state_of(client).read(db="station-alpha")) == 2


async def test_longpoll_answers_with_the_next_write(client, district) -> None:
    now = await client.get(f"{DB}/_changes?since=now", headers=basic("so-alpha"))
    since = (await now.json())["last_seq"]
    waiting = asyncio.create_task(
        client.get(
            f"{DB}/_changes?feed=longpoll&since={since}&timeout=30000", headers=basic("so-alpha")
        )
    )
    doc = record(700)
    await bulk_docs(client, [doc], basic("so-alpha"))
    answer = await asyncio.wait_for(waiting, 30)
    assert [row["id"] for row in (await answer.json())["results"]] == [doc["_id"]]


class _CountingStore:
    """The real store, counting the calls that read document bodies."""

    _READS = frozenset({"get", "open_revs", "bulk_get"})

    def __init__(self, store: Any) -> None:
        self._store = store
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        if name in self._READS:
            self.reads += 1
        return getattr(self._store, name)


def _child(parent: dict[str, Any], parent_rev: str, **changes: Any) -> dict[str, Any]:
    body = {k: v for k, v in parent.items() if not k.startswith("_")} | changes
    body["_id"] = parent["_id"]
    rev = new_rev(parent_rev, False, body)
    return body | {"_rev": rev, "_revisions": {"start": 2, "ids": [rev[2:], parent_rev[2:]]}}


async def test_a_batch_reads_every_parent_in_one_store_call(client, district) -> None:
    docs = [record(800 + n) for n in range(12)]
    created = await bulk_docs(client, docs, basic("so-alpha"))
    honest = [
        _child(doc, answer["rev"], purpose=f"Edited offline {n}.")
        for n, (doc, answer) in enumerate(zip(docs[:10], created[:10], strict=True))
    ]
    rewrite = _child(docs[10], created[10]["rev"], created_by="someone-else")
    # An edit whose ancestor this store never had: judged against the winner.
    orphan = _child(docs[11], "1-" + "0" * 32, created_by="someone-else")
    fresh = record(850)
    rev = new_rev(None, False, fresh)
    fresh |= {"_rev": rev, "_revisions": {"start": 1, "ids": [rev[2:]]}}
    batch = [*honest[:5], rewrite, *honest[5:], orphan, fresh]

    app = client.server.app
    principal = await app[AUTHENTICATOR].login("so-alpha", "correct-horse-1", "test")
    scope = await resolve_scope(Principal(principal), "station-alpha", state_of(client))
    counting = _CountingStore(await store_of(client))
    deps = WriteDeps(state_of(client), state_of(client), refuse_unsigned=False)
    results = await write_docs(scope, counting, deps, batch, new_edits=False)  # type: ignore[arg-type]

    assert [(r["id"], r["error"]) for r in results] == [
        (rewrite["_id"], "forbidden"),
        (orphan["_id"], "forbidden"),
    ]
    assert all("created_by" in r["reason"] for r in results)
    # One read for the whole batch, one more for the orphan's winner (not 13).
    assert counting.reads == 2
    store = await store_of(client)
    for doc in [*honest, fresh]:
        assert (await store.get(doc["_id"]))["_rev"] == doc["_rev"]
    assert (await store.get(rewrite["_id"]))["_rev"] == created[10]["rev"]


async def test_a_stored_but_unaudited_revision_is_audited_when_sent_again(client, district) -> None:
    headers = bearer(district, "dev-so-alpha")
    audited_before = field_edits(district, "dev-so-alpha", [record(900)])
    assert await bulk_docs(client, audited_before, headers, new_edits=False) == []
    # The gateway stopped after the store's commit, before the audit append:
    # the store has these revisions (a record and its journal entry), the log does not.
    crashed = field_edits(district, "dev-so-alpha", [record(901), record(902)])
    store = await store_of(client)
    assert await store.bulk_docs(crashed, new_edits=False) == []
    log = state_of(client)
    assert len(await log.read(db="station-alpha")) == 2

    # The device sends the batch again (it never got an answer), with the
    # already audited revisions in it too.
    assert await bulk_docs(client, [*audited_before, *crashed], headers, new_edits=False) == []
    writes = await log.read(db="station-alpha")
    assert sorted((w.doc_id, w.rev) for w in writes) == sorted(
        (d["_id"], d["_rev"]) for d in [*audited_before, *crashed]
    )
    assert {(w.device_id, w.signed) for w in writes} == {("dev-so-alpha", "verified")}
    # Sent a third time: everything is audited once already, nothing is added.
    assert await bulk_docs(client, crashed, headers, new_edits=False) == []
    assert len(await log.read(db="station-alpha")) == len(writes)


async def test_a_push_looks_its_signing_device_up_once_and_a_revocation_holds_next_push(
    client, district
) -> None:
    state = state_of(client)
    lookups: list[str] = []
    real_get_device = state.get_device

    async def counting_get_device(device_id: str) -> Any:
        lookups.append(device_id)
        return await real_get_device(device_id)

    state.get_device = counting_get_device
    try:
        batch = [signed(record(seed), district, "dev-so-alpha") for seed in range(60, 70)]
        results = await bulk_docs(client, batch, basic("so-alpha"))
        assert all(r.get("ok") for r in results)
        # Once for the whole batch (the password caller has no device to authenticate).
        assert lookups == ["dev-so-alpha"]
        await state.revoke_device("dev-so-alpha")
        late = await bulk_docs(
            client, [signed(record(70), district, "dev-so-alpha")], basic("so-alpha")
        )
    finally:
        del state.get_device
    assert late[0]["error"] == "forbidden"
    assert "not an enrolled device" in late[0]["reason"]
