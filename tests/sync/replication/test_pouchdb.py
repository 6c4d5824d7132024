"""Against pouchdb-server: conflicts made on both sides resolve the same way on both.

1,000 documents go to pouchdb-server and are pulled into our SQLite store;
then every one is edited differently on each side (some deleted on one
side), both directions replicate through the HTTP remote, and for every
document the winner, ``_conflicts`` and body our store reports equal what
pouchdb-server reports.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from sync.database import Database
from sync.errors import NotFound
from sync.replication import Phase, Progress, replicate, sync
from tests.peers import CouchPeer
from tests.sync.replication.support import all_ids, docs_of, sqlite_stores

pytestmark = pytest.mark.pouchdb

N_DOCS = 1000


async def _winner(db: Database, doc_id: str) -> tuple[object, ...]:
    try:
        doc = await db.get(doc_id, conflicts=True)
    except NotFound as exc:
        return ("not_found", exc.reason)
    body = {k: v for k, v in doc.items() if not k.startswith("_")}
    return doc["_rev"], sorted(doc.get("_conflicts", [])), body


async def _edit_all(db: Database, ids: list[str], side: str, delete_every: int) -> None:
    current = await db.all_docs(keys=ids, include_docs=True)
    edits = []
    for i, row in enumerate(current["rows"]):
        doc = row["doc"]
        if delete_every and i % delete_every == 0:
            edits.append({"_id": doc["_id"], "_rev": doc["_rev"], "_deleted": True})
        else:
            edits.append({**doc, "edited_on": side, "note": f"{side} {i}"})
    answers = await db.bulk_docs(edits)
    assert not [a for a in answers if "error" in a]


async def test_conflicts_resolve_like_pouchdb_server(
    couch_peer: CouchPeer, unique_db_name: str, tmp_path: Path
) -> None:
    from sync.http import HttpDatabase

    remote = HttpDatabase(f"{couch_peer.url}/{unique_db_name}")
    try:
        await remote.create()
        await remote.bulk_docs(docs_of(N_DOCS, type="complaint"))
        async with sqlite_stores(tmp_path, "local") as (local,):
            pulled, _ = await sync(remote, local)
            assert pulled.docs_written == N_DOCS
            ids = [f"doc-{i:05d}" for i in range(N_DOCS)]
            # Same ids edited differently on each side; some deleted on one side only.
            await _edit_all(remote, ids, "server", delete_every=0)
            await _edit_all(local, ids, "device", delete_every=7)
            await local.put({"_id": "device-only", "n": 1})
            forward, backward = await sync(local, remote, batch_size=250)
            assert forward.docs_written == N_DOCS + 1
            assert backward.docs_written == N_DOCS
            for doc_id in [*ids, "device-only"]:
                ours, theirs = await _winner(local, doc_id), await _winner(remote, doc_id)
                assert ours == theirs, doc_id
                if doc_id != "device-only":
                    # Live vs. deleted: the live edit wins with no conflict; else one conflict.
                    assert len(ours[1]) == (0 if ids.index(doc_id) % 7 == 0 else 1)  # type: ignore[arg-type]
    finally:
        await remote.close()


async def test_continuous_pull_from_pouchdb_server_stops_on_request(
    couch_peer: CouchPeer, unique_db_name: str, tmp_path: Path
) -> None:
    # pouchdb-server keeps an idle longpoll open past its timeout: stop must
    # still end the replication promptly.
    from sync.http import HttpDatabase

    remote = HttpDatabase(f"{couch_peer.url}/{unique_db_name}")
    try:
        await remote.create()
        await remote.bulk_docs(docs_of(3))
        async with sqlite_stores(tmp_path, "local") as (local,):
            stop = asyncio.Event()
            waiting = asyncio.Event()
            written: list[int] = []

            def on_progress(progress: Progress) -> None:
                written.append(progress.docs_written)
                if progress.state is Phase.WAITING_FOR_CHANGES:
                    waiting.set()

            task = asyncio.create_task(replicate(
                remote, local, continuous=True, stop=stop, on_progress=on_progress,
                longpoll_timeout=1))
            await asyncio.wait_for(waiting.wait(), 30)
            waiting.clear()
            await remote.put({"_id": "late", "n": 1})
            await asyncio.wait_for(waiting.wait(), 30)
            assert written[-1] == 4
            assert (await local.get("late"))["n"] == 1
            stop.set()
            result = await asyncio.wait_for(task, 10)
            assert result.state is Phase.STOPPED
    finally:
        await remote.close()


async def test_attachments_round_trip_through_pouchdb_server(
    couch_peer: CouchPeer, unique_db_name: str, tmp_path: Path
) -> None:
    from sync.http import HttpDatabase

    photo = base64.b64encode(bytes(range(256)) * 40).decode()
    remote = HttpDatabase(f"{couch_peer.url}/{unique_db_name}")
    try:
        await remote.create()
        async with sqlite_stores(tmp_path, "device", "station") as (device, station):
            await device.put({"_id": "visit", "type": "verification_visit", "_attachments": {
                "photo.jpg": {"content_type": "image/jpeg", "data": photo}}})
            await replicate(device, remote)
            await replicate(remote, station)
            for db in (remote, station):
                copied = await db.get("visit", attachments=True)
                assert copied["_attachments"]["photo.jpg"]["data"] == photo
            assert (await station.get("visit"))["_rev"] == (await device.get("visit"))["_rev"]
    finally:
        await remote.close()


async def test_filtered_pull_from_pouchdb_server(
    couch_peer: CouchPeer, unique_db_name: str, tmp_path: Path
) -> None:
    from sync.http import HttpDatabase

    remote = HttpDatabase(f"{couch_peer.url}/{unique_db_name}")
    try:
        await remote.create()
        await remote.bulk_docs(docs_of(30, prefix="complaint", type="complaint")
                               + docs_of(20, prefix="visitor", type="visitor_entry"))
        async with sqlite_stores(tmp_path, "by_selector", "by_ids") as (by_selector, by_ids):
            result = await replicate(remote, by_selector, selector={"type": "visitor_entry"},
                                     batch_size=7)
            assert result.docs_written == 20
            assert await all_ids(by_selector) == [f"visitor-{i:05d}" for i in range(20)]
            wanted = ["complaint-00002", "visitor-00013"]
            await replicate(remote, by_ids, doc_ids=wanted)
            assert await all_ids(by_ids) == wanted
    finally:
        await remote.close()
