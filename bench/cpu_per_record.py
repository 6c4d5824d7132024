"""CPU per record: a signed edit on the device, the gateway taking a push, a pull.

Prints figures; it is not a test. CPU, not wall time, so the figures hold on
a busy machine: a process's user + system time (``/proc/PID/stat`` for the
servers, ``process_time`` for this process, ``process.cpuUsage()`` for node)
over the work, divided by the documents it handled.

* device: ``FieldReplica.save_record`` one by one (migrate, validate, sign,
  journal entry, seal, one SQLite transaction), in a fresh interpreter;
* push: devices send their records and journal entries (all signed) to the
  gateway with ``_bulk_docs`` (``new_edits=false``, 100 a request), the
  embedded store (and with ``--couchdb`` the CouchDB backend over
  pouchdb-server, whose CPU is printed under the gateway's); the gateway's
  CPU per document;
* pull: a fresh device replicates its beat from the gateway into SQLite
  (``sync.replication``): the gateway's CPU and this client's, per document;
* the same documents pushed to and pulled from pouchdb-server (PouchDB 9 in
  node, leveldb on disk, as the client), the reference.

With ``--before TREE`` (another checkout, e.g. of main before a change) the
device and gateway figures are measured for that tree too, in the same run,
side by side.

    python3 -m bench.cpu_per_record                       # this tree and PouchDB
    python3 -m bench.cpu_per_record --before /tmp/base    # and another tree
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import gateway_process, pouchdb_pull
from bench.counting_proxy import CountingProxy
from bench.gateway_devices import SimDevice, outbox, provision
from sync.http import HttpDatabase
from sync.replication import replicate
from sync.sqlite import SQLiteDatabase
from tests.peers import ROOT, pouchdb_server_process
from tests.server import couch_support
from tests.server.couch_support import bootstrap_stations, gateway_couch_url

_TICK = os.sysconf("SC_CLK_TCK")
BATCH = 100  # documents per _bulk_docs, as a replicator sends them


def process_cpu(pid: int) -> float:
    """Seconds of CPU (user + system) process ``pid`` has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICK


# Run in a fresh interpreter with PYTHONPATH=<tree>: only the packages' public
# API, so it runs against an older checkout too.
_DEVICE_PROBE = """
import asyncio, json, statistics, sys, tempfile, time
from pathlib import Path
from field_client import keys
from field_client.replica import FieldReplica
from field_client.settings import Settings
from schemas.samples import sample_records
from sync.sqlite import SQLiteDatabase

n, warm = int(sys.argv[1]), 200
records = [{k: v for k, v in r.items() if k != "_id"}
           for r in sample_records(n + warm, seed=7, station_id="kotwali", beat_ids=("beat-3",))]

async def main():
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        keyring = keys.create_keyfile(home / "keys.json", "benchmark passphrase")
        settings = Settings(officer_id="officer-17", device_id="dev-cpu", station_id="kotwali",
                            beat_id="beat-3", db_name="station-kotwali", role="station_officer")
        db = await SQLiteDatabase.open(home / "replica.sqlite3", codec=keyring.codec)
        replica = FieldReplica(home, settings, keyring, db)
        try:
            for record in records[:warm]:
                await replica.save_record(record)
            walls = []
            cpu = time.process_time()
            for record in records[warm:]:
                started = time.perf_counter()
                await replica.save_record(record)
                walls.append(time.perf_counter() - started)
            cpu = time.process_time() - cpu
        finally:
            await replica.close()
    print(json.dumps({"cpu_s": cpu, "p50_ms": 1000 * statistics.median(walls)}))

asyncio.run(main())
"""


def device_figures(tree: Path, n: int) -> dict[str, float]:
    answer = subprocess.run(
        [sys.executable, "-c", _DEVICE_PROBE, str(n)],
        capture_output=True,
        text=True,
        check=True,
        cwd=tempfile.gettempdir(),  # not this tree: PYTHONPATH alone decides
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    figures: dict[str, float] = json.loads(answer.stdout.splitlines()[-1])
    return figures


@dataclass
class Figures:
    """CPU µs per document, by what was measured."""

    values: dict[str, float] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)


async def _push(
    http: aiohttp.ClientSession, db_url: str, docs: Sequence[dict[str, Any]], token: str | None
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for i in range(0, len(docs), BATCH):
        body = {"docs": docs[i : i + BATCH], "new_edits": False}
        async with http.post(f"{db_url}/_bulk_docs", json=body, headers=headers) as answer:
            failures = await answer.json(content_type=None)  # pouchdb-server: text/plain
            if answer.status != 201 or failures:
                raise RuntimeError(f"push refused: {answer.status} {str(failures)[:300]}")


def _work(sims: list[SimDevice], records: int) -> list[tuple[SimDevice, list[dict[str, Any]]]]:
    rng = random.Random(15)
    return [(device, outbox(device, rng, records)) for device in sims]


async def gateway_figures(
    tree: Path,
    work: list[tuple[SimDevice, list[dict[str, Any]]]],
    data: Path,
    *serve_args: str,
    couch_pid: int | None = None,
) -> Figures:
    """The gateway's CPU per document (and, over CouchDB, CouchDB's: ``couch_pid``)."""
    out = Figures()
    pushed = sum(len(docs) for _, docs in work)
    gateway = gateway_process(data, *serve_args, root=tree)
    async with gateway as (url, process), aiohttp.ClientSession() as http:
        pids = {"gateway": process.pid} | ({"CouchDB": couch_pid} if couch_pid else {})
        before = {name: process_cpu(pid) for name, pid in pids.items()}
        await asyncio.gather(
            *(
                _push(http, f"{url}/station-{device.station_id}", docs, device.token)
                for device, docs in work
            )
        )
        out.values["gateway takes a push"] = (
            1e6 * (process_cpu(process.pid) - before["gateway"]) / pushed
        )
        if couch_pid:
            used = process_cpu(couch_pid) - before["CouchDB"]
            out.values["  CouchDB under it, push"] = 1e6 * used / pushed
        device = work[0][0]
        with tempfile.TemporaryDirectory() as tmp:
            source = HttpDatabase(f"{url}/station-{device.station_id}", auth=device.token)
            target = await SQLiteDatabase.open(Path(tmp) / "pull.sqlite3")
            before = {name: process_cpu(pid) for name, pid in pids.items()}
            client = time.process_time()
            try:
                result = await replicate(source, target, batch_size=BATCH)
            finally:
                await source.close()
                await target.close()
            client = time.process_time() - client
        served = process_cpu(process.pid) - before["gateway"]
        out.values["gateway serves a pull"] = 1e6 * served / result.docs_written
        if couch_pid:
            used = process_cpu(couch_pid) - before["CouchDB"]
            out.values["  CouchDB under it, pull"] = 1e6 * used / result.docs_written
        out.values["client pulls (SQLite)"] = 1e6 * client / result.docs_written
        out.notes["pull"] = f"{result.docs_written} docs"
    out.notes["push"] = f"{pushed} docs"
    return out


async def pouchdb_figures(work: list[tuple[SimDevice, list[dict[str, Any]]]]) -> Figures:
    out = Figures()
    docs = [doc for _, device_docs in work[:1] for doc in device_docs]
    with tempfile.TemporaryDirectory() as tmp, pouchdb_server_process(Path(tmp)) as (url, server):
        async with aiohttp.ClientSession() as http:
            async with http.put(f"{url}/bench") as answer:
                answer.raise_for_status()
            before = process_cpu(server.pid)
            everything = [doc for _, device_docs in work for doc in device_docs]
            await _push(http, f"{url}/bench", everything, None)
            out.values["gateway takes a push"] = (
                1e6 * (process_cpu(server.pid) - before) / len(everything)
            )
            async with http.put(f"{url}/pull") as answer:
                answer.raise_for_status()
            await _push(http, f"{url}/pull", docs, None)
        proxy = CountingProxy(url)
        await proxy.start()
        try:
            before = process_cpu(server.pid)
            row = await pouchdb_pull(f"{proxy.url}/pull", proxy, BATCH)
            served = process_cpu(server.pid) - before
        finally:
            await proxy.stop()
        out.values["gateway serves a pull"] = 1e6 * served / row.docs
        if row.cpu_s is not None:
            out.values["client pulls (SQLite)"] = 1e6 * row.cpu_s / row.docs
    return out


async def couch_figures(tree: Path, devices: int, records: int, data: Path) -> Figures:
    """The gateway over CouchDB (pouchdb-server standing in), the same work."""
    home = Path(tempfile.mkdtemp(dir=data))
    with pouchdb_server_process(home / "couch") as (couch_url, couch):
        await couch_support.provision(couch_url)  # bootstrap: the gateway's account
        sims = (await provision(home, devices, gateway_couch_url(couch_url)))[:devices]
        await bootstrap_stations(couch_url, sorted({d.station_id for d in sims}))
        return await gateway_figures(
            tree,
            _work(sims, records),
            home,
            "--couchdb",
            gateway_couch_url(couch_url),
            couch_pid=couch.pid,
        )


async def measure(
    trees: dict[str, Path], devices: int, records: int, couchdb: bool
) -> tuple[dict[str, Figures], str]:
    data = Path(tempfile.mkdtemp(prefix="beatsync-cpu-"))
    try:
        sims = (await provision(data / "seed", devices))[:devices]
        work = _work(sims, records)
        results: dict[str, Figures] = {}
        for label, tree in trees.items():
            # Each tree's gateway gets its own copy of the same provisioned folder.
            shutil.copytree(data / "seed", data / label)
            results[label] = await gateway_figures(tree, work, data / label)
            if couchdb:
                results[f"{label}, CouchDB"] = await couch_figures(tree, devices, records, data)
        results["PouchDB 9 / pouchdb-server"] = await pouchdb_figures(work)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    pushed = sum(len(docs) for _, docs in work)
    return results, f"{devices} devices push {pushed} docs ({records} records + journal each)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--before", type=Path, help="another source tree, measured side by side")
    parser.add_argument("--records", type=int, default=1000, help="device: records saved")
    parser.add_argument("--devices", type=int, default=4, help="gateway: devices pushing")
    parser.add_argument("--per-device", type=int, default=250, help="gateway: records each")
    parser.add_argument(
        "--couchdb", action="store_true", help="also the gateway over CouchDB (pouchdb-server)"
    )
    args = parser.parse_args()
    trees = {"before": args.before} if args.before else {}
    trees["this tree"] = ROOT
    device = {label: device_figures(tree, args.records) for label, tree in trees.items()}
    results, what = asyncio.run(measure(trees, args.devices, args.per_device, args.couchdb))
    columns = list(results)
    print(f"{os.cpu_count()} cores; CPU µs per document (user + system)")
    print(f"{'':30}" + "".join(f"{c[:26]:>28}" for c in columns))
    row = {c: device[c] for c in device}
    cells = (
        f"{1e6 * row[c]['cpu_s'] / args.records:.0f} (p50 {row[c]['p50_ms']:.2f} ms)"
        if c in row
        else "-"
        for c in columns
    )
    print(f"{'device: signed edit, saved':30}" + "".join(f"{cell:>28}" for cell in cells))
    names = [
        "gateway takes a push",
        "  CouchDB under it, push",
        "gateway serves a pull",
        "  CouchDB under it, pull",
        "client pulls (SQLite)",
    ]
    for name in names:
        if not any(name in results[c].values for c in columns):
            continue
        values = (results[c].values.get(name) for c in columns)
        print(f"{name:30}" + "".join(f"{v:>28.0f}" if v else f"{'-':>28}" for v in values))
    print(f"\ndevice: {args.records} records one by one, encrypted replica; gateway: {what},")
    print("embedded store unless named; pull: one fresh device's beat; PouchDB: the same docs, all")
    print("pushed to one database, one device's pulled by PouchDB into leveldb.")


if __name__ == "__main__":
    main()
