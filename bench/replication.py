"""Replication throughput and round trips: our replicator against PouchDB 9.

Prints figures; it is not a test. Three runs over the same 10,000 realistic
records (``schemas.samples``: complaints, visitor entries, verification
visits, 0.5-2 KB each):

1. embedded SQLite store -> embedded SQLite store;
2. pouchdb-server -> embedded SQLite store through ``HttpDatabase``;
3. PouchDB 9 (node, leveldb on disk) pulling the same database from the
   same pouchdb-server.

Runs 2 and 3 go through one counting proxy, so requests and bytes are
measured the same way for both clients.

usage: python -m bench.replication [--docs 10000] [--batch-size 100 ...]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.counting_proxy import CountingProxy, Traffic
from schemas.samples import sample_records
from sync.database import Database, Doc
from sync.http_remote import HttpDatabase
from sync.replication import replicate
from sync.sqlite_store import SQLiteDatabase
from tests.peers import ROOT, pouchdb_server

LOAD_CHUNK = 1000  # docs per _bulk_docs while loading the source


@dataclass
class Row:
    name: str
    docs: int
    seconds: float
    traffic: Traffic | None = None

    @property
    def rate(self) -> float:
        return self.docs / self.seconds if self.seconds else 0.0


async def _load(db: Database, records: list[Doc]) -> None:
    for i in range(0, len(records), LOAD_CHUNK):
        answers = await db.bulk_docs(records[i : i + LOAD_CHUNK])
        if any("error" in a for a in answers):
            raise RuntimeError(f"loading failed: {answers[:3]}")


async def _embedded(records: list[Doc], workdir: Path, batch_size: int) -> Row:
    source = await SQLiteDatabase.open(workdir / f"embedded-source-{batch_size}.sqlite")
    target = await SQLiteDatabase.open(workdir / f"embedded-target-{batch_size}.sqlite")
    try:
        await _load(source, records)
        started = time.perf_counter()
        result = await replicate(source, target, batch_size=batch_size)
        seconds = time.perf_counter() - started
    finally:
        await source.close()
        await target.close()
    return Row(f"ours, SQLite -> SQLite (batch {batch_size})", result.docs_written, seconds)


async def _http_pull(
    url: str, proxy: CountingProxy, workdir: Path, batch_size: int, gzip: bool
) -> Row:
    target = await SQLiteDatabase.open(workdir / f"pulled-{batch_size}-{gzip}.sqlite")
    source = HttpDatabase(url, compress_requests=gzip)
    proxy.reset()
    try:
        started = time.perf_counter()
        result = await replicate(source, target, batch_size=batch_size)
        seconds = time.perf_counter() - started
    finally:
        await source.close()
        await target.close()
    how = f"batch {batch_size}{', gzip up' if gzip else ''}"
    return Row(f"ours, pouchdb-server -> SQLite ({how})", result.docs_written, seconds,
               proxy.reset())


async def _pouchdb_pull(url: str, proxy: CountingProxy, batch_size: int) -> Row:
    proxy.reset()
    process = await asyncio.create_subprocess_exec(
        "node", str(ROOT / "bench" / "pouchdb_pull.js"), url, str(batch_size),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"pouchdb_pull.js failed: {err.decode()[-2000:]}")
    figures = json.loads(out)
    return Row(f"PouchDB 9, pouchdb-server -> leveldb (batch {batch_size})",
               figures["docs_written"], figures["seconds"], proxy.reset())


def _print(rows: list[Row], reference: Row | None) -> None:
    print(f"{'run':62} {'docs':>6} {'s':>7} {'docs/s':>8} {'requests':>9} "
          f"{'KB up':>8} {'KB down':>9}")
    for row in rows:
        t = row.traffic
        http = (f"{t.requests:>9} {t.bytes_up / 1024:>8.0f} {t.bytes_down / 1024:>9.0f}"
                if t else f"{'-':>9} {'-':>8} {'-':>9}")
        print(f"{row.name:62} {row.docs:>6} {row.seconds:>7.2f} {row.rate:>8.0f} {http}")
    if reference is None or reference.traffic is None:
        return
    print(f"\nratios against {reference.name}:")
    for row in rows:
        if row is reference or row.traffic is None:
            continue
        requests = row.traffic.requests / reference.traffic.requests
        down = row.traffic.bytes_down / max(reference.traffic.bytes_down, 1)
        print(f"  {row.name}: {row.rate / reference.rate:.2f}x the docs/s, "
              f"{requests:.2f}x the requests, {down:.2f}x the bytes down")


async def main(
    n_docs: int, batch_sizes: list[int], pouchdb_batch: int, gzip_up: bool, round_trip: float
) -> None:
    records = sample_records(n_docs, seed=1)
    sizes = sorted(len(json.dumps(r)) for r in records)
    if round_trip:
        print(f"HTTP runs through a proxy adding {round_trip * 1000:.0f} ms per request")
    print(f"{n_docs} records, body {sizes[0]}-{sizes[-1]} bytes "
          f"(median {sizes[len(sizes) // 2]})\n")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for batch_size in batch_sizes:
            rows.append(await _embedded(records, workdir, batch_size))
        with pouchdb_server(workdir / "pouchdb-server") as server_url:
            db_url = f"{server_url}/bench-replication"
            loader = HttpDatabase(db_url)
            try:
                await loader.create()
                await _load(loader, records)
            finally:
                await loader.close()
            proxy = CountingProxy(server_url, round_trip=round_trip)
            await proxy.start()
            try:
                via_proxy = f"{proxy.url}/bench-replication"
                reference = await _pouchdb_pull(via_proxy, proxy, pouchdb_batch)
                rows.append(reference)
                for batch_size in batch_sizes:
                    rows.append(
                        await _http_pull(via_proxy, proxy, workdir, batch_size, gzip_up))
            finally:
                await proxy.stop()
    _print(rows, reference)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, action="append", dest="batch_sizes")
    parser.add_argument("--pouchdb-batch-size", type=int, default=100)
    # Off by default: pouchdb-server 4.2 does not read gzip request bodies
    # (its _bulk_get then fails and HttpDatabase falls back to one GET per doc).
    parser.add_argument("--gzip-up", action="store_true", help="gzip request bodies")
    parser.add_argument("--round-trip", type=float, default=0.0,
                        help="seconds the proxy adds to every request (a slow link)")
    args = parser.parse_args()
    asyncio.run(main(args.docs, args.batch_sizes or [100, 500], args.pouchdb_batch_size,
                     args.gzip_up, args.round_trip))
