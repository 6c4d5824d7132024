"""Poison revisions: revs no replica can carry are refused at the gateway's door.

The incident (issue 14): over CouchDB, one PUT stored a revision of
generation 10^23 (CouchDB stores any integer). The gateway then served
``"_revisions": {"start": 1e+23}`` (orjson reads integers past 64 bits as
floats), PouchDB sent ``1e+23-...`` back, the gateway refused it, and every
device of the station failed to sync until the document was purged. Now every
rev a request names goes through :func:`sync.revtree.parse_rev`, which refuses
a generation above :data:`sync.revtree.MAX_GENERATION` with 400, and a new
edit must name a current leaf (409), before any backend sees the request.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Any

import orjson
import pytest

from sync.errors import NotFound
from sync.http import HttpDatabase
from sync.replication import replicate
from sync.revid import new_rev
from sync.revtree import MAX_GENERATION
from sync.sqlite import SQLiteDatabase
from tests.server import conftest as fixtures
from tests.server.conftest import basic, bulk_docs, record, signed, store_of

DB = "/station-alpha"
JSON = {"Content-Type": "application/json"}
HEX = "a" * 32
POISON = f"{10**23}-{HEX}"
JUST_OVER = f"{MAX_GENERATION + 1}-{HEX}"
# 5,000 digits: past what Python's int() converts without raising (a 500 if unchecked).
HUGE = f"{'9' * 5000}-{HEX}"
BAD_REVS = {"poison": POISON, "just_over": JUST_OVER, "huge": HUGE, "float": f"1e+23-{HEX}"}

# Every test here runs on the embedded backend and over CouchDB (pouchdb-server).
backend = fixtures.backend
client = fixtures.client_on_both
district = fixtures.district_on_both


def _replicated(doc: dict[str, Any], start: Any, rev: str | None = None) -> dict[str, Any]:
    return {**doc, "_rev": rev or f"{start}-{HEX}", "_revisions": {"start": start, "ids": [HEX]}}


async def _assert_refused(answer: Any, status: int = 400) -> dict[str, Any]:
    body: dict[str, Any] = await answer.json()
    assert answer.status == status, body
    assert set(body) == {"error", "reason"}, body
    return body


async def _assert_not_stored(client: Any, doc_id: str) -> None:
    store = await store_of(client)
    with pytest.raises(NotFound):
        await store.get(doc_id)


async def test_writes_naming_a_generation_past_the_bound_are_refused_and_store_nothing(
    client: Any, district: Any
) -> None:
    doc = record(1)
    headers = {**basic("so-alpha"), **JSON}
    for name, rev in BAD_REVS.items():
        writes = {
            "put new_edits=false": client.put(
                f"{DB}/{doc['_id']}?new_edits=false", data=orjson.dumps({**doc, "_rev": rev}),
                headers=headers,
            ),
            "bulk_docs new_edits=false": client.post(
                f"{DB}/_bulk_docs",
                data=orjson.dumps({"docs": [{**doc, "_rev": rev}], "new_edits": False}),
                headers=headers,
            ),
            "bulk_docs new_edits=true": client.post(
                f"{DB}/_bulk_docs", data=orjson.dumps({"docs": [{**doc, "_rev": rev}]}),
                headers=headers,
            ),
            "put ?rev=": client.put(
                f"{DB}/{doc['_id']}?rev={urllib.parse.quote(rev)}", data=orjson.dumps(doc),
                headers=headers,
            ),
            "delete ?rev=": client.delete(
                f"{DB}/{doc['_id']}?rev={urllib.parse.quote(rev)}", headers=headers
            ),
        }
        for what, request in writes.items():
            body = await _assert_refused(await request)
            assert body["error"] == "bad_request", (name, what, body)
            assert "Invalid rev format" in body["reason"], (name, what, body)
            assert len(body["reason"]) < 200, "a hostile rev is not echoed whole"
    await _assert_not_stored(client, doc["_id"])


async def test_revisions_start_past_the_bound_or_not_an_integer_is_refused_with_the_whole_reason(
    client: Any, district: Any
) -> None:
    doc = record(2)
    headers = {**basic("so-alpha"), **JSON}
    # 10^23 reads as the float 1e+23 (orjson, past 64 bits), so it is no integer.
    for start, words in ((MAX_GENERATION + 1, str(MAX_GENERATION)), (10**23, "integer")):
        raw = json.dumps({"docs": [_replicated(doc, start, f"1-{HEX}")], "new_edits": False})
        body = await _assert_refused(await client.post(f"{DB}/_bulk_docs", data=raw,
                                                       headers=headers))
        assert words in body["reason"], body
    # What PouchDB sent back after reading 1e+23: a float start.
    raw = b'{"new_edits": false, "docs": [' + orjson.dumps(
        _replicated(doc, 1, rev=f"1-{HEX}")
    ).replace(b'"start":1', b'"start":1e+23') + b"]}"
    body = await _assert_refused(await client.post(f"{DB}/_bulk_docs", data=raw, headers=headers))
    assert body["reason"] == '_revisions must be {"start": integer, "ids": [string, ...]}'
    await _assert_not_stored(client, doc["_id"])


async def test_reads_naming_a_generation_past_the_bound_are_bad_requests(
    client: Any, district: Any
) -> None:
    doc_id = record(3)["_id"]
    headers = basic("so-alpha")
    for name, rev in BAD_REVS.items():
        quoted = urllib.parse.quote(orjson.dumps([rev]).decode())
        reads = {
            "revs_diff": client.post(f"{DB}/_revs_diff", json={doc_id: [rev]}, headers=headers),
            "bulk_get rev": client.post(
                f"{DB}/_bulk_get", json={"docs": [{"id": doc_id, "rev": rev}]}, headers=headers
            ),
            "bulk_get atts_since": client.post(
                f"{DB}/_bulk_get",
                json={"docs": [{"id": doc_id, "rev": f"1-{HEX}", "atts_since": [rev]}]},
                headers=headers,
            ),
            "open_revs": client.get(f"{DB}/{doc_id}?open_revs={quoted}", headers=headers),
            "get ?rev=": client.get(
                f"{DB}/{doc_id}?rev={urllib.parse.quote(rev)}", headers=headers
            ),
        }
        for what, request in reads.items():
            body = await _assert_refused(await request)
            assert body["error"] == "bad_request", (name, what, body)


async def test_a_new_edit_must_name_a_current_leaf(client: Any, district: Any) -> None:
    """CouchDB answers 409 to an edit of an older or unknown rev; the gateway
    answers it itself, so such a rev (whatever its generation) never reaches the
    backend, and the document is unchanged."""
    doc = record(4)
    headers = basic("so-alpha")
    (first,) = await bulk_docs(client, [doc], headers)
    (second,) = await bulk_docs(client, [{**doc, "_rev": first["rev"], "purpose": "2nd"}], headers)
    unknown = new_rev(second["rev"], False, {"purpose": "never stored"})
    for stale in (first["rev"], unknown, f"{MAX_GENERATION}-{HEX}"):
        edit = {**doc, "_rev": stale, "purpose": "stale edit"}
        (result,) = await bulk_docs(client, [edit], headers)
        assert result["error"] == "conflict", result
        answer = await client.put(f"{DB}/{doc['_id']}", json=edit, headers=headers)
        await _assert_refused(answer, 409)
    store = await store_of(client)
    current = await store.get(doc["_id"], conflicts=True)
    assert current["_rev"] == second["rev"]
    assert current["purpose"] == "2nd"
    assert "_conflicts" not in current
    # The leaf itself may still be edited.
    (third,) = await bulk_docs(client, [{**doc, "_rev": second["rev"], "purpose": "3rd"}], headers)
    assert third["ok"] is True


async def test_a_push_through_the_gateway_isolates_the_refused_documents_and_offers_them_again(
    client: Any, district: Any, tmp_path: Any
) -> None:
    """A real target refusing inside a batch, both ways: an id the gateway does
    not take fails the whole ``_revs_diff`` (400), a record of another station
    is refused by itself (403). The other records go through; both refusals
    are reported with their reasons and offered again by the next push."""
    device = await SQLiteDatabase.open(tmp_path / "device.sqlite3")
    gateway = HttpDatabase(
        str(client.make_url(DB)), auth=district.tokens["dev-so-alpha"], request_timeout=10
    )
    try:
        good = [signed(record(seed), district, "dev-so-alpha") for seed in range(10, 16)]
        odd_id = signed({**record(20), "_id": "an id with spaces"}, district, "dev-so-alpha")
        elsewhere = signed(record(21, station="bravo", beat="bravo-one"), district, "dev-so-alpha")
        await device.bulk_docs([*good[:3], odd_id, *good[3:], elsewhere])

        result = await replicate(device, gateway, batch_size=20)

        assert result.ok
        assert result.docs_written == len(good)
        refused = {r["id"]: r for r in result.rejected}
        assert set(refused) == {odd_id["_id"], elsewhere["_id"]}
        assert refused[odd_id["_id"]]["error"] == "illegal_docid"
        assert refused[elsewhere["_id"]]["error"] == "forbidden"
        assert "station_id" in refused[elsewhere["_id"]]["reason"]
        store = await store_of(client)
        for doc in good:
            assert (await store.get(doc["_id"]))["_id"] == doc["_id"]

        again = await replicate(device, gateway)
        assert again.missing_checked == 2  # only the two refused are offered again
        assert {r["id"] for r in again.rejected} == set(refused)
    finally:
        await gateway.close()
        await device.close()
