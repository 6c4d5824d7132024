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
from pathlib import Path

from bench.common import Row, load, pouchdb_pull, print_rows, timed_replication
from bench.counting_proxy import CountingProxy
from schemas.samples import sample_records
from sync.database import Doc
from sync.http import HttpDatabase
from sync.sqlite import SQLiteDatabase
from tests.peers import pouchdb_server


async def _embedded(records: list[Doc], workdir: Path, batch_size: int) -> Row:
    source = await SQLiteDatabase.open(workdir / f"embedded-source-{batch_size}.sqlite")
    try:
        await load(source, records)
    except BaseException:
        await source.close()
        raise
    target = await SQLiteDatabase.open(workdir / f"embedded-target-{batch_size}.sqlite")
    result, seconds = await timed_replication(source, target, batch_size)
    return Row(f"ours, SQLite -> SQLite (batch {batch_size})", result.docs_written, seconds)


async def _http_pull(
    url: str, proxy: CountingProxy, workdir: Path, batch_size: int, gzip: bool
) -> Row:
    target = await SQLiteDatabase.open(workdir / f"pulled-{batch_size}-{gzip}.sqlite")
    proxy.reset()
    result, seconds = await timed_replication(
        HttpDatabase(url, compress_requests=gzip), target, batch_size
    )
    how = f"batch {batch_size}{', gzip up' if gzip else ''}"
    return Row(
        f"ours, pouchdb-server -> SQLite ({how})", result.docs_written, seconds, proxy.reset()
    )


async def main(
    n_docs: int, batch_sizes: list[int], pouchdb_batch: int, gzip_up: bool, round_trip: float
) -> None:
    records = sample_records(n_docs, seed=1)
    sizes = sorted(len(json.dumps(r)) for r in records)
    if round_trip:
        print(f"HTTP runs through a proxy adding {round_trip * 1000:.0f} ms per request")
    print(
        f"{n_docs} records, body {sizes[0]}-{sizes[-1]} bytes (median {sizes[len(sizes) // 2]})\n"
    )
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
                await load(loader, records)
            finally:
                await loader.close()
            proxy = CountingProxy(server_url, round_trip=round_trip)
            await proxy.start()
            try:
                via_proxy = f"{proxy.url}/bench-replication"
                reference = await pouchdb_pull(via_proxy, proxy, pouchdb_batch)
                rows.append(reference)
                for batch_size in batch_sizes:
                    rows.append(await _http_pull(via_proxy, proxy, workdir, batch_size, gzip_up))
            finally:
                await proxy.stop()
    print_rows(rows, reference)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, action="append", dest="batch_sizes")
    parser.add_argument("--pouchdb-batch-size", type=int, default=100)
    # Off by default: pouchdb-server 4.2 does not read gzip request bodies
    # (its _bulk_get then fails and HttpDatabase falls back to one GET per doc).
    parser.add_argument("--gzip-up", action="store_true", help="gzip request bodies")
    parser.add_argument(
        "--round-trip",
        type=float,
        default=0.0,
        help="seconds the proxy adds to every request (a slow link)",
    )
    args = parser.parse_args()
    asyncio.run(
        main(
            args.docs,
            args.batch_sizes or [100, 500],
            args.pouchdb_batch_size,
            args.gzip_up,
            args.round_trip,
        )
    )
