"""Benchmark: does one hostile client stall or starve the others? (issue 14)

For each attack, a fresh ``beatsync-server serve`` process (so its memory is its
own) is attacked from a process of its own, in a bounded loop for ``--seconds``,
while, at the same time,
a prober asks ``/_up`` every 50 ms and an enrolled device syncs over and over
(``bench.gateway_devices.sync_once``: checkpoint, _revs_diff, _bulk_docs,
_changes, _bulk_get). Prints per attack: p99 of ``/_up`` and of one sync, the
gateway's peak RSS (VmHWM), and what the attack itself got back. Target:
p99 < 200 ms and peak RSS < 400 MiB under every attack.

    python3 -m bench.attacks                          # this tree only
    python3 -m bench.attacks --before /work/main      # and the same against another checkout
    python3 -m bench.attacks --attack regex --seconds 10

Attacks (each bounded: a fixed number of concurrent loops, for --seconds):
  gzip-bomb    1 MiB of gzip that inflates to 1 GiB, to /_up and /_beatsync/enrol (2 loops)
  regex        _changes?filter=_selector {"_id": {"$regex": "^(a|aa)+$"}}, a 36-char id (2 loops)
  bulk-get     _bulk_get?attachments=true listing a doc with a 1 MiB photo 200 times (4 loops)
  slowloris    500 sockets trickling header lines, one a second (the column says how
               many the gateway still held at the end; its header timeout is 15 s)
  bad-input    since=2^64, a selector 500 deep, a 10 KB URL, in turn (counts 5xx)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import dataclasses
import multiprocessing
import random
import shutil
import statistics
import tempfile
import time
import zlib
from collections import Counter
from collections.abc import Awaitable, Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.common import gateway_process
from bench.gateway_devices import SimDevice, outbox, provision, sync_once
from schemas.samples import sample_record
from tests.peers import ROOT

PASSWORD = "bench-password"  # bench.gateway_devices' officers
PROBE_EVERY_S = 0.05
SLOW_SOCKETS = 500
# The slowloris run lasts past the gateway's default header timeout (15 s).
SLOWLORIS_SECONDS = 20.0
CLIENT_TIMEOUT = aiohttp.ClientTimeout(total=60)
TARGET_P99_MS = 200
TARGET_RSS_MIB = 400


@dataclass
class Figures:
    up_ms: list[float] = field(default_factory=list)
    sync_ms: list[float] = field(default_factory=list)
    sync_errors: int = 0
    attack: Counter[str] = field(default_factory=Counter)
    peak_rss_mib: float = 0.0


def p99(values: list[float]) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def gzip_bomb(inflated_mib: int = 1024) -> bytes:
    deflate = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = bytes(1 << 20)
    return b"".join([*(deflate.compress(zeros) for _ in range(inflated_mib)), deflate.flush()])


@dataclass(frozen=True)
class Target:
    """Who attacks what: plain values, so the attack runs in a process of its own
    (an attacker parsing 1 MB answers in this process would slow the honest
    clients measured here, not the gateway)."""

    base: str
    station_id: str
    beat_id: str
    officer_id: str
    photo_entry: tuple[tuple[str, str], ...] = ()


class Attacker:
    """The attacks, against one gateway, as the beat officer of the device's beat."""

    def __init__(self, http: aiohttp.ClientSession, target: Target) -> None:
        self.http, self.target, self.base = http, target, target.base
        self.db = f"{target.base}/station-{target.station_id}"
        raw = base64.b64encode(f"{target.officer_id}:{PASSWORD}".encode()).decode()
        self.auth = {"Authorization": f"Basic {raw}"}
        self.photo_entry = dict(target.photo_entry)

    async def _record(self, seed: int, **extra: Any) -> dict[str, Any]:
        doc = sample_record(
            random.Random(seed), "visitor_entry", station_id=self.target.station_id,
            beat_ids=[self.target.beat_id], officer=self.target.officer_id,
        )
        doc.update(extra)
        async with self.http.post(
            f"{self.db}/_bulk_docs", json={"docs": [doc]}, headers=self.auth
        ) as answer:
            (result,) = await answer.json()
        if not result.get("ok"):
            raise RuntimeError(f"could not store the attack's record: {result}")
        return {"id": doc["_id"], "rev": result["rev"]}

    async def prepare(self) -> Target:
        """Store the records the attacks aim at: a 36-character id for the regex,
        a record with a 1 MiB photo for _bulk_get."""
        await self._record(1, _id="a" * 35 + "b")
        photo = base64.b64encode(random.Random(2).randbytes(1 << 20)).decode()
        entry = await self._record(
            3, _attachments={"photo.jpg": {"content_type": "image/jpeg", "data": photo}}
        )
        return dataclasses.replace(self.target, photo_entry=tuple(entry.items()))

    async def _send(self, method: str, url: str, tally: Counter[str], **kw: Any) -> None:
        try:
            async with self.http.request(method, url, **kw) as answer:
                await answer.read()
                tally[str(answer.status)] += 1
        except (aiohttp.ClientError, TimeoutError) as exc:
            tally[type(exc).__name__] += 1

    async def gzip_bomb(self, bomb: bytes, tally: Counter[str], turn: int) -> None:
        path = ("/_up", "/_beatsync/enrol")[turn % 2]
        method = "GET" if path == "/_up" else "POST"
        headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        await self._send(method, self.base + path, tally, data=bomb, headers=headers)

    async def regex(self, tally: Counter[str], turn: int) -> None:
        selector = {"_id": {"$regex": "^(a|aa)+$"}}
        await self._send(
            "POST", f"{self.db}/_changes?filter=_selector", tally,
            json={"selector": selector}, headers=self.auth,
        )

    async def bulk_get(self, tally: Counter[str], turn: int) -> None:
        await self._send(
            "POST", f"{self.db}/_bulk_get?attachments=true", tally,
            json={"docs": [self.photo_entry] * 200}, headers=self.auth,
        )

    async def bad_input(self, tally: Counter[str], turn: int) -> None:
        deep = b'{"selector": ' + b'{"$and": [' * 500 + b"{}" + b"]}" * 500 + b"}"
        calls: list[tuple[str, str, dict[str, Any]]] = [
            ("GET", f"{self.db}/_changes?since={2**64}", {}),
            ("POST", f"{self.db}/_changes?filter=_selector",
             {"data": deep, "headers": {**self.auth, "Content-Type": "application/json"}}),
            ("GET", f"{self.db}/{'a' * 10_000}", {}),
        ]
        method, url, kw = calls[turn % len(calls)]
        await self._send(method, url, tally, **{"headers": self.auth, **kw})


async def slowloris(base: str, seconds: float, tally: Counter[str]) -> None:
    """Open SLOW_SOCKETS connections, send one header line a second on each, never
    finish; counts how many the gateway closed and how many it still held."""
    host, port = base.removeprefix("http://").split(":")
    sockets = []
    for _ in range(SLOW_SOCKETS):
        try:
            sockets.append(await asyncio.open_connection(host, int(port)))
        except OSError:
            tally["refused"] += 1
    closed = 0

    async def watch(reader: asyncio.StreamReader) -> None:
        nonlocal closed
        with contextlib.suppress(OSError):
            await reader.read()
        closed += 1

    watchers = [asyncio.create_task(watch(reader)) for reader, _ in sockets]
    for _reader, writer in sockets:
        writer.write(b"GET /_up HTTP/1.1\r\nHost: x\r\n")
    deadline = time.perf_counter() + seconds
    line = 0
    while time.perf_counter() < deadline:
        await asyncio.sleep(1)
        line += 1
        for _reader, writer in sockets:
            if not writer.is_closing():
                writer.write(f"X-Slow-{line}: 1\r\n".encode())
    tally["closed by gateway"] = closed
    tally["held at end"] = len(sockets) - closed
    for _reader, writer in sockets:
        writer.close()
    for task in watchers:
        task.cancel()
    await asyncio.gather(*watchers, return_exceptions=True)


async def probe_up(
    http: aiohttp.ClientSession, base: str, stop: asyncio.Event, out: Figures
) -> None:
    while not stop.is_set():
        started = time.perf_counter()
        try:
            async with http.get(f"{base}/_up") as answer:
                await answer.read()
        except (aiohttp.ClientError, TimeoutError):
            pass
        out.up_ms.append(1000 * (time.perf_counter() - started))
        await asyncio.sleep(PROBE_EVERY_S)


async def keep_syncing(
    http: aiohttp.ClientSession, base: str, device: SimDevice, stop: asyncio.Event, out: Figures
) -> None:
    docs = outbox(device, random.Random(7))
    while not stop.is_set():
        started = time.perf_counter()
        try:
            await sync_once(http, base, device, docs)
        except Exception:  # every failure is a counted error
            out.sync_errors += 1
        out.sync_ms.append(1000 * (time.perf_counter() - started))
        await asyncio.sleep(PROBE_EVERY_S)


async def loop_for(seconds: float, attack: Callable[[int], Awaitable[None]], loops: int) -> None:
    deadline = time.perf_counter() + seconds

    async def one(start: int) -> None:
        turn = start
        while time.perf_counter() < deadline:
            await attack(turn)
            turn += loops

    await asyncio.gather(*(one(i) for i in range(loops)))


async def _attack(name: str, target: Target, seconds: float, bomb: bytes) -> Counter[str]:
    tally: Counter[str] = Counter()
    async with aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as http:
        attacker = Attacker(http, target)
        match name:
            case "none":
                await asyncio.sleep(seconds)
            case "gzip-bomb":
                await loop_for(seconds, lambda t: attacker.gzip_bomb(bomb, tally, t), 2)
            case "regex":
                await loop_for(seconds, lambda t: attacker.regex(tally, t), 2)
            case "bulk-get":
                await loop_for(seconds, lambda t: attacker.bulk_get(tally, t), 4)
            case "slowloris":
                await slowloris(target.base, max(seconds, SLOWLORIS_SECONDS), tally)
            case "bad-input":
                await loop_for(seconds, lambda t: attacker.bad_input(tally, t), 2)
    return tally


def attack_in_child(name: str, target: Target, seconds: float, bomb: bytes) -> Counter[str]:
    return asyncio.run(_attack(name, target, seconds, bomb))


async def run_attack(
    name: str,
    template: Path,
    device: SimDevice,
    root: Path,
    seconds: float,
    bomb: bytes,
    attackers: ProcessPoolExecutor,
) -> Figures:
    data = Path(tempfile.mkdtemp(prefix="beatsync-attacks-"))
    shutil.copytree(template, data, dirs_exist_ok=True)
    figures = Figures()
    try:
        async with (
            gateway_process(data, root=root) as (base, process),
            aiohttp.ClientSession(timeout=CLIENT_TIMEOUT) as http,
        ):
            target = Target(base, device.station_id, device.beat_id, device.officer_id)
            target = await Attacker(http, target).prepare()
            stop = asyncio.Event()
            honest = [
                asyncio.create_task(probe_up(http, base, stop, figures)),
                asyncio.create_task(keep_syncing(http, base, device, stop, figures)),
            ]
            loop = asyncio.get_running_loop()
            figures.attack = await loop.run_in_executor(
                attackers, attack_in_child, name, target, seconds, bomb
            )
            stop.set()
            await asyncio.gather(*honest)
            figures.peak_rss_mib = peak_rss_mib(process.pid)
    finally:
        shutil.rmtree(data, ignore_errors=True)
    return figures


ATTACKS = ["none", "gzip-bomb", "regex", "bulk-get", "slowloris", "bad-input"]


def _row(name: str, tree: str, f: Figures) -> str:
    up, sync = p99(f.up_ms), p99(f.sync_ms)
    ok = up < TARGET_P99_MS and sync < TARGET_P99_MS and f.peak_rss_mib < TARGET_RSS_MIB
    answers = ", ".join(f"{k}: {v}" for k, v in sorted(f.attack.items())) or "-"
    return (
        f"{name:10} {tree:7} {up:>9.0f} {sync:>10.0f} {statistics.median(f.sync_ms or [0]):>9.0f}"
        f" {f.sync_errors:>7} {f.peak_rss_mib:>9.0f}  {'yes' if ok else 'NO ':3}  {answers}"
    )


async def main_async(args: argparse.Namespace) -> None:
    template = Path(tempfile.mkdtemp(prefix="beatsync-attacks-template-"))
    try:
        (device,) = (await provision(template, 1))[:1]
        bomb = gzip_bomb() if "gzip-bomb" in args.attack else b""
        trees = [("before", args.before)] if args.before else []
        trees.append(("after", ROOT))
        print(f"each attack {args.seconds:.0f} s (slowloris {SLOWLORIS_SECONDS:.0f} s); "
              f"target p99 < {TARGET_P99_MS} ms, peak RSS < {TARGET_RSS_MIB} MiB")
        print(f"{'attack':10} {'tree':7} {'_up p99':>9} {'sync p99':>10} {'sync p50':>9}"
              f" {'errors':>7} {'RSS MiB':>9}  met  attack's answers")
        spawn = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=1, mp_context=spawn) as attackers:
            for name in args.attack:
                for tree, root in trees:
                    figures = await run_attack(
                        name, template, device, root, args.seconds, bomb, attackers
                    )
                    print(_row(name, tree, figures), flush=True)
    finally:
        shutil.rmtree(template, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each attack")
    parser.add_argument(
        "--attack", action="append", choices=ATTACKS, help="repeatable; default: all"
    )
    parser.add_argument(
        "--before", type=Path, help="another source tree (e.g. /work/main) to run the gateway from"
    )
    args = parser.parse_args()
    args.attack = args.attack or ATTACKS
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()
