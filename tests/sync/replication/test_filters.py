"""Filtered (doc_ids, selector), continuous, and two-way replication."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from sync.replication import Phase, Progress, replicate, sync
from tests.sync.replication.support import all_ids, docs_of, snapshot, sqlite_stores


async def test_doc_ids_replicate_only_those(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(20))
        wanted = ["doc-00003", "doc-00011", "doc-00019"]
        result = await replicate(a, b, doc_ids=wanted, batch_size=2)
        assert result.docs_written == 3
        assert await all_ids(b) == wanted


async def test_selector_replicates_only_matching_docs(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(6, prefix="complaint", type="complaint")
                          + docs_of(4, prefix="visitor", type="visitor_entry"))
        result = await replicate(a, b, selector={"type": "complaint"})
        assert result.docs_written == 6
        assert await all_ids(b) == [f"complaint-{i:05d}" for i in range(6)]


async def test_deletions_and_conflicts_replicate(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(3))
        await replicate(a, b)
        one = await a.get("doc-00000")
        await a.put({**one, "_deleted": True})
        for db, value in ((a, "from a"), (b, "from b")):
            two = await db.get("doc-00001")
            await db.put({**two, "note": value})
        forward, backward = await sync(a, b)
        assert forward.ok
        assert backward.ok
        assert await snapshot(a) == await snapshot(b)
        merged = await b.get("doc-00001", conflicts=True)
        assert len(merged["_conflicts"]) == 1


async def test_sync_refuses_a_one_sided_since(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        with pytest.raises(TypeError, match="since"):
            await sync(a, b, since=3)


async def test_continuous_picks_up_later_writes_and_stops(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(5))
        stop = asyncio.Event()
        seen: list[Progress] = []
        waiting = asyncio.Event()

        def on_progress(progress: Progress) -> None:
            seen.append(progress)
            if progress.state is Phase.WAITING_FOR_CHANGES:
                waiting.set()

        task = asyncio.create_task(replicate(
            a, b, continuous=True, stop=stop, on_progress=on_progress, longpoll_timeout=0.5))
        await asyncio.wait_for(waiting.wait(), 30)
        assert seen[-1].docs_written == 5
        waiting.clear()
        await a.put({"_id": "late", "n": 99})
        await asyncio.wait_for(waiting.wait(), 30)
        assert (await b.get("late"))["n"] == 99
        stop.set()
        result = await asyncio.wait_for(task, 30)
        assert result.state is Phase.STOPPED
        assert result.ok
        assert result.docs_written == 6
        assert await snapshot(a) == await snapshot(b)


async def test_attachments_replicate_with_their_data(tmp_path: Path) -> None:
    photo = base64.b64encode(bytes(range(256)) * 8).decode()
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        first = await a.put({"_id": "visit", "_attachments": {
            "photo.jpg": {"content_type": "image/jpeg", "data": photo}}})
        await replicate(a, b)
        # A later edit keeps the attachment as a stub; the target still has its data.
        current = await a.get("visit")
        assert current["_rev"] == first["rev"]
        await a.put({**current, "note": "verified"})
        await replicate(a, b)
        copied = await b.get("visit", attachments=True)
        assert copied["note"] == "verified"
        assert copied["_attachments"]["photo.jpg"]["data"] == photo
        assert await snapshot(a) == await snapshot(b)
