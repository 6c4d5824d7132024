"""Benchmark: N simulated devices sync with one gateway, concurrently.

Each device pushes 5 new records (each with its journal entry, all signed with
the device's Ed25519 key, as the field client does) and pulls its station's
changes, the way a CouchDB replicator does it:

    push: GET _local checkpoint, POST _revs_diff, POST _bulk_docs (new_edits=false),
          PUT _local checkpoint
    pull: GET _changes?style=all_docs&since=0&limit=100, POST _bulk_get (revs=true)

The gateway runs as a real ``beatsync-server serve`` process on loopback; this
process plays all devices (so both share this machine's cores). Prints
syncs/s, p50/p99 sync latency and errors, for each N.

    python bench/gateway_devices.py            # N = 100 and 500
    python bench/gateway_devices.py -n 50      # one size
    python bench/gateway_devices.py -n 500 --arrival 300   # arriving over 5 minutes

All devices start at once (a thundering herd) unless ``--arrival S``: then
each device starts at its own random time in the first S seconds, as a
district's devices do in a morning, and the latencies are what one sync sees.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import serve_gateway
from schemas.identity import Role
from schemas.samples import sample_record
from server.config import GatewayConfig
from server.gateway.app import open_state
from server.policy import admin
from server.policy.auth import token_hash
from sync import journal, signing
from sync.revid import new_rev

RECORDS_PER_DEVICE = 5
STATIONS = 5
BEATS_PER_STATION = 4


@dataclass
class SimDevice:
    device_id: str
    officer_id: str
    station_id: str
    beat_id: str
    key: Ed25519PrivateKey
    token: str


async def provision(data: Path, devices: int, couchdb_url: str | None = None) -> list[SimDevice]:
    """Stations, one beat officer per beat, and ``devices`` enrolled devices spread over
    them, in the embedded state under ``data`` or in the CouchDB at ``couchdb_url``."""
    state = await open_state(GatewayConfig(data_dir=data, couchdb_url=couchdb_url))
    sims: list[SimDevice] = []
    try:
        officers = []
        for s in range(STATIONS):
            station_id = f"station{s}"
            await state.add_station(station_id, station_id)
            for b in range(BEATS_PER_STATION):
                beat_id = f"{station_id}-beat{b}"
                await state.add_beat(station_id, beat_id, beat_id)
                officers.append((f"bo-{beat_id}", station_id, beat_id))
        await asyncio.gather(
            *(
                admin.add_officer(
                    state, oid, oid, Role.BEAT_OFFICER, "bench-password", station_id=st, beat_id=bt
                )
                for oid, st, bt in officers
            )
        )
        for n in range(devices):
            officer_id, station_id, beat_id = officers[n % len(officers)]
            key = Ed25519PrivateKey.generate()
            token = f"bench-token-{n}"
            device_id = f"dev-bench-{n}"
            await state.add_device(
                device_id, officer_id, device_id, signing.public_key_to_b64(key), token_hash(token)
            )
            sims.append(SimDevice(device_id, officer_id, station_id, beat_id, key, token))
    finally:
        await state.close()
    return sims


def _replicated(doc: dict[str, Any], device: SimDevice) -> dict[str, Any]:
    rev = new_rev(None, False, doc)
    return signing.sign(
        {**doc, "_rev": rev, "_revisions": {"start": 1, "ids": [rev[2:]]}},
        device.key,
        device.device_id,
        parent=None,
    )


def outbox(
    device: SimDevice, rng: random.Random, records: int = RECORDS_PER_DEVICE
) -> list[dict[str, Any]]:
    """The device's offline work: ``records`` records (5) and their journal entries."""
    docs: list[dict[str, Any]] = []
    prev = None
    for _ in range(records):
        record_type = rng.choice(["complaint", "visitor_entry", "verification_visit"])
        doc = sample_record(
            rng,
            record_type,
            station_id=device.station_id,
            beat_ids=[device.beat_id],
            officer=device.officer_id,
        )
        if record_type == "complaint":
            doc["status"] = "registered"
            doc.pop("fir_number", None)
        stored = _replicated(doc, device)
        entry = journal.next_entry(
            prev,
            device_id=device.device_id,
            record_id=doc["_id"],
            record_type=record_type,
            rev=stored["_rev"],
            parent_rev=None,
            action="create",
            at=doc["created_at"],
            envelope={
                k: doc[k]
                for k in (
                    "station_id",
                    "beat_id",
                    "created_by",
                    "created_at",
                    "updated_by",
                    "updated_at",
                )
            },
        )
        prev = entry
        docs += [stored, _replicated(entry, device)]
    return docs


async def sync_once(
    http: aiohttp.ClientSession, base: str, device: SimDevice, docs: list[dict[str, Any]]
) -> None:
    db = f"{base}/station-{device.station_id}"
    headers = {"Authorization": f"Bearer {device.token}"}
    checkpoint = f"{db}/_local/bench-{device.device_id}"

    async def call(method: str, url: str, expect: tuple[int, ...], **kw: Any) -> Any:
        async with http.request(method, url, headers=headers, **kw) as answer:
            body = await answer.json()
            if answer.status not in expect:
                raise RuntimeError(f"{method} {url.rsplit('/', 1)[-1]}: {answer.status} {body}")
            return body

    previous = await call("GET", checkpoint, (200, 404))
    missing = await call(
        "POST", f"{db}/_revs_diff", (200,), json={d["_id"]: [d["_rev"]] for d in docs}
    )
    to_send = [d for d in docs if d["_id"] in missing]
    failures = await call(
        "POST", f"{db}/_bulk_docs", (201,), json={"docs": to_send, "new_edits": False}
    )
    if failures:
        raise RuntimeError(f"bulk_docs refused: {failures[:2]}")
    # A replicator updates its checkpoint by its rev (a device syncing again).
    rev = {"_rev": previous["_rev"]} if "_rev" in previous else {}
    await call("PUT", checkpoint, (201,), json={"last_seq": len(docs), **rev})
    changes = await call("GET", f"{db}/_changes?style=all_docs&since=0&limit=100", (200,))
    wanted = [{"id": r["id"], "rev": c["rev"]} for r in changes["results"] for c in r["changes"]]
    if wanted:
        await call("POST", f"{db}/_bulk_get?revs=true", (200,), json={"docs": wanted})


async def run(n: int, base: str, sims: list[SimDevice], arrival: float = 0.0) -> dict[str, Any]:
    rng = random.Random(n)
    starts = sorted(rng.uniform(0, arrival) for _ in sims) if arrival else [0.0] * len(sims)
    work = [(device, outbox(device, rng)) for device in sims]
    latencies: list[float] = []
    errors: list[str] = []
    # One connection per device, as real devices would have.
    connector = aiohttp.TCPConnector(limit=n)
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as http:

        async def one(device: SimDevice, docs: list[dict[str, Any]], at: float) -> None:
            await asyncio.sleep(at)
            started = time.perf_counter()
            try:
                await sync_once(http, base, device, docs)
            except Exception as exc:  # every failure is a counted error
                errors.append(f"{device.device_id}: {exc}")
                return
            latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(
            *(one(d, docs, at) for (d, docs), at in zip(work, starts, strict=True))
        )
        wall = time.perf_counter() - started
    latencies.sort()
    return {
        "devices": n,
        "wall_s": wall,
        "syncs_per_s": len(latencies) / wall if wall else 0.0,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else float("nan"),
        "p99_ms": 1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))]
        if latencies
        else float("nan"),
        "errors": len(errors),
        "first_errors": errors[:3],
    }


async def bench(n: int, server_log: Path | None = None, arrival: float = 0.0) -> dict[str, Any]:
    data = Path(tempfile.mkdtemp(prefix="beatsync-bench-"))
    try:
        sims = await provision(data, n)
        async with serve_gateway(data, log=server_log) as base:
            return await run(n, base, sims, arrival)
    finally:
        shutil.rmtree(data, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, action="append", help="number of devices (repeatable)")
    parser.add_argument("--server-log", type=Path, help="append the gateway's JSON logs here")
    parser.add_argument(
        "--arrival",
        type=float,
        default=0.0,
        metavar="S",
        help="devices start at random times over S seconds (default 0: all at once)",
    )
    args = parser.parse_args()
    sizes = args.n or [100, 500]
    print(f"{os.cpu_count()} cores; devices arrive over {args.arrival:g} s")
    print(f"{'devices':>8} {'syncs/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'wall s':>8} {'errors':>7}")
    for n in sizes:
        r = asyncio.run(bench(n, args.server_log, args.arrival))
        print(
            f"{r['devices']:>8} {r['syncs_per_s']:>9.1f} {r['p50_ms']:>9.0f} {r['p99_ms']:>9.0f}"
            f" {r['wall_s']:>8.1f} {r['errors']:>7}"
        )
        for line in r["first_errors"]:
            print("   ", line)


if __name__ == "__main__":
    main()
