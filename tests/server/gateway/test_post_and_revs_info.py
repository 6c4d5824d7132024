"""``POST /{db}`` (PouchDB's ``post()``) and ``GET /{db}/{docid}?revs_info=true``,
as CouchDB 3 answers them, on both backends, and from a real PouchDB client.

``POST /{db}`` goes through the one write path: the same structure checks,
write policy and audit as ``PUT``; the id is random unless the body names one.
"""

from __future__ import annotations

import re
from typing import Any

import orjson
import pytest

from server.gateway.app import create_app
from server.gateway.keys import STORES
from tests import peers
from tests.server import conftest as fixtures
from tests.server.conftest import PASSWORD, basic, record, state_of, store_of

DB = "/station-alpha"

backend = fixtures.backend
client = fixtures.client_on_both
district = fixtures.district_on_both


def _unnamed(doc: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in doc.items() if k != "_id"}


async def test_post_creates_a_record_with_a_random_id_through_the_write_policy(
    client: Any, district: Any
) -> None:
    body = _unnamed(record(1))
    ids = []
    for _ in range(2):
        answer = await client.post(DB, json=body, headers=basic("so-alpha"))
        created = await answer.json()
        assert answer.status == 201, created
        assert created["ok"] is True
        assert re.fullmatch(r"[0-9a-f]{32}", created["id"]), created
        assert created["rev"].startswith("1-")
        ids.append(created["id"])
    assert ids[0] != ids[1]
    stored = await (await store_of(client)).get(ids[0])
    assert stored["purpose"] == body["purpose"]
    # Audited like any accepted write.
    key = (ids[0], stored["_rev"])
    assert await state_of(client).audited("station-alpha", {key}) == {key}

    named = record(2)
    answer = await client.post(DB, json=named, headers=basic("so-alpha"))
    assert (answer.status, (await answer.json())["id"]) == (201, named["_id"])


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (_unnamed(record(3, station="bravo")), 403, "forbidden"),  # another station's record
        ({"type": "visitor_entry"}, 403, "forbidden"),  # schema-invalid
        (_unnamed({**record(4), "_rev": f"{10**23}-{'a' * 32}"}), 400, "bad_request"),
        ({**_unnamed(record(5)), "_id": "../escape"}, 400, "illegal_docid"),
    ],
)
async def test_post_refuses_what_put_refuses_and_stores_nothing(
    client: Any, district: Any, body: dict[str, Any], status: int, error: str
) -> None:
    store = await store_of(client)
    before = (await store.info())["doc_count"]
    answer = await client.post(DB, json=body, headers=basic("so-alpha"))
    refused = await answer.json()
    assert (answer.status, refused["error"]) == (status, error), refused
    assert (await store.info())["doc_count"] == before


async def test_post_needs_a_json_object_and_credentials(client: Any, district: Any) -> None:
    answer = await client.post(DB, json=[1, 2], headers=basic("so-alpha"))
    assert answer.status == 400
    answer = await client.post(DB, json=_unnamed(record(6)))
    assert answer.status == 401


async def test_revs_info_lists_the_history_with_each_revs_status(
    client: Any, district: Any, backend: str
) -> None:
    doc = record(7)
    first = await (await client.put(f"{DB}/{doc['_id']}", json=doc,
                                    headers=basic("so-alpha"))).json()
    second = await (await client.put(
        f"{DB}/{doc['_id']}", json={**doc, "_rev": first["rev"], "purpose": "edited"},
        headers=basic("so-alpha"),
    )).json()
    answer = await client.get(f"{DB}/{doc['_id']}?revs_info=true", headers=basic("so-alpha"))
    got = await answer.json()
    assert answer.status == 200, got
    assert "_revisions" not in got  # asked for revs_info only, as CouchDB answers
    assert [item["rev"] for item in got["_revs_info"]] == [second["rev"], first["rev"]]
    assert got["_revs_info"][0]["status"] == "available"
    # A superseded body is compacted away: at once in the embedded store, by
    # CouchDB's compaction later; pouchdb-server (no auto-compaction) keeps it.
    expected = "missing" if backend == "embedded" else "available"
    assert got["_revs_info"][1]["status"] == expected
    both = await (await client.get(
        f"{DB}/{doc['_id']}?revs_info=true&revs=true", headers=basic("so-alpha")
    )).json()
    assert both["_revisions"]["start"] == 2
    assert len(both["_revs_info"]) == 2


POST_SCRIPT = r"""
const PouchDB = require('pouchdb');
const [url, user, password, docJson] = process.argv.slice(1);
(async () => {
  const remote = new PouchDB(url, {auth: {username: user, password}, skip_setup: true});
  const created = await remote.post(JSON.parse(docJson));
  const info = await remote.get(created.id, {revs_info: true});
  console.log(JSON.stringify({created, revs_info: info._revs_info}));
})().catch((err) => { console.error(err); process.exit(1); });
"""


@pytest.mark.pouchdb
async def test_pouchdb_post_and_revs_info_through_the_gateway(
    aiohttp_server: Any, district: Any, backend: str, config: Any, request: Any
) -> None:
    if backend == "couch":
        config = request.getfixturevalue("couch_district")[1]
    server = await aiohttp_server(create_app(config), host="127.0.0.1")
    base = f"http://127.0.0.1:{server.port}/station-alpha"
    body = _unnamed(record(8))
    out = await peers.run_node(POST_SCRIPT, base, "so-alpha", PASSWORD, orjson.dumps(body).decode())
    report = orjson.loads(out.strip().splitlines()[-1])
    created = report["created"]
    assert created["ok"] is True
    assert report["revs_info"] == [{"rev": created["rev"], "status": "available"}]
    store = await server.app[STORES].get("alpha")
    assert (await store.get(created["id"]))["purpose"] == body["purpose"]
