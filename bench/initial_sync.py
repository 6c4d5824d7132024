"""Initial sync of a fresh device from a 10,000-record station database.

Prints figures; it is not a test. Three pulls of the same records in one run:

1. through the gateway (``beatsync-server serve``, a separate process) with
   its embedded SQLite store;
2. through the gateway over CouchDB (``serve --couchdb``; pouchdb-server 4.2
   stands in for CouchDB), the gateway logged in as its own CouchDB user;
3. PouchDB 9 (node, leveldb) pulling the same database straight from
   pouchdb-server, no gateway: the reference.

Runs 1 and 2 are what a field device does: an empty SQLite store,
``replicate()`` from ``HttpDatabase`` with a device's bearer token. Every
client goes through the same counting proxy, so requests and bytes are
measured the same way.

usage: python -m bench.initial_sync [--docs 10000] [--batch-size 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.counting_proxy import CountingProxy
from bench.replication import LOAD_CHUNK, Row, _pouchdb_pull, _print
from schemas.samples import sample_records
from server.auth import token_hash
from server.config import GatewayConfig
from server.couch_backend import CouchServer, with_credentials
from server.couch_bootstrap import bootstrap
from server.models import Role
from server.passwords import hash_password
from server.repo_couch import CouchGatewayState
from server.repos import IdentityRepo
from server.web_app import STATIONS_DIR, open_state
from sync import signing
from sync.database import Database, Doc
from sync.http_remote import HttpDatabase
from sync.replication import replicate
from sync.sqlite_store import SQLiteDatabase
from tests.peers import ROOT, free_port, pouchdb_server

STATION = "bench-station"
DB = f"station-{STATION}"
TOKEN = "bench-device-token"
GATEWAY_USER, GATEWAY_PASSWORD = "beatsync-gateway", "bench-gateway-pw"


async def _load(db: Database, records: list[Doc]) -> None:
    for i in range(0, len(records), LOAD_CHUNK):
        answers = await db.bulk_docs(records[i : i + LOAD_CHUNK])
        if any("error" in a for a in answers):
            raise RuntimeError(f"loading failed: {answers[:3]}")


async def _identities(repo: IdentityRepo) -> None:
    """One station, one officer, one enrolled device whose token is ``TOKEN``."""
    await repo.add_station(STATION, "Bench station")
    await repo.add_officer(
        "so-bench", "SO", Role.STATION_OFFICER, hash_password("bench-pass-1"), station_id=STATION
    )
    key = Ed25519PrivateKey.generate()
    await repo.add_device(
        "dev-bench",
        "so-bench",
        "bench",
        signing.public_key_to_b64(key.public_key()),
        token_hash(TOKEN),
    )


@asynccontextmanager
async def _gateway(data_dir: Path, *extra: str) -> AsyncIterator[str]:
    """``beatsync-server serve`` as its own process; yields its URL."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server",
        "serve",
        "--data",
        str(data_dir),
        "--port",
        str(port),
        *extra,
        cwd=ROOT,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{url}/_up") as answer:
                        if answer.status == 200:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.1)
            else:
                raise RuntimeError("the gateway did not start")
        yield url
    finally:
        process.terminate()
        await process.wait()


async def _device_pull(
    name: str, url: str, proxy: CountingProxy, workdir: Path, batch_size: int
) -> Row:
    target = await SQLiteDatabase.open(workdir / f"device-{name}.sqlite")
    source = HttpDatabase(url, auth=TOKEN)
    proxy.reset()
    try:
        started = time.perf_counter()
        result = await replicate(source, target, batch_size=batch_size)
        seconds = time.perf_counter() - started
        count = (await target.info())["doc_count"]
    finally:
        await source.close()
        await target.close()
    if not result.ok or count != result.docs_written:
        raise RuntimeError(f"{name}: pulled {result.docs_written}, stored {count}")
    return Row(
        f"device <- gateway ({name}) (batch {batch_size})",
        result.docs_written,
        seconds,
        proxy.reset(),
    )


async def main(n_docs: int, batch_size: int) -> None:
    records = sample_records(n_docs, seed=7, station_id=STATION)
    print(f"{n_docs} records of station {STATION}; device batch size {batch_size}\n")
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        # The embedded gateway: state and station store in its data folder.
        embedded_dir = workdir / "embedded"
        state = await open_state(GatewayConfig(data_dir=embedded_dir))
        try:
            await _identities(state)
        finally:
            await state.close()
        (embedded_dir / STATIONS_DIR).mkdir(parents=True)
        store = await SQLiteDatabase.open(embedded_dir / STATIONS_DIR / f"{STATION}.sqlite")
        try:
            await _load(store, records)
        finally:
            await store.close()

        with pouchdb_server(workdir / "pouchdb-server") as couch:
            await asyncio.to_thread(
                bootstrap,
                couch,
                gateway_user=GATEWAY_USER,
                gateway_password=GATEWAY_PASSWORD,
                stations=[STATION],
            )
            gateway_couch = with_credentials(couch, "", (GATEWAY_USER, GATEWAY_PASSWORD))
            central = CouchGatewayState(CouchServer.from_url(gateway_couch))
            try:
                await _identities(central)
            finally:
                await central.close()
            loader = HttpDatabase(f"{couch}/{DB}")
            try:
                await _load(loader, records)
            finally:
                await loader.close()

            async with (
                _gateway(embedded_dir) as embedded_gw,
                _gateway(workdir / "couch-gw", "--couchdb", gateway_couch) as couch_gw,
            ):
                for name, upstream in (
                    ("embedded SQLite", embedded_gw),
                    ("over pouchdb-server", couch_gw),
                ):
                    proxy = CountingProxy(upstream)
                    await proxy.start()
                    try:
                        rows.append(
                            await _device_pull(
                                name, f"{proxy.url}/{DB}", proxy, workdir, batch_size
                            )
                        )
                    finally:
                        await proxy.stop()
            proxy = CountingProxy(couch)
            await proxy.start()
            try:
                reference = await _pouchdb_pull(f"{proxy.url}/{DB}", proxy, batch_size)
            finally:
                await proxy.stop()
            rows.append(reference)
    _print(rows, reference)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.docs, args.batch_size))
