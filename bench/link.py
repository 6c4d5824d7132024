"""Sync over a 2G link, side by side: our field client against our gateway, PouchDB 9
against pouchdb-server, through the same shaping proxy (issue 11's four scenarios).

Prints figures; it is not a test. The link (``tests.link_proxy.LinkProxy``): 600 ms
round trip, 256 kbit/s each way, 64 kbit/s up for the push; a new connection
costs one more round trip. Every client sets up over the same proxy unshaped,
then the link is shaped for the timed part. The same records for every
client: pouchdb-server is loaded from the gateway's database by replication,
and PouchDB pushes the documents our device pushed.

Scenarios: a fresh device pulls the station's records; a device pushes 50
records made offline; a two-way sync with nothing to do; 20 records edited
on both sides. "Floor" = a new connection + one round trip + the gzipped
records moved at the link's bandwidth (the issue's definition); medians of
``--runs``.

usage: python -m bench.link [--records 2000] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from bench.common import serve_gateway
from field_client.replica import UNASSIGNED, FieldReplica
from schemas.identity import Role
from server.config import GatewayConfig
from server.gateway.app import open_state
from server.policy import admin
from sync.http import HttpDatabase
from sync.replication import replicate
from tests.field_client.support import PASSPHRASE, complaint, visitor
from tests.link_proxy import LinkProxy
from tests.peers import ROOT, pouchdb_server

PASSWORD = "officer-password-1"
DB = "station-kotwali"
RTT, DOWN, UP, PUSH_UP = 0.6, 256_000, 256_000, 64_000
PUSHED, EDITED = 50, 20
SCENARIOS = ("pull", "push", "noop", "conflict")


@dataclass
class Figures:
    seconds: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    up: list[int] = field(default_factory=list)
    down: list[int] = field(default_factory=list)

    def add(self, seconds: float, link: LinkProxy) -> None:
        traffic = link.reset_traffic()
        self.seconds.append(seconds)
        self.requests.append(traffic.requests)
        self.up.append(traffic.bytes_up)
        self.down.append(traffic.bytes_down)


def _median(values: list[Any]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def _gz(docs: list[dict[str, Any]]) -> int:
    return len(gzip.compress(b"\n".join(orjson.dumps(d) for d in docs)))


def _records(docs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in docs if not d["_id"].startswith("journal-")]


async def _provision(data_dir: Path) -> None:
    state = await open_state(GatewayConfig(data_dir=data_dir))
    try:
        await state.add_station("kotwali", "Kotwali police station")
        await state.add_beat("kotwali", "beat-3", "Beat 3")
        await admin.add_officer(state, "si.sharma", "SI Sharma", Role.BEAT_OFFICER, PASSWORD,
                                station_id="kotwali", beat_id="beat-3")
        await admin.add_officer(state, "so.verma", "SO Verma", Role.STATION_OFFICER, PASSWORD,
                                station_id="kotwali")
    finally:
        await state.close()


async def _device(url: str, home: Path, officer: str = "si.sharma") -> FieldReplica:
    replica = await FieldReplica.create(
        home, PASSPHRASE, officer_id=officer, station_id=UNASSIGNED, beat_id="beat-3"
    )
    await replica.enrol(url, password=PASSWORD, device_name=home.name)
    return replica


async def _all_docs(replica: FieldReplica) -> list[dict[str, Any]]:
    rows = (await replica.db.all_docs(include_docs=True))["rows"]
    return [row["doc"] for row in rows]


async def _timed_sync(replica: FieldReplica, link: LinkProxy, up: float, out: Figures) -> None:
    link.shape(round_trip=RTT, down_bps=DOWN, up_bps=up)
    link.reset_traffic()
    started = time.monotonic()
    report = await replica.sync()
    out.add(time.monotonic() - started, link)
    link.shape(round_trip=0, down_bps=None, up_bps=None)
    assert report.refused == (), report.refused


async def _pouchdb(
    link: LinkProxy, direct: str, scenario: str, keep_alive: bool, docs: Path | None,
    offset: int, out: Figures,
) -> None:
    go = Path(tempfile.mkdtemp(prefix="bench-link-go-")) / "go"
    process = await asyncio.create_subprocess_exec(
        "node", str(ROOT / "bench" / "pouchdb_link.js"), f"{link.url}/pouch", direct,
        scenario, "1" if keep_alive else "0", str(docs or "-"), str(offset), str(go),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    try:
        ready = await asyncio.wait_for(process.stdout.readline(), 600)
        if ready.strip() != b"ready":
            raise RuntimeError(f"pouchdb_link.js: {ready!r}")
        link.shape(round_trip=RTT, down_bps=DOWN, up_bps=PUSH_UP if scenario == "push" else UP)
        link.reset_traffic()
        go.touch()
        line = await asyncio.wait_for(process.stdout.readline(), 900)
        if not line.strip():  # it failed (its error is on stderr): no figure for this run
            print(f"PouchDB {scenario} (keep-alive {keep_alive}) failed", flush=True)
            return
        out.add(float(orjson.loads(line)["seconds"]), link)
    finally:
        link.shape(round_trip=0, down_bps=None, up_bps=None)
        if process.returncode is None:
            await process.wait()
        shutil.rmtree(go.parent, ignore_errors=True)


async def main(records: int, runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-link-") as tmp:
        work = Path(tmp)
        await _provision(work / "gw")
        async with serve_gateway(work / "gw") as gateway_url:
            with pouchdb_server(work / "pouch") as pouch_url:
                await _run(work, gateway_url, pouch_url, records, runs)


async def _run(work: Path, gateway_url: str, pouch_url: str, records: int, runs: int) -> None:
    gw_port = int(gateway_url.rsplit(":", 1)[1])
    pouch_port = int(pouch_url.rsplit(":", 1)[1])
    ours = {name: Figures() for name in SCENARIOS}
    pouch = {(name, ka): Figures() for name in SCENARIOS for ka in (True, False)}
    gz: dict[str, int] = {}
    async with LinkProxy(gw_port) as gw_link, LinkProxy(pouch_port) as pouch_link:
        desk = await _device(gateway_url, work / "desk", "so.verma")
        await desk.save_records(visitor() for _ in range(records))
        await desk.sync()
        async with HttpDatabase(f"{pouch_url}/pouch") as target, HttpDatabase(
            gateway_url.replace("://", f"://so.verma:{PASSWORD}@") + f"/{DB}"
        ) as source:
            await target.create()
            await replicate(source, target)
        print(f"{records} station records ({2 * records} docs with journals) loaded", flush=True)
        for run in range(runs):
            # 1. a fresh device pulls everything
            fresh = await _device(gw_link.url, work / f"fresh-{run}")
            await _timed_sync(fresh, gw_link, UP, ours["pull"])
            gz["pull"] = _gz(_records(await _all_docs(fresh)))
            await fresh.close()
            for ka in (True, False):
                await _pouchdb(pouch_link, f"{pouch_url}/pouch", "pull", ka, None, 0,
                               pouch[("pull", ka)])
            # 2. push 50 records made offline (the device is in step first)
            device = await _device(gw_link.url, work / f"device-{run}")
            await device.sync()
            before = {d["_id"] for d in await _all_docs(device)}
            await device.save_records(complaint(f"Complaint {n}.") for n in range(PUSHED))
            new = [d for d in await _all_docs(device) if d["_id"] not in before]
            gz["push"], gz["push_with_journals"] = _gz(_records(new)), _gz(new)
            await _timed_sync(device, gw_link, PUSH_UP, ours["push"])
            docs_file = work / f"push-{run}.json"
            docs_file.write_bytes(orjson.dumps(
                [{k: v for k, v in d.items() if k not in ("_rev", "_revisions")} for d in new]
            ))
            for ka in (True, False):
                await _pouchdb(pouch_link, f"{pouch_url}/pouch", "push", ka, docs_file, 0,
                               pouch[("push", ka)])
            # 3. nothing to do
            await _timed_sync(device, gw_link, UP, ours["noop"])
            for ka in (True, False):
                await _pouchdb(pouch_link, f"{pouch_url}/pouch", "noop", ka, None, 0,
                               pouch[("noop", ka)])
            # 4. 20 records edited on both sides (another device of the officer, and this one)
            other = await _device(gateway_url, work / f"other-{run}")
            await other.sync()
            mine = [d for d in new if d["_id"] in {x["_id"] for x in _records(new)}][:EDITED]
            for doc in mine:
                theirs = await other.get_record(doc["_id"])
                await other.save_record({**theirs, "description": "Edited at the station."})
                here = await device.get_record(doc["_id"])
                await device.save_record({**here, "description": "Edited on the tablet."})
            await other.sync()
            edited = [d for d in await _all_docs(device) if d["_id"] in {m["_id"] for m in mine}]
            gz["conflict"] = 2 * _gz(edited)
            await _timed_sync(device, gw_link, UP, ours["conflict"])
            for ka in (True, False):
                await _pouchdb(pouch_link, f"{pouch_url}/pouch", "conflict", ka, None,
                               run * EDITED, pouch[("conflict", ka)])
            await other.close()
            await device.close()
            print(f"run {run + 1} of {runs} done", flush=True)
        await desk.close()
    _print(ours, pouch, gz, records)


def _floor(scenario: str, gz: dict[str, int]) -> float:
    bandwidth = PUSH_UP if scenario == "push" else DOWN
    return 2 * RTT + gz.get(scenario, 0) * 8 / bandwidth


def _print(ours: dict[str, Figures], pouch: dict[tuple[str, bool], Figures],
           gz: dict[str, int], records: int) -> None:
    names = {"pull": f"fresh device pulls {records} records", "push": f"push {PUSHED} records",
             "noop": "two-way sync, nothing to do", "conflict": f"{EDITED} edited on both sides"}
    print(f"\nlink: {RTT * 1000:.0f} ms round trip, {DOWN // 1000} kbit/s"
          f" ({PUSH_UP // 1000} up for the push); medians; bytes are TCP bytes each way")
    print(f"{'scenario':34} {'client':22} {'s':>7} {'req':>5} {'kB up':>8} {'kB down':>8}"
          f" {'x floor':>8}")
    for scenario in SCENARIOS:
        floor = _floor(scenario, gz)
        rows = [("BeatSync -> gateway", ours[scenario]),
                ("PouchDB 9 keep-alive", pouch[(scenario, True)]),
                ("PouchDB 9 no keep-alive", pouch[(scenario, False)])]
        for label, f in rows:
            seconds = _median(f.seconds)
            print(f"{names[scenario]:34} {label:22} {seconds:7.2f} {_median(f.requests):5.0f}"
                  f" {_median(f.up) / 1000:8.1f} {_median(f.down) / 1000:8.1f}"
                  f" {seconds / floor:8.2f}")
        print(f"{'':34} {'floor':22} {floor:7.2f}")
    up = _median(ours["push"].up)
    journals = gz["push_with_journals"] / 1000
    print(f"\npush: {up / 1000:.1f} kB up for {gz['push'] / 1000:.1f} kB of gzipped records"
          f" ({up / gz['push']:.2f}x; {journals:.1f} kB with their journals)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.runs))
    sys.exit(0)
