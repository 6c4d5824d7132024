"""Photos over a slow link: what ``atts_since`` saves when visits are edited.

Prints figures; it is not a test. 100 verification visits with a 100 KB
photo each are replicated, then every visit's text is edited once and
replicated again, by:

1. ours, SQLite -> SQLite, the replicator as it is (``atts_since`` from the
   target's ``possible_ancestors``);
2. the same with ``atts_since`` taken out at the source (the replicator as
   it was: every fetch inlines every attachment);
3. ours, SQLite -> our gateway (``beatsync-server serve``, its own process,
   SQLite central store) over HTTP, as a station officer, with and without
   ``atts_since``: the device's push over a real link;
4. ours, SQLite -> pouchdb-server through the counting proxy;
5. PouchDB 9 (node, leveldb) -> pouchdb-server through the same proxy.

Runs 1-2 play a pull over the link: they weigh the JSON of the ``_bulk_get``
answers (uncompressed) that would come down it, the write stays local; run 3
counts wire bytes with ``HttpDatabase.stats`` (gzip-compressed bodies); runs
4-5 count wire bytes (bodies) both ways at the proxy.
"at 128 kbit/s" is that byte count divided by the link rate: arithmetic, not
a measurement. pouchdb-server's ``_revs_diff`` reports no
``possible_ancestors``, so run 3 cannot save anything; a CouchDB 3 or our
gateway (which answers from an SQLite store or CouchDB) can.

usage: python -m bench.photos [--visits 100] [--photo-kb 100]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import random
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from bench.common import serve_gateway
from bench.counting_proxy import CountingProxy
from schemas.identity import Role
from schemas.samples import sample_record
from server.config import GatewayConfig
from server.gateway.app import open_state
from server.policy import admin
from sync.database import Doc
from sync.http import HttpDatabase
from sync.replication import replicate
from sync.sqlite import SQLiteDatabase
from tests.peers import ROOT, pouchdb_server

LINK_BITS_PER_SECOND = 128_000  # the middle of the 64-256 kbit/s 2G/3G range
STATION, BEAT, OFFICER, PASSWORD = "kotwali", "beat-3", "so.verma", "bench-password-1"


class WeighedStore(SQLiteDatabase):
    """An SQLite store that adds up the JSON its ``_bulk_get`` answers would be on
    an HTTP link; with ``atts_since = False`` it ignores atts_since (the
    replicator as it was: everything inline)."""

    weighed = 0
    atts_since = True

    async def bulk_get(
        self,
        docs: Sequence[Mapping[str, Any]],
        *,
        revs: bool = True,
        attachments: bool = False,
        latest: bool = False,
    ) -> list[Doc]:
        if not self.atts_since:
            docs = [{k: v for k, v in d.items() if k != "atts_since"} for d in docs]
        results = await super().bulk_get(docs, revs=revs, attachments=attachments, latest=latest)
        self.weighed += len(orjson.dumps({"results": results}))
        return results


def _visits(n: int, photo_bytes: int) -> list[Doc]:
    """Valid verification visits of one station (the gateway checks the schema)."""
    rng = random.Random(1)
    visits = []
    for _ in range(n):
        visit = sample_record(
            rng, "verification_visit", station_id=STATION, beat_ids=(BEAT,), officer=OFFICER
        )
        visit["photos"] = ["photo.jpg"]
        visit["_attachments"] = {
            "photo.jpg": {
                "content_type": "image/jpeg",
                "data": base64.b64encode(rng.randbytes(photo_bytes)).decode(),
            }
        }
        visits.append(visit)
    return visits


async def _edit_all(db: SQLiteDatabase | HttpDatabase) -> None:
    rows = (await db.all_docs(include_docs=True))["rows"]
    answers = await db.bulk_docs(
        [{**row["doc"], "findings": row["doc"]["findings"] + " Checked again."} for row in rows]
    )
    if any("error" in a for a in answers):
        raise RuntimeError(f"editing failed: {answers[:3]}")


def _row(name: str, phase: str, docs: int, seconds: float, up: int | None, down: int) -> None:
    link = ((up or 0) + down) * 8 / LINK_BITS_PER_SECOND
    shown_up = "-" if up is None else f"{up / 1024:.0f}"
    print(
        f"{name:44} {phase:15} {docs:>5} {seconds:>7.2f} {shown_up:>9} "
        f"{down / 1024:>9.0f} {link:>14.0f}"
    )


async def _ours_embedded(workdir: Path, visits: list[Doc], atts_since: bool) -> None:
    name = f"ours, SQLite -> SQLite{'' if atts_since else ', no atts_since'}"
    source = await WeighedStore.open(workdir / f"src-{atts_since}.sqlite")
    target = await SQLiteDatabase.open(workdir / f"dst-{atts_since}.sqlite")
    source.atts_since = atts_since
    try:
        await source.bulk_docs(visits)
        for phase in ("first sync", "after one edit"):
            if phase != "first sync":
                await _edit_all(source)
            source.weighed = 0
            started = time.perf_counter()
            result = await replicate(source, target)
            seconds = time.perf_counter() - started
            _row(name, phase, result.docs_written, seconds, None, source.weighed)
    finally:
        await source.close()
        await target.close()


async def _provision_gateway(data: Path) -> None:
    state = await open_state(GatewayConfig(data_dir=data))
    try:
        await state.add_station(STATION, "Kotwali police station")
        await state.add_beat(STATION, BEAT, "Beat 3")
        await admin.add_officer(
            state, OFFICER, "SO Verma", Role.STATION_OFFICER, PASSWORD, station_id=STATION
        )
    finally:
        await state.close()


async def _ours_to_gateway(workdir: Path, visits: list[Doc]) -> None:
    data = workdir / "gateway"
    data.mkdir()
    await _provision_gateway(data)
    async with serve_gateway(data) as base:
        for atts_since in (True, False):
            name = f"ours, SQLite -> gateway{'' if atts_since else ', no atts_since'}"
            source = await WeighedStore.open(workdir / f"device-{atts_since}.sqlite")
            source.atts_since = atts_since
            host = base.removeprefix("http://")
            target = HttpDatabase(f"http://{OFFICER}:{PASSWORD}@{host}/station-{STATION}")
            try:
                # Each run brings its own ids: the two runs share the station database.
                own = [{**v, "_id": f"{v['_id']}-{atts_since}"} for v in visits]
                await source.bulk_docs(own)
                for phase in ("first sync", "after one edit"):
                    if phase != "first sync":
                        await _edit_all(source)
                    target.stats.reset()
                    started = time.perf_counter()
                    result = await replicate(source, target)
                    seconds = time.perf_counter() - started
                    if result.doc_write_failures:
                        raise RuntimeError(f"the gateway refused: {result.errors[:2]}")
                    _row(
                        name,
                        phase,
                        result.docs_written,
                        seconds,
                        target.stats.bytes_sent,
                        target.stats.bytes_received,
                    )
            finally:
                await source.close()
                await target.close()


async def _ours_to_pouchdb(
    url: str, proxy: CountingProxy, workdir: Path, visits: list[Doc]
) -> None:
    source = await SQLiteDatabase.open(workdir / "device.sqlite")
    target = HttpDatabase(url)
    try:
        await target.create()
        await source.bulk_docs(visits)
        for phase in ("first sync", "after one edit"):
            if phase != "first sync":
                await _edit_all(source)
            proxy.reset()
            started = time.perf_counter()
            result = await replicate(source, target)
            seconds = time.perf_counter() - started
            t = proxy.reset()
            _row(
                "ours, SQLite -> pouchdb-server",
                phase,
                result.docs_written,
                seconds,
                t.bytes_up,
                t.bytes_down,
            )
    finally:
        await source.close()
        await target.close()


async def _pouchdb_push(
    url: str, proxy: CountingProxy, workdir: Path, visits: int, photo_bytes: int
) -> None:
    for phase, step in (("first sync", "load"), ("after one edit", "edit")):
        proxy.reset()
        process = await asyncio.create_subprocess_exec(
            "node",
            str(ROOT / "bench" / "pouchdb_photos.js"),
            step,
            str(workdir),
            url,
            str(visits),
            str(photo_bytes),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        out, err = await process.communicate()
        if process.returncode != 0:
            raise RuntimeError(f"pouchdb_photos.js failed: {err.decode()[-2000:]}")
        figures = json.loads(out)
        t = proxy.reset()
        _row(
            "PouchDB 9 -> pouchdb-server",
            phase,
            figures["docs_written"],
            figures["seconds"],
            t.bytes_up,
            t.bytes_down,
        )


async def main(n_visits: int, photo_kb: int) -> None:
    photo_bytes = photo_kb * 1024
    visits = _visits(n_visits, photo_bytes)
    print(
        f"{n_visits} visits, one {photo_kb} KB photo each; link figure at "
        f"{LINK_BITS_PER_SECOND // 1000} kbit/s\n"
    )
    print(
        f"{'run':44} {'phase':15} {'docs':>5} {'s':>7} {'KB up':>9} {'KB down':>9} "
        f"{'s at link rate':>14}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        await _ours_embedded(workdir, visits, atts_since=True)
        await _ours_embedded(workdir, visits, atts_since=False)
        await _ours_to_gateway(workdir, visits)
        with pouchdb_server(workdir / "pouchdb-server") as server_url:
            proxy = CountingProxy(server_url)
            await proxy.start()
            try:
                await _ours_to_pouchdb(f"{proxy.url}/bench-photos-ours", proxy, workdir, visits)
                pouch_url = f"{proxy.url}/bench-photos-pouchdb"
                await _pouchdb_push(pouch_url, proxy, workdir, n_visits, photo_bytes)
            finally:
                await proxy.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--visits", type=int, default=100)
    parser.add_argument("--photo-kb", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.visits, args.photo_kb))
