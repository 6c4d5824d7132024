"""Write cost of the officer's encrypted replica, against the same pipeline unencrypted.

Prints figures; it is not a test. For the same realistic records
(``schemas.samples``: complaints, visitor entries, verification visits,
Hindi and English, 0.5-2 KB each), on real SQLite files:

1. latency of recording one record as the CLI does (migrate + validate +
   sign + journal entry + seal + one transaction), p50 / p99 / mean;
2. bulk import rate (``FieldReplica.save_records`` in batches, one
   transaction per batch);

each with the AES-256-GCM codec and with the plain codec, so the ratio is the
cost of encryption alone (target: under 1.30).

usage: python -m bench.field_write [--records 10000] [--batch 500]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from field_client import keys
from field_client.replica import FieldReplica
from field_client.settings import Settings
from schemas.samples import sample_records
from sync.codec import BodyCodec, PlainCodec
from sync.sqlite_store import SQLiteDatabase

STATION, BEAT = "kotwali", "beat-3"


def _records(n: int) -> list[dict[str, Any]]:
    # Fresh records: the device makes the ids, as it does for the officer.
    records = sample_records(n, seed=7, station_id=STATION, beat_ids=(BEAT,))
    return [{k: v for k, v in r.items() if k != "_id"} for r in records]


async def _replica(workdir: Path, name: str, codec: BodyCodec | None) -> FieldReplica:
    home = workdir / name
    home.mkdir()
    keyring = keys.create_keyfile(home / "keys.json", "benchmark passphrase")
    settings = Settings(
        officer_id="officer-17",
        device_id=f"dev-{name}",
        station_id=STATION,
        beat_id=BEAT,
        db_name=f"station-{STATION}",
        role="station_officer",
    )
    db = await SQLiteDatabase.open(home / "replica.sqlite3", codec=codec or keyring.codec)
    return FieldReplica(home, settings, keyring, db)


def _percentile(sorted_values: Sequence[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(fraction * len(sorted_values)))]


async def _one_by_one(replica: FieldReplica, records: list[dict[str, Any]]) -> dict[str, float]:
    latencies = []
    for record in records:
        start = time.perf_counter()
        await replica.save_record(record)
        latencies.append(time.perf_counter() - start)
    latencies.sort()
    return {
        "p50_ms": 1000 * _percentile(latencies, 0.50),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
        "mean_ms": 1000 * statistics.fmean(latencies),
        "rate": len(latencies) / sum(latencies),
    }


async def _bulk(replica: FieldReplica, records: list[dict[str, Any]], batch: int) -> float:
    start = time.perf_counter()
    for i in range(0, len(records), batch):
        await replica.save_records(records[i : i + batch])
    return len(records) / (time.perf_counter() - start)


async def main(n: int, batch: int) -> None:
    records = _records(n)
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name, codec in (("plain", PlainCodec()), ("encrypted", None)):
            single = await _replica(workdir, f"{name}-single", codec)
            bulk = await _replica(workdir, f"{name}-bulk", codec)
            try:
                results[name] = await _one_by_one(single, records)
                results[name]["bulk_rate"] = await _bulk(bulk, records, batch)
            finally:
                await single.close()
                await bulk.close()
    plain, sealed = results["plain"], results["encrypted"]
    print(f"{n} records, bulk batches of {batch}; one record = validate + sign + journal + write")
    print(f"{'':12}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}{'rec/s':>10}{'bulk rec/s':>12}")
    for name, row in results.items():
        print(
            f"{name:12}{row['p50_ms']:10.3f}{row['p99_ms']:10.3f}{row['mean_ms']:10.3f}"
            f"{row['rate']:10.0f}{row['bulk_rate']:12.0f}"
        )
    print(
        f"{'ratio':12}{sealed['p50_ms'] / plain['p50_ms']:10.2f}"
        f"{sealed['p99_ms'] / plain['p99_ms']:10.2f}{sealed['mean_ms'] / plain['mean_ms']:10.2f}"
        f"{'':10}{plain['bulk_rate'] / sealed['bulk_rate']:12.2f}"
        "   (encrypted / plain time; target < 1.30)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.records, args.batch))
