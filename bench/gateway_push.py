"""A device pushes N records, then an edit of each, through the CouchDB-backed gateway.

Prints figures; it is not a test. The gateway runs over pouchdb-server (standing
in for CouchDB) behind a counting proxy, so the figure that matters is how many
requests the gateway sends to CouchDB per 100 documents pushed: on a
cluster a few milliseconds away, those round trips set the push's time.

usage: python -m bench.gateway_push [--docs 1000] [--round-trip 0.005]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from bench.counting_proxy import CountingProxy
from tests.server.couch_support import (
    Device,
    StationPlan,
    couch_gateway,
    couch_server,
    provision,
)

PLAN = StationPlan("pushbench")


async def main(n_docs: int, round_trip: float) -> None:
    with tempfile.TemporaryDirectory() as tmp, couch_server(Path(tmp) / "couch") as couch:
        workdir = Path(tmp)
        proxy = CountingProxy(couch, round_trip=round_trip)
        await proxy.start()
        device = await Device.open(PLAN, workdir / "device.sqlite")
        try:
            await provision(proxy.url, PLAN)
            async with couch_gateway(proxy.url, workdir / "gateway") as gateway:
                await device.enrol(gateway)
                ids = await device.record(range(n_docs))
                print(f"{'push':<24} {'docs':>6} {'s':>7} {'CouchDB requests':>17} {'per 100':>8}")
                for phase in ("new records", "an edit of each"):
                    if phase != "new records":
                        for doc_id in ids:
                            await device.edit(doc_id, "Edited offline.")
                    proxy.reset()
                    started = time.perf_counter()
                    result = await device.push(gateway)
                    seconds = time.perf_counter() - started
                    traffic = proxy.reset()
                    if not result.ok or result.docs_written != n_docs:
                        raise RuntimeError(f"{phase}: {result}")
                    print(
                        f"{phase:<24} {n_docs:>6} {seconds:>7.2f} {traffic.requests:>17}"
                        f" {100 * traffic.requests / n_docs:>8.1f}"
                    )
        finally:
            await device.close()
            await proxy.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument(
        "--round-trip",
        type=float,
        default=0.0,
        help="seconds the proxy adds to every gateway -> CouchDB request (a cluster's distance)",
    )
    args = parser.parse_args()
    asyncio.run(main(args.docs, args.round_trip))
