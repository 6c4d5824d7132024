"""Property: any history of edits and partial replications converges after a full sync.

Several SQLite replicas take random creates, edits (of the winner or of a
losing leaf), deletions and re-creations of a few shared ids, so the same
document is edited concurrently on different replicas, interleaved with
random one-way and two-way replications. Then a ring replication, twice,
must leave every replica with the same winner, ``_conflicts``,
``_deleted_conflicts``, leaves, bodies and histories for every document.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.database import Database
from sync.errors import NotFound
from sync.replication import replicate, sync
from tests.sync.replication.support import snapshot, sqlite_stores

REPLICAS = 4
IDS = ["alpha", "bravo", "charlie"]

replica = st.integers(0, REPLICAS - 1)
doc_id = st.sampled_from(IDS)
value = st.integers(0, 3)  # few values: identical edits on two replicas happen too

edit_ops = st.one_of(
    st.tuples(st.just("write"), replica, doc_id, value),
    st.tuples(st.just("edit_leaf"), replica, doc_id, st.integers(0, 3), value),
    st.tuples(st.just("delete"), replica, doc_id),
)
replication_ops = st.one_of(
    st.tuples(st.just("push"), replica, replica),
    st.tuples(st.just("sync"), replica, replica),
)
histories = st.lists(st.one_of(edit_ops, edit_ops, replication_ops), min_size=1, max_size=25)


async def _write(db: Database, doc_id: str, n: int) -> None:
    """Create, edit the winner, or re-create after a deletion."""
    try:
        current = await db.get(doc_id)
        await db.put({"_id": doc_id, "_rev": current["_rev"], "n": n})
    except NotFound:
        await db.put({"_id": doc_id, "n": n})


async def _edit_leaf(db: Database, doc_id: str, which: int, n: int) -> None:
    """Edit any leaf, a losing or deleted one included (a conflict resolution step)."""
    leaves = sorted(item["ok"]["_rev"] for item in await db.open_revs(doc_id, "all")
                    if "ok" in item)
    if leaves:
        await db.put({"_id": doc_id, "_rev": leaves[which % len(leaves)], "n": n})


async def _delete(db: Database, doc_id: str) -> None:
    try:
        current = await db.get(doc_id)
    except NotFound:
        return
    await db.put({"_id": doc_id, "_rev": current["_rev"], "_deleted": True})


async def _run(history: list[tuple[Any, ...]], directory: Path) -> None:
    names = [f"r{i}" for i in range(REPLICAS)]
    async with sqlite_stores(directory, *names) as dbs:
        for op in history:
            match op:
                case ("write", r, d, n):
                    await _write(dbs[r], d, n)
                case ("edit_leaf", r, d, which, n):
                    await _edit_leaf(dbs[r], d, which, n)
                case ("delete", r, d):
                    await _delete(dbs[r], d)
                case ("push", s, t) if s != t:
                    await replicate(dbs[s], dbs[t], batch_size=2)
                case ("sync", s, t) if s != t:
                    await sync(dbs[s], dbs[t], batch_size=2)
        for _ in range(2):
            for i in range(REPLICAS):
                await replicate(dbs[i], dbs[(i + 1) % REPLICAS])
        expected = await snapshot(dbs[0])
        for db in dbs[1:]:
            assert await snapshot(db) == expected


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories)
def test_replicas_converge_after_a_full_sync(history: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(_run(history, Path(directory)))
