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
import tempfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import Row, load, pouchdb_pull, print_rows, serve_gateway, timed_replication
from bench.counting_proxy import CountingProxy
from schemas.identity import Role
from schemas.samples import sample_records
from server.config import GatewayConfig
from server.couch.backend import CouchServer
from server.couch.state import CouchGatewayState
from server.gateway.app import STATIONS_DIR, open_state
from server.policy.auth import token_hash
from server.policy.passwords import hash_password
from server.state.interface import IdentityRepo
from sync import signing
from sync.http import HttpDatabase
from sync.sqlite import SQLiteDatabase
from tests.peers import pouchdb_server
from tests.server.couch_support import bootstrap_stations, gateway_couch_url

STATION = "bench-station"
DB = f"station-{STATION}"
TOKEN = "bench-device-token"


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


async def _device_pull(
    name: str, url: str, proxy: CountingProxy, workdir: Path, batch_size: int
) -> Row:
    path = workdir / f"device-{name}.sqlite"
    proxy.reset()
    result, seconds = await timed_replication(
        HttpDatabase(url, auth=TOKEN), await SQLiteDatabase.open(path), batch_size
    )
    target = await SQLiteDatabase.open(path)
    try:
        count = (await target.info())["doc_count"]
    finally:
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
            await load(store, records)
        finally:
            await store.close()

        with pouchdb_server(workdir / "pouchdb-server") as couch:
            await bootstrap_stations(couch, [STATION])
            gateway_couch = gateway_couch_url(couch)
            central = CouchGatewayState(CouchServer.from_url(gateway_couch))
            try:
                await _identities(central)
            finally:
                await central.close()
            loader = HttpDatabase(f"{couch}/{DB}")
            try:
                await load(loader, records)
            finally:
                await loader.close()

            async with (
                serve_gateway(embedded_dir) as embedded_gw,
                serve_gateway(workdir / "couch-gw", "--couchdb", gateway_couch) as couch_gw,
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
                reference = await pouchdb_pull(f"{proxy.url}/{DB}", proxy, batch_size)
            finally:
                await proxy.stop()
            rows.append(reference)
    print_rows(rows, reference)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--batch-size", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.docs, args.batch_size))
