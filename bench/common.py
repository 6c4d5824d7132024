"""What the benchmark scripts share: loading a source, timing a replication,
PouchDB's reference pull, a gateway process, and the table of figures."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from bench.counting_proxy import CountingProxy, Traffic
from sync.database import Database, Doc
from sync.replication import ReplicationResult, replicate
from tests.peers import ROOT, free_port

__all__ = [
    "LOAD_CHUNK",
    "Row",
    "gateway_process",
    "load",
    "pouchdb_pull",
    "print_rows",
    "serve_gateway",
    "timed_replication",
]

LOAD_CHUNK = 1000  # docs per _bulk_docs while loading a source


@dataclass
class Row:
    name: str
    docs: int
    seconds: float
    traffic: Traffic | None = None
    cpu_s: float | None = None  # the client's CPU, where it reports it

    @property
    def rate(self) -> float:
        return self.docs / self.seconds if self.seconds else 0.0


async def load(db: Database, records: list[Doc]) -> None:
    for i in range(0, len(records), LOAD_CHUNK):
        answers = await db.bulk_docs(records[i : i + LOAD_CHUNK])
        if any("error" in a for a in answers):
            raise RuntimeError(f"loading failed: {answers[:3]}")


async def timed_replication(
    source: Database, target: Database, batch_size: int
) -> tuple[ReplicationResult, float]:
    """Replicate ``source`` into ``target`` (closing both afterwards); the result and seconds."""
    try:
        started = time.perf_counter()
        result = await replicate(source, target, batch_size=batch_size)
        return result, time.perf_counter() - started
    finally:
        await source.close()
        await target.close()


async def pouchdb_pull(url: str, proxy: CountingProxy, batch_size: int) -> Row:
    """PouchDB 9 (node, leveldb on disk) pulling ``url``: the reference client."""
    proxy.reset()
    process = await asyncio.create_subprocess_exec(
        "node",
        str(ROOT / "bench" / "pouchdb_pull.js"),
        url,
        str(batch_size),
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"pouchdb_pull.js failed: {err.decode()[-2000:]}")
    figures = json.loads(out)
    return Row(
        f"PouchDB 9, pouchdb-server -> leveldb (batch {batch_size})",
        figures["docs_written"],
        figures["seconds"],
        proxy.reset(),
        figures["cpu_us"] / 1e6 if "cpu_us" in figures else None,
    )


@asynccontextmanager
async def gateway_process(
    data_dir: Path, *extra: str, log: Path | None = None, root: Path = ROOT
) -> AsyncIterator[tuple[str, asyncio.subprocess.Process]]:
    """``beatsync-server serve`` as its own process on loopback, run from the source
    tree ``root`` (another checkout, for before/after figures); yields its URL and
    the process (whose pid tells its memory)."""
    port = free_port()
    with open(log or os.devnull, "ab") as sink:  # noqa: ASYNC230 - before serving
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
            cwd=root,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=sink,
            env={**os.environ, "PYTHONPATH": str(root)},
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
        yield url, process
    finally:
        process.terminate()
        await process.wait()


@asynccontextmanager
async def serve_gateway(data_dir: Path, *extra: str, log: Path | None = None) -> AsyncIterator[str]:
    """``beatsync-server serve`` as its own process on loopback; yields its URL."""
    async with gateway_process(data_dir, *extra, log=log) as (url, _process):
        yield url


def print_rows(rows: list[Row], reference: Row | None) -> None:
    print(
        f"{'run':62} {'docs':>6} {'s':>7} {'docs/s':>8} {'requests':>9} {'KB up':>8} {'KB down':>9}"
    )
    for row in rows:
        t = row.traffic
        http = (
            f"{t.requests:>9} {t.bytes_up / 1024:>8.0f} {t.bytes_down / 1024:>9.0f}"
            if t
            else f"{'-':>9} {'-':>8} {'-':>9}"
        )
        print(f"{row.name:62} {row.docs:>6} {row.seconds:>7.2f} {row.rate:>8.0f} {http}")
    if reference is None or reference.traffic is None:
        return
    print(f"\nratios against {reference.name}:")
    for row in rows:
        if row is reference or row.traffic is None:
            continue
        requests = row.traffic.requests / reference.traffic.requests
        down = row.traffic.bytes_down / max(reference.traffic.bytes_down, 1)
        print(
            f"  {row.name}: {row.rate / reference.rate:.2f}x the docs/s, "
            f"{requests:.2f}x the requests, {down:.2f}x the bytes down"
        )
