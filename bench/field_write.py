"""Write cost of the officer's encrypted replica, against the same pipeline unencrypted.

Prints figures; it is not a test. For the same realistic records
(``schemas.samples``: complaints, visitor entries, verification visits,
Hindi and English, 0.5-2 KB each), on real SQLite files:

1. latency of recording one record as the CLI does (migrate + validate +
   sign + journal entry + seal + one transaction), p50 / p99 / mean;
2. bulk import rate (``FieldReplica.save_records`` in batches, one
   transaction per batch);

each with the AES-256-GCM codec and with the plain codec, so the ratio is the
cost of encryption alone (target: under 1.30);

3. ``beatsync import`` (``field_client.importing.import_register``: parse the
   JSON Lines file, derive the import ids, check which exist, then 1.) of the
   same records into a fresh encrypted replica: a first import, the same
   import again (everything skipped) and a dry run, in records/s.

usage: python -m bench.field_write [--records 10000] [--batch 500] [--import-only]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Awaitable, Sequence
from pathlib import Path
from typing import Any

import orjson

from field_client import keys
from field_client.importing import import_register
from field_client.replica import FieldReplica
from field_client.settings import Settings
from schemas.samples import sample_records
from sync.codec import BodyCodec, PlainCodec
from sync.sqlite import SQLiteDatabase

STATION, BEAT = "kotwali", "beat-3"
WARM_UP = 500


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


def _summary(latencies: list[float], bulk_seconds: float, n: int) -> dict[str, float]:
    latencies = sorted(latencies)
    return {
        "p50_ms": 1000 * _percentile(latencies, 0.50),
        "p99_ms": 1000 * _percentile(latencies, 0.99),
        "mean_ms": 1000 * statistics.fmean(latencies),
        "rate": len(latencies) / sum(latencies),
        "bulk_rate": n / bulk_seconds,
    }


async def _timed(work: Awaitable[object]) -> float:
    start = time.perf_counter()
    await work
    return time.perf_counter() - start


async def main(n: int, batch: int) -> None:
    records = _records(n + WARM_UP)
    names = ("plain", "encrypted")
    latencies: dict[str, list[float]] = {name: [] for name in names}
    bulk_seconds = dict.fromkeys(names, 0.0)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        single = {
            "plain": await _replica(workdir, "plain-single", PlainCodec()),
            "encrypted": await _replica(workdir, "encrypted-single", None),
        }
        bulk = {
            "plain": await _replica(workdir, "plain-bulk", PlainCodec()),
            "encrypted": await _replica(workdir, "encrypted-bulk", None),
        }
        try:
            # Warm up (schema compilation, SQLite caches) outside the figures.
            for name in names:
                for record in records[:WARM_UP]:
                    await single[name].save_record(record)
            # The two stores take turns, record by record and batch by batch, so
            # both see the same machine load (this box is shared).
            timed, records = records[WARM_UP:], records[:n]
            for i, record in enumerate(timed):
                order = names if i % 2 else names[::-1]
                for name in order:
                    latencies[name].append(await _timed(single[name].save_record(record)))
            for i in range(0, n, batch):
                order = names if (i // batch) % 2 else names[::-1]
                for name in order:
                    bulk_seconds[name] += await _timed(
                        bulk[name].save_records(records[i : i + batch])
                    )
        finally:
            for replica in (*single.values(), *bulk.values()):
                await replica.close()
    results = {name: _summary(latencies[name], bulk_seconds[name], n) for name in names}
    plain, sealed = results["plain"], results["encrypted"]
    print(
        f"{n} records timed one by one (after {WARM_UP} warm-up), {n} in bulk batches"
        f" of {batch}; one record = migrate + validate + sign + journal entry + seal + write"
    )
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


async def import_rates(n: int, batch: int) -> None:
    """Records/s of ``beatsync import`` minus the screen: first run, re-run, dry run."""
    register = b"".join(
        orjson.dumps(r) + b"\n"
        for r in sample_records(n, seed=11, station_id=STATION, beat_ids=(BEAT,))
    )
    with tempfile.TemporaryDirectory() as tmp:
        replica = await _replica(Path(tmp), "import", None)
        try:
            for label, dry_run in (("dry run", True), ("import", False), ("re-import", False)):
                start = time.perf_counter()
                result = await import_register(replica, register, dry_run=dry_run, batch_size=batch)
                seconds = time.perf_counter() - start
                print(
                    f"{label:10} {n} records in {seconds:6.2f} s = {n / seconds:7.0f} records/s"
                    f" (imported {result.imported}, already {result.already_imported},"
                    f" refused {result.refused})"
                )
        finally:
            await replica.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--import-only", action="store_true", help="only part 3")
    args = parser.parse_args()
    if not args.import_only:
        asyncio.run(main(args.records, args.batch))
    asyncio.run(import_rates(args.records, args.batch))
