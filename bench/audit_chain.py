"""What the audit log's hash chain costs: per entry appended, per entry verified.

Prints figures; it is not a test. Every accepted write adds an audit entry
that names the hash of the one before and carries the gateway's Ed25519
signature (``server.state.audit_chain``); ``beatsync-server audit verify``
walks every chain. For N entries (the bodies of sample records, appended 100
at a time as a push hands them over), on each backend:

* chain only: linking (SHA-256 over canonical JSON, one signature) and
  walking (``verify_chains``: hashes, signatures, order) in memory;
* append: ``state.append`` into the real store, chain and write together;
* verify: ``verify_audit`` reading the store and walking it.

CPU is this process's (the store's worker thread included); over CouchDB
(pouchdb-server standing in, unless BEATSYNC_TEST_COUCHDB names a real one)
the server's own CPU is not in it, so wall time is printed too.

    python3 -m bench.audit_chain [--entries 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.samples import sample_records
from server.config import GatewayConfig
from server.gateway.app import open_state
from server.state.audit_chain import AuditSigner, ChainedEntry, ChainHead, verify_chains
from server.state.audit_verify import verify_audit
from server.state.interface import GatewayState
from server.state.models import NewAuditEntry, audit_fields
from tests.server.couch_support import central_state, couch_server, provision

BATCH = 100


def _entries(n: int) -> list[NewAuditEntry]:
    records = sample_records(min(n, 2000), seed=13)
    return [
        NewAuditEntry(
            db="station-kotwali",
            doc_id=f"{records[i % len(records)]['_id']}-{i}",
            rev=f"1-{i:032x}",
            officer_id="bo-kotwali-bazaar",
            device_id="dev-bench",
            record_type=records[i % len(records)]["type"],
            deleted=False,
            signed="verified",
            signer="dev-bench",
            body=records[i % len(records)],
        )
        for i in range(n)
    ]


async def _timed(work: Callable[[], Awaitable[Any]]) -> tuple[float, float, Any]:
    """``(CPU s, wall s, result)`` of ``work()``."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = await work()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def _row(name: str, n: int, cpu: float, wall: float) -> None:
    print(f"{name:44} {1e6 * cpu / n:>10.0f} {1e6 * wall / n:>10.0f} {n / wall:>12.0f}")


async def chain_only(entries: list[NewAuditEntry]) -> None:
    """Linking and walking in memory: the chain's own cost, no store."""
    signer = AuditSigner(Ed25519PrivateKey.generate())
    head = ChainHead(signer, signer.fingerprint, None)
    now = "2026-12-04T01:00:00Z"

    async def link() -> list[ChainedEntry]:
        chained = []
        for seq, entry in enumerate(entries, start=1):
            fields = audit_fields(entry, now)
            chained.append(ChainedEntry(str(seq), seq, fields, head.link(fields)))
        return chained

    cpu, wall, chained = await _timed(link)
    _row("chain only: link (hash + sign)", len(entries), cpu, wall)
    keys = {signer.fingerprint: signer.public}

    async def walk() -> Any:
        return verify_chains(chained, keys, {})

    cpu, wall, report = await _timed(walk)
    if not report.intact:
        raise RuntimeError(f"the chain does not verify: {report.problems[:3]}")
    _row("chain only: verify_chains", len(entries), cpu, wall)


async def on_store(name: str, state: GatewayState, entries: list[NewAuditEntry]) -> None:
    async def append() -> None:
        for i in range(0, len(entries), BATCH):
            await state.append(entries[i : i + BATCH])

    cpu, wall, _ = await _timed(append)
    _row(f"{name}: append, {BATCH} a batch", len(entries), cpu, wall)
    cpu, wall, report = await _timed(lambda: verify_audit(state))
    if not report.intact:
        raise RuntimeError(f"{name}: the chain does not verify: {report.problems[:3]}")
    _row(f"{name}: verify_audit (read + walk)", len(entries), cpu, wall)


async def main(n: int) -> None:
    entries = _entries(n)
    print(f"{os.cpu_count()} cores; {n} audit entries (sample record bodies)")
    print(f"{'':44} {'CPU µs/e':>10} {'wall µs/e':>10} {'entries/s':>12}")
    await chain_only(entries)
    with tempfile.TemporaryDirectory() as tmp:
        state = await open_state(GatewayConfig(data_dir=Path(tmp)))
        try:
            await on_store("embedded (SQLite)", state, entries)
        finally:
            await state.close()
        with couch_server(Path(tmp) / "couch") as couch_url:
            await provision(couch_url)
            couch = central_state(couch_url)
            try:
                await on_store("CouchDB backend", couch, entries)
            finally:
                await couch.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=5000)
    asyncio.run(main(parser.parse_args().entries))
