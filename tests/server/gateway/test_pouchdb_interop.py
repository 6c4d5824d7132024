"""Real PouchDB (npm ``pouchdb``, http adapter) replicates both ways with the gateway
using an officer's password: docs, updates, deletes and a conflict; the winners
and conflicts PouchDB reports equal the gateway's."""

from __future__ import annotations

import aiohttp
import orjson
import pytest

from server.gateway.app import create_app
from tests import peers
from tests.server.conftest import PASSWORD, basic, record

pytestmark = pytest.mark.pouchdb

SCRIPT = r"""
const PouchDB = require('pouchdb');
PouchDB.plugin(require('pouchdb-adapter-memory'));
const [url, user, password, extraJson] = process.argv.slice(1);
const extra = JSON.parse(extraJson);

async function winners(db, ids) {
  const out = {};
  for (const id of ids) {
    try {
      const doc = await db.get(id, {conflicts: true});
      out[id] = {rev: doc._rev, conflicts: (doc._conflicts || []).sort(), purpose: doc.purpose};
    } catch (err) {
      out[id] = {error: err.status, reason: err.reason || err.message};
    }
  }
  return out;
}

(async () => {
  const local = new PouchDB('beatsync-interop-' + Date.now(), {adapter: 'memory'});
  const remote = new PouchDB(url, {auth: {username: user, password}, skip_setup: true});
  const pull1 = await local.replicate.from(remote);
  const ids = extra.ids;

  // Field edits made offline: an update, a delete, a new record.
  const a = await local.get(ids.updated);
  a.purpose = 'Updated in the field by PouchDB.';
  await local.put(a);
  const b = await local.get(ids.deleted);
  await local.remove(b);
  await local.put(extra.created);
  await local.put(extra.invalid);  // another station's record: the gateway refuses it

  // A conflict: the same base revision edited on both sides.
  const dLocal = await local.get(ids.conflicted);
  const dRemote = await remote.get(ids.conflicted);
  dLocal.purpose = 'Edited on the tablet.';
  dRemote.purpose = 'Edited at the station desk.';
  await local.put(dLocal);
  await remote.put(dRemote);

  const denied = [];
  const push = await local.replicate.to(remote)
    .on('denied', (err) => denied.push(err.id || err.name));
  const pull2 = await local.replicate.from(remote);
  const all = [ids.updated, ids.deleted, ids.conflicted, extra.created._id];
  console.log(JSON.stringify({
    pull1: {docs_written: pull1.docs_written, errors: pull1.doc_write_failures},
    push: {docs_written: push.docs_written, errors: push.doc_write_failures, denied},
    pull2: {errors: pull2.doc_write_failures},
    winners: await winners(local, all),
  }));
})().catch((err) => { console.error(err); process.exit(1); });
"""


async def test_pouchdb_replicates_both_ways_with_officer_credentials(
    aiohttp_server, district, config
) -> None:
    server = await aiohttp_server(create_app(config), host="127.0.0.1")
    base = f"http://127.0.0.1:{server.port}/station-alpha"
    seeded = [record(seed) for seed in (101, 102, 103)]
    async with aiohttp.ClientSession() as http:
        answer = await http.post(
            f"{base}/_bulk_docs", json={"docs": seeded}, headers=basic("so-alpha")
        )
        assert answer.status == 201
        ids = {
            "updated": seeded[0]["_id"],
            "deleted": seeded[1]["_id"],
            "conflicted": seeded[2]["_id"],
        }
        created, invalid = record(104), record(105, station="bravo")
        out = await peers.run_node(
            SCRIPT,
            base,
            "so-alpha",
            PASSWORD,
            orjson.dumps({"ids": ids, "created": created, "invalid": invalid}).decode(),
        )
        report = orjson.loads(out.strip().splitlines()[-1])
        assert report["pull1"] == {"docs_written": 3, "errors": 0}
        # CouchDB's per-document forbidden: PouchDB reports it and carries on.
        assert report["push"]["errors"] == 1
        assert report["push"]["denied"] == [invalid["_id"]]
        assert report["push"]["docs_written"] == 4
        missing = await http.get(f"{base}/{invalid['_id']}", headers=basic("so-alpha"))
        assert missing.status == 404
        assert report["pull2"]["errors"] == 0

        pouch = report["winners"]
        for doc_id, seen in pouch.items():
            answer = await http.get(f"{base}/{doc_id}?conflicts=true", headers=basic("so-alpha"))
            gateway = await answer.json()
            if "error" in seen:
                assert answer.status == seen["error"] == 404
                assert gateway["reason"] == "deleted"
                continue
            assert answer.status == 200
            assert gateway["_rev"] == seen["rev"]
            assert sorted(gateway.get("_conflicts", [])) == seen["conflicts"]
            assert gateway["purpose"] == seen["purpose"]
        assert "error" in pouch[ids["deleted"]]
        assert pouch[ids["updated"]]["purpose"] == "Updated in the field by PouchDB."
        assert len(pouch[ids["conflicted"]]["conflicts"]) == 1
        assert pouch[created["_id"]]["rev"].startswith("1-")


PULL_SCRIPT = r"""
const PouchDB = require('pouchdb');
PouchDB.plugin(require('pouchdb-adapter-memory'));
const [url, user, password] = process.argv.slice(1);
(async () => {
  const local = new PouchDB('beatsync-beat-' + Date.now(), {adapter: 'memory'});
  const remote = new PouchDB(url, {auth: {username: user, password}, skip_setup: true});
  const pull = await local.replicate.from(remote);
  const all = await local.allDocs();
  console.log(JSON.stringify({errors: pull.doc_write_failures, ids: all.rows.map((r) => r.id)}));
})().catch((err) => { console.error(err); process.exit(1); });
"""


async def test_pouchdb_beat_officer_pulls_only_their_beat(aiohttp_server, district, config) -> None:
    server = await aiohttp_server(create_app(config), host="127.0.0.1")
    base = f"http://127.0.0.1:{server.port}/station-alpha"
    mine = [record(seed, beat="alpha-one") for seed in (110, 111)]
    theirs = [record(seed, beat="alpha-two") for seed in (112, 113)]
    async with aiohttp.ClientSession() as http:
        answer = await http.post(
            f"{base}/_bulk_docs", json={"docs": mine + theirs}, headers=basic("so-alpha")
        )
        assert answer.status == 201
    out = await peers.run_node(PULL_SCRIPT, base, "bo-one", PASSWORD)
    report = orjson.loads(out.strip().splitlines()[-1])
    assert report == {"errors": 0, "ids": sorted(d["_id"] for d in mine)}
