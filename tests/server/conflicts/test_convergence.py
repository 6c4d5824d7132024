"""Two mergers that see the same leaves, in any order, write the same
revisions: two real SQLite stores holding the same conflict, each merged on
its own, end with the same single leaf, and replicating one into the other
adds nothing (a hypothesis property)."""

from __future__ import annotations

import asyncio
import random
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.merge import Leaf, merge_leaves
from server.conflicts.leaves import replacement_docs, revision_doc
from sync.replication import replicate
from sync.sqlite import SQLiteDatabase
from tests.schemas.merge_cases import BASE_REV, Edits, build, leaf_sets

DOC_ID = "c0ffee"


def _stored_leaf(leaf: Leaf) -> dict[str, Any]:
    """The leaf as a child of the base revision, the way a device pushed it."""
    doc = revision_doc(DOC_ID, BASE_REV, leaf.body, deleted=False)
    assert doc["_rev"] == leaf.rev
    return doc


async def _merged_store(path: Path, base: dict[str, Any], leaves: list[Leaf]) -> SQLiteDatabase:
    store = await SQLiteDatabase.open(path)
    root = {**base, "_id": DOC_ID, "_rev": BASE_REV, "_revisions": {"start": 1, "ids": ["a" * 32]}}
    assert await store.bulk_docs([root, *map(_stored_leaf, leaves)], new_edits=False) == []
    rows = await store.open_revs(DOC_ID, "all")
    stored = [Leaf(r["ok"]["_rev"], r["ok"]) for r in rows if "ok" in r]
    result = merge_leaves(stored, base)
    if result.mergeable:
        docs = replacement_docs(DOC_ID, result.parent, result.body, stored)
        assert await store.bulk_docs(docs, new_edits=False) == []
    return store


async def _live(store: SQLiteDatabase) -> list[str]:
    rows = await store.open_revs(DOC_ID, "all")
    return sorted(r["ok"]["_rev"] for r in rows if "ok" in r and not r["ok"].get("_deleted"))


async def _converge(edits: Edits, seed: int) -> None:
    base, leaves = build(edits)
    shuffled = list(leaves)
    random.Random(seed).shuffle(shuffled)
    with tempfile.TemporaryDirectory() as tmp:
        one = await _merged_store(Path(tmp) / "gateway.sqlite", base, leaves)
        other = await _merged_store(Path(tmp) / "other.sqlite", base, shuffled)
        try:
            assert await _live(one) == await _live(other)
            if not merge_leaves(leaves, base).mergeable:
                return
            assert len(await _live(one)) == 1
            before = (await other.info())["update_seq"]
            result = await replicate(one, other)
            assert result.ok
            assert result.docs_written == 0  # nothing it did not write itself
            assert (await other.info())["update_seq"] == before
        finally:
            await one.close()
            await other.close()


@settings(max_examples=25, deadline=None)
@given(leaf_sets, st.integers(min_value=0, max_value=2**16))
def test_two_mergers_of_the_same_leaves_converge(edits: Edits, seed: int) -> None:
    asyncio.run(_converge(edits, seed))
