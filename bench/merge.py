"""Time to merge N conflicts among many records over many stations, on the
embedded store and through pouchdb-server (standing in for CouchDB).

Prints figures; it is not a test. Each station database gets its share of
the records (complaints, as written through the gateway: first revisions,
audited with their bodies); a share of them then get two conflicting
replicated edits: most touch different fields (merged), a tenth give the
complainant two different names (queued). Timed: the merge runner's first
pass over every station (reading the whole feed, merging, queueing), then a
second pass (following a feed with nothing new: what the gateway pays at
rest).

usage: python -m bench.merge [--records 10000] [--stations 30] [--conflicts 100]
       python -m bench.merge --full            # 100,000 records, 1,000 conflicts
       python -m bench.merge --backend embedded
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from schemas.samples import sample_record
from server.conflicts.runner import MergeRunner
from server.couch.backend import CouchServer, CouchStationStores
from server.couch.state import CouchGatewayState
from server.state.interface import GatewayState
from server.state.models import NewAuditEntry, station_db_name
from server.state.sqlite import SQLiteGatewayState
from server.state.stations import SQLiteStationStores, StationDatabases
from sync.database import Doc
from sync.revid import new_rev
from sync.revtree import parse_rev
from tests.server.couch_support import bootstrap_stations, couch_server, gateway_couch_url

CHUNK = 1000  # docs per _bulk_docs while loading


def _revision(parent: Doc | None, body: dict[str, Any]) -> Doc:
    rev = new_rev(parent["_rev"] if parent else None, False, body)
    ids = [parse_rev(rev)[1]] + ([parse_rev(parent["_rev"])[1]] if parent else [])
    return {
        **body,
        "_id": body["_id"],
        "_rev": rev,
        "_revisions": {"start": parse_rev(rev)[0], "ids": ids},
    }


def _edit(doc: Doc, at: str, change: Callable[[dict[str, Any]], None]) -> Doc:
    body = copy.deepcopy({k: v for k, v in doc.items() if not k.startswith("_")})
    body["_id"] = doc["_id"]
    body["updated_at"] = at
    body["action_log"] = [
        *body["action_log"],
        {"at": at, "by": body["created_by"], "action": "note"},
    ]
    change(body)
    return _revision(doc, body)


def plan_conflicts(
    records: int, stations: int, conflicts: int
) -> dict[str, tuple[list[Doc], list[Doc]]]:
    """Per station: the first revisions, and the conflicting edits of some of them."""
    rng = random.Random(0)
    out: dict[str, tuple[list[Doc], list[Doc]]] = {}
    for s in range(stations):
        station = f"station{s:02d}"
        n = records // stations + (1 if s < records % stations else 0)
        firsts = []
        for _ in range(n):
            doc = sample_record(
                rng, "complaint", station_id=station, beat_ids=[f"{station}-b"], officer="so-x"
            )
            firsts.append(_revision(None, doc))
        edits: list[Doc] = []
        share = conflicts // stations + (1 if s < conflicts % stations else 0)
        for i, doc in enumerate(firsts[:share]):
            clash = i % 10 == 0

            def first(body: dict[str, Any], clash: bool = clash) -> None:
                body["description"] = "First branch."
                if clash:  # both branches change the name, differently: a fact to queue
                    body["complainant"] = {**body["complainant"], "name": "One name"}

            edits.append(_edit(doc, "2026-01-02T10:00:00+05:30", first))

            def second(body: dict[str, Any], clash: bool = clash) -> None:
                body["complainant"] = {**body["complainant"], "phone": "9123456780"}
                if clash:
                    body["complainant"]["name"] = "A different name"

            edits.append(_edit(doc, "2026-01-02T11:00:00+05:30", second))
        out[station] = (firsts, edits)
    return out


async def load_plan(
    state: GatewayState, stores: StationDatabases, plan: dict[str, tuple[list[Doc], list[Doc]]]
) -> None:
    for station, (firsts, edits) in plan.items():
        store = await stores.get(station)
        for docs in (firsts, edits):
            for i in range(0, len(docs), CHUNK):
                failed = await store.bulk_docs(docs[i : i + CHUNK], new_edits=False)
                if failed:
                    raise RuntimeError(f"loading failed: {failed[:3]}")
        # The gateway audits every accepted revision with its body: the merge's base.
        audit = [
            NewAuditEntry(
                station_db_name(station),
                d["_id"],
                d["_rev"],
                "so-x",
                None,
                "complaint",
                False,
                "unsigned",
                body={k: v for k, v in d.items() if k != "_revisions"},
            )
            for d in firsts[: len(edits) // 2]
        ]
        await state.append(audit)


async def _run(
    name: str,
    state: GatewayState,
    stores: StationDatabases,
    plan: Any,
    conflicts: int,
    records: int,
) -> None:
    started = time.perf_counter()
    await load_plan(state, stores, plan)
    load_s = time.perf_counter() - started
    runner = MergeRunner(state, stores)
    for label in ("first pass", "second pass"):
        started = time.perf_counter()
        reports = [await runner.merge_station(station) for station in plan]
        seconds = time.perf_counter() - started
        merged = sum(len(r.merged) for r in reports)
        queued = sum(len(r.queued) for r in reports)
        rate = f"{(merged + queued) / seconds:.0f}" if merged + queued else "-"
        print(_row(name, label, records, conflicts, merged, queued, f"{seconds:.2f}", rate))
    print(f"{name:<10} (loading the {records} records took {load_s:.1f} s; not part of the merge)")


def _row(*cells: object) -> str:
    widths = (-10, -12, 8, 9, 7, 7, 8, 8)
    return " ".join(
        f"{cell!s:{'<' if w < 0 else '>'}{abs(w)}}" for cell, w in zip(cells, widths, strict=True)
    )


async def embedded(tmp: Path, plan: Any, conflicts: int, records: int) -> None:
    state = await SQLiteGatewayState.open(tmp / "gateway.sqlite")
    stores = SQLiteStationStores(tmp / "stations")
    try:
        await _run("embedded", state, stores, plan, conflicts, records)
    finally:
        await stores.close()
        await state.close()


async def couch(tmp: Path, plan: Any, conflicts: int, records: int) -> None:
    with couch_server(tmp / "couch") as url:
        await bootstrap_stations(url, list(plan))
        server = CouchServer.from_url(gateway_couch_url(url))
        state = CouchGatewayState(server, owns_server=False)
        try:
            await _run("couch", state, CouchStationStores(server), plan, conflicts, records)
        finally:
            await state.close()
            await server.close()


async def main(records: int, stations: int, conflicts: int, backends: list[str]) -> None:
    plan = plan_conflicts(records, stations, conflicts)
    print(_row("backend", "pass", "records", "conflicts", "merged", "queued", "s", "handled/s"))
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            await (embedded if backend == "embedded" else couch)(
                Path(tmp), plan, conflicts, records
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--stations", type=int, default=30)
    parser.add_argument("--conflicts", type=int, default=100)
    parser.add_argument("--full", action="store_true", help="100,000 records, 1,000 conflicts")
    parser.add_argument("--backend", choices=["embedded", "couch", "both"], default="both")
    args = parser.parse_args()
    if args.full:
        args.records, args.conflicts = 100_000, 1_000
    chosen = ["embedded", "couch"] if args.backend == "both" else [args.backend]
    asyncio.run(main(args.records, args.stations, args.conflicts, chosen))
