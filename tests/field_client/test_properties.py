"""Property: any interleaving of offline edits and syncs between two devices converges.

After a final sync both replicas hold the same records with the same winners
and conflicts, and the merged journal holds every edit ever made, each
device's chain unbroken.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from field_client.replica import FieldReplica
from sync import journal
from tests.field_client.support import PASSPHRASE, complaint

# New record on a side, edit the n-th known record on a side, or sync.
_OPS = st.lists(
    st.one_of(
        st.tuples(st.just("new"), st.sampled_from("ab")),
        st.tuples(st.just("edit"), st.sampled_from("ab"), st.integers(0, 5)),
        st.tuples(st.just("sync")),
    ),
    max_size=12,
)


async def _state(replica: FieldReplica) -> dict[str, Any]:
    docs = await replica.list_records()
    full = [await replica.get_record(d["_id"]) for d in docs]
    return {d["_id"]: (d["_rev"], sorted(d.get("_conflicts", []))) for d in full}


async def _run(ops: list[tuple[Any, ...]], root: Path) -> None:
    # A cheap scrypt cost here: key wrapping is not what this property is about.
    sides = {
        name: await FieldReplica.create(
            root / name,
            PASSPHRASE,
            officer_id=f"officer-{name}",
            station_id="kotwali",
            beat_id="beat-3",
            role="station_officer",
            scrypt_n=2**10,
        )
        for name in "ab"
    }
    a, b = sides["a"], sides["b"]
    saves = 0
    try:
        for op in ops:
            if op[0] == "sync":
                await a.sync(b.db)
                continue
            replica = sides[op[1]]
            known = await replica.list_records()
            if op[0] == "new" or not known:
                await replica.save_record(complaint(f"Complaint number {saves}."))
            else:
                old = await replica.get_record(known[op[2] % len(known)]["_id"])
                await replica.save_record({**old, "description": f"Edit number {saves}."})
            saves += 1
        await a.sync(b.db)
        assert await _state(a) == await _state(b)
        entries = await a.journal()
        assert len(entries) == saves
        assert journal.verify_chain(entries) == []
        assert (await a.status()).conflicts == (await b.status()).conflicts
        assert (await a.status()).pending_records == 0
    finally:
        await a.close()
        await b.close()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=_OPS)
def test_two_devices_converge_and_keep_every_edit(ops: list[tuple[Any, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        asyncio.run(_run(ops, Path(tmp)))
