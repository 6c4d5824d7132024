"""What only the embedded SQLite store promises, beyond the shared contract:
the file (schema versions, pragmas, reopening), sealing through the codec,
deterministic revs, stemming and compaction, attachment storage, atomic
batches (also under SIGKILL), and feed details."""

from __future__ import annotations

import asyncio
import base64
import gc
import os
import random
import signal
import sqlite3
import sys
import threading
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from sync.attachments import digest_of
from sync.errors import BadRequest, NotFound, PreconditionFailed
from sync.revid import new_rev
from sync.sqlite import SCHEMA_VERSION, SQLiteDatabase

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[SQLiteDatabase]:
    store = await SQLiteDatabase.open(tmp_path / "db.sqlite3")
    try:
        yield store
    finally:
        await store.close()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _rows(path: Path, sql: str) -> list[tuple[object, ...]]:
    """Read the file with the stdlib driver, as an outsider would."""
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


class AeadCodec:
    """An AES-GCM codec like the field replica's (nonce || ciphertext)."""

    def __init__(self) -> None:
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, plaintext, aad)

    def open(self, aad: bytes, sealed: bytes) -> bytes:
        return self._aead.decrypt(sealed[:12], sealed[12:], aad)


# -- the file ----------------------------------------------------------------------------


async def test_reopening_keeps_documents_identity_and_seq(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with await SQLiteDatabase.open(path) as first:
        put = await first.put({"_id": "a", "n": 1})
        await first.put_local({"_id": "_local/cp", "seq": 1})
        identity = await first.identity()
        seq = (await first.info())["update_seq"]
    async with await SQLiteDatabase.open(path, name="station-north") as again:
        assert await again.identity() == identity
        assert identity.startswith("sqlite:")
        assert (await again.get("a"))["_rev"] == put["rev"]
        assert (await again.get_local("_local/cp"))["seq"] == 1
        info = await again.info()
        assert (info["db_name"], info["update_seq"]) == ("station-north", seq)
        await again.put({"_id": "b"})
        assert (await again.info())["update_seq"] == seq + 1
    async with await SQLiteDatabase.open(tmp_path / "other.sqlite3") as other:
        assert await other.identity() != identity


async def test_an_in_memory_database_works_for_throwaway_use() -> None:
    async with await SQLiteDatabase.open(":memory:") as db:
        put = await db.put({"_id": "a", "_attachments": {"f": {"data": _b64(b"x")}}})
        doc = await db.get("a", attachments=True)
        assert doc["_rev"] == put["rev"]
        assert [row["id"] for row in (await db.changes())["results"]] == ["a"]


async def test_schema_version_and_pragmas(db: SQLiteDatabase) -> None:
    assert _rows(db.path, "PRAGMA user_version") == [(SCHEMA_VERSION,)]
    assert _rows(db.path, "PRAGMA journal_mode") == [("wal",)]
    # synchronous and temp_store are per connection: ask the store's own ones.
    for conn in (db._core.writer, db._core.reader):
        assert list(await conn.execute_fetchall("PRAGMA synchronous")) == [(1,)]  # NORMAL
        assert list(await conn.execute_fetchall("PRAGMA temp_store")) == [(2,)]  # MEMORY


async def test_a_file_from_a_newer_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with await SQLiteDatabase.open(path):
        pass
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(PreconditionFailed):
        await SQLiteDatabase.open(path)


async def test_close_is_idempotent_and_ends_a_waiting_longpoll(db: SQLiteDatabase) -> None:
    waiting = asyncio.create_task(db.changes(since="now", feed="longpoll", timeout=30))
    await asyncio.sleep(0.1)
    await db.close()
    await db.close()
    answer = await asyncio.wait_for(waiting, 5)
    assert answer["results"] == []


# -- sealing --------------------------------------------------------------------------------

SECRET = "Complainant Ramesh Kumar of Ward 7"
PHOTO = b"JPEG-of-the-scene " * 64


async def _write_secrets(db: SQLiteDatabase) -> None:
    put = await db.put(
        {
            "_id": "a",
            "statement": SECRET,
            "_attachments": {"scene.jpg": {"content_type": "image/jpeg", "data": _b64(PHOTO)}},
        }
    )
    await db.put(
        {
            "_id": "a",
            "_rev": put["rev"],
            "statement": SECRET + " (amended)",
            "_attachments": {"scene.jpg": {"stub": True}},
        }
    )
    await db.put_local({"_id": "_local/draft", "note": SECRET})
    await db.bulk_docs([{"_id": f"d{i}", "statement": SECRET} for i in range(50)])


def _disk_bytes(directory: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file())


@pytest.mark.parametrize("sealed", [True, False], ids=["aead", "plain"])
async def test_with_a_sealing_codec_no_record_text_reaches_the_disk(
    tmp_path: Path, sealed: bool
) -> None:
    codec = AeadCodec() if sealed else None
    db = await SQLiteDatabase.open(tmp_path / "db.sqlite3", codec=codec)
    try:
        await _write_secrets(db)
        assert (await db.get("a", attachments=True))["statement"].startswith(SECRET)
        # Read while the WAL still holds the writes, then again after checkpointing.
        on_disk = _disk_bytes(tmp_path)
    finally:
        await db.close()
    on_disk += _disk_bytes(tmp_path)
    found = SECRET.encode() in on_disk or PHOTO[:40] in on_disk or b"scene.jpg" in on_disk
    # The plain codec proves the check can see text when it is there.
    assert found is not sealed


async def test_a_sealed_body_moved_to_another_row_fails_to_open(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    codec = AeadCodec()
    async with await SQLiteDatabase.open(path, codec=codec) as db:
        await db.bulk_docs([{"_id": "a", "who": "A"}, {"_id": "b", "who": "B"}])
    conn = sqlite3.connect(path)
    body_a = conn.execute("SELECT body FROM revs WHERE doc_id = 'a'").fetchone()[0]
    conn.execute("UPDATE revs SET body = ? WHERE doc_id = 'b'", (body_a,))
    conn.commit()
    conn.close()
    async with await SQLiteDatabase.open(path, codec=codec) as db:
        assert (await db.get("a"))["who"] == "A"
        with pytest.raises(InvalidTag):
            await db.get("b")


# -- revisions ------------------------------------------------------------------------------


async def test_new_revs_are_sync_revid_of_parent_body_and_digests(db: SQLiteDatabase) -> None:
    first = await db.put({"_id": "a", "n": 1})
    assert first["rev"] == new_rev(None, False, {"n": 1})
    second = await db.put(
        {"_id": "a", "_rev": first["rev"], "n": 2, "_attachments": {"x": {"data": _b64(b"x")}}}
    )
    assert second["rev"] == new_rev(first["rev"], False, {"n": 2}, [digest_of(b"x")])
    gone = await db.put({"_id": "a", "_rev": second["rev"], "_deleted": True})
    assert gone["rev"] == new_rev(second["rev"], True, {})


async def test_the_same_edit_on_two_replicas_is_the_same_revision(tmp_path: Path) -> None:
    async with (
        await SQLiteDatabase.open(tmp_path / "a.sqlite3") as a,
        await SQLiteDatabase.open(tmp_path / "b.sqlite3") as b,
    ):
        base = await a.put({"_id": "x", "n": 1})
        await b.bulk_docs([await a.get("x", revs=True)], new_edits=False)
        edit = {"_id": "x", "_rev": base["rev"], "n": 2}
        assert (await a.put(dict(edit)))["rev"] == (await b.put(dict(edit)))["rev"]


async def test_revs_limit_stems_history_and_persists(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with await SQLiteDatabase.open(path) as db:
        assert await db.revs_limit() == 1000
        await db.set_revs_limit(3)
        rev = (await db.put({"_id": "a", "n": 0}))["rev"]
        for n in range(1, 6):
            rev = (await db.put({"_id": "a", "_rev": rev, "n": n}))["rev"]
        history = (await db.get("a", revs=True))["_revisions"]
        assert history["start"] == 6
        assert len(history["ids"]) == 3
        with pytest.raises(BadRequest):
            await db.set_revs_limit(0)
    async with await SQLiteDatabase.open(path) as db:
        assert await db.revs_limit() == 3
    async with await SQLiteDatabase.open(path, revs_limit=50) as db:
        assert await db.revs_limit() == 50
        assert (await db.info())["revs_limit"] == 50


async def test_only_leaf_bodies_are_kept(db: SQLiteDatabase) -> None:
    first = await db.put({"_id": "a", "n": 1})
    second = await db.put({"_id": "a", "_rev": first["rev"], "n": 2})
    assert _rows(db.path, "SELECT rev FROM revs") == [(second["rev"],)]
    with pytest.raises(NotFound):
        await db.get("a", rev=first["rev"])
    # latest=true still leads from the compacted rev to its leaf.
    latest = await db.get("a", rev=first["rev"], latest=True)
    assert latest["_rev"] == second["rev"]


async def test_deleted_conflicts_are_listed(db: SQLiteDatabase) -> None:
    live = await db.put({"_id": "a", "n": 1})
    other = "1-" + "f" * 32
    await db.bulk_docs([{"_id": "a", "_rev": other, "_deleted": True}], new_edits=False)
    doc = await db.get("a", conflicts=True, deleted_conflicts=True)
    assert doc["_rev"] == live["rev"]
    assert doc["_deleted_conflicts"] == [other]
    assert "_conflicts" not in doc


# -- attachments ---------------------------------------------------------------------------


async def test_blobs_are_stored_once_and_collected_when_unused(db: SQLiteDatabase) -> None:
    data = {"content_type": "text/plain", "data": _b64(b"same bytes")}
    a = await db.put({"_id": "a", "_attachments": {"one": data}})
    b = await db.put({"_id": "b", "_attachments": {"two": data}})
    assert len(_rows(db.path, "SELECT digest FROM attachments")) == 1
    await db.put({"_id": "a", "_rev": a["rev"], "n": 1})
    assert len(_rows(db.path, "SELECT digest FROM attachments")) == 1  # b still has it
    await db.purge({"b": [b["rev"]]})
    assert _rows(db.path, "SELECT digest FROM attachments") == []


async def test_a_name_only_stub_keeps_the_parents_attachment(db: SQLiteDatabase) -> None:
    # CouchDB 3 finds a stub by name in the parent; PouchDB needs its digest too.
    put = await db.put({"_id": "a", "_attachments": {"f": {"data": _b64(b"payload")}}})
    edited = await db.put({"_id": "a", "_rev": put["rev"], "_attachments": {"f": {"stub": True}}})
    doc = await db.get("a", rev=edited["rev"], attachments=True)
    assert base64.b64decode(doc["_attachments"]["f"]["data"]) == b"payload"
    assert doc["_attachments"]["f"]["content_type"] == "application/octet-stream"


async def test_a_missing_stub_fails_only_its_doc(db: SQLiteDatabase) -> None:
    answers = await db.bulk_docs(
        [{"_id": "a", "_attachments": {"f": {"stub": True}}}, {"_id": "b", "n": 1}]
    )
    assert answers[0]["error"] == "missing_stub"
    assert answers[1]["ok"] is True
    with pytest.raises(PreconditionFailed):
        await db.put({"_id": "c", "_attachments": {"f": {"stub": True}}})


# -- writes: validation and atomicity -----------------------------------------------------


async def test_a_body_that_is_not_json_fails_the_whole_batch(db: SQLiteDatabase) -> None:
    with pytest.raises(BadRequest):
        await db.bulk_docs([{"_id": "a", "n": 1}, {"_id": "b", "when": object()}])
    with pytest.raises(NotFound):
        await db.get("a")
    assert (await db.info())["update_seq"] == 0


@pytest.mark.parametrize(
    "batch",
    [
        pytest.param("not a list", id="string"),
        pytest.param({"docs": []}, id="object"),
        pytest.param(None, id="null"),
    ],
)
async def test_a_batch_that_is_not_a_list_is_a_bad_request(
    db: SQLiteDatabase, batch: object
) -> None:
    with pytest.raises(BadRequest):
        await db.bulk_docs(batch)  # type: ignore[arg-type]


async def test_new_edits_false_with_a_bad_revisions_path_is_refused(db: SQLiteDatabase) -> None:
    rev = "2-" + "a" * 32
    for revisions in ({"start": 2, "ids": []}, {"start": "2", "ids": ["a" * 32]}, [1]):
        with pytest.raises(BadRequest):
            await db.bulk_docs(
                [{"_id": "a", "_rev": rev, "_revisions": revisions}], new_edits=False
            )
    with pytest.raises(BadRequest):
        await db.bulk_docs(
            [{"_id": "a", "_rev": rev, "_revisions": {"start": 3, "ids": ["b" * 32, "c" * 32]}}],
            new_edits=False,
        )
    assert (await db.info())["update_seq"] == 0


async def test_local_docs_ride_in_bulk_docs(db: SQLiteDatabase) -> None:
    answers = await db.bulk_docs([{"_id": "_local/x", "n": 1}, {"_id": "a"}])
    assert answers[0] == {"ok": True, "id": "_local/x", "rev": "0-1"}
    assert (await db.get("_local/x"))["n"] == 1
    assert [row["id"] for row in (await db.changes())["results"]] == ["a"]


async def test_readers_never_see_part_of_a_batch(db: SQLiteDatabase) -> None:
    batch, batches = 50, 20
    seen: set[int] = set()

    async def write() -> None:
        for k in range(batches):
            await db.bulk_docs([{"_id": f"b{k}-{i}"} for i in range(batch)])

    writer = asyncio.create_task(write())
    while not writer.done():
        seen.add((await db.info())["doc_count"])
        seen.add(len((await db.changes())["results"]))
        await asyncio.sleep(0)
    await writer
    assert all(count % batch == 0 for count in seen), sorted(seen)
    assert (await db.info())["doc_count"] == batch * batches


async def test_batches_larger_than_sqlite_variable_limit(db: SQLiteDatabase) -> None:
    answers = await db.bulk_docs([{"_id": f"d{i:05d}", "n": i} for i in range(2500)])
    edits = [{"_id": a["id"], "_rev": a["rev"], "n": -1} for a in answers]
    assert all(a.get("ok") for a in await db.bulk_docs(edits))
    ids = [f"d{i:05d}" for i in range(2500)]
    diff = await db.revs_diff({doc_id: ["9-" + "a" * 32] for doc_id in ids})
    assert len(diff) == 2500
    got = await db.bulk_get([{"id": doc_id} for doc_id in ids], revs=False)
    assert {item["docs"][0]["ok"]["n"] for item in got} == {-1}
    feed = await db.changes(doc_ids=ids[::2])  # more ids than one IN (...) takes
    assert len(feed["results"]) == 1250
    assert len((await db.all_docs(keys=ids))["rows"]) == 2500


# -- the feed -----------------------------------------------------------------------------


async def test_a_selector_with_limit_reads_past_filtered_pages(db: SQLiteDatabase) -> None:
    await db.bulk_docs([{"_id": f"d{i:04d}", "hit": i % 400 == 399} for i in range(1600)])
    first = await db.changes(selector={"hit": True}, limit=2)
    assert [row["id"] for row in first["results"]] == ["d0399", "d0799"]
    rest = await db.changes(selector={"hit": True}, since=first["last_seq"])
    assert [row["id"] for row in rest["results"]] == ["d1199", "d1599"]
    assert rest["last_seq"] == (await db.info())["update_seq"]


async def test_a_filtered_longpoll_waits_for_a_matching_change(db: SQLiteDatabase) -> None:
    now = (await db.changes())["last_seq"]
    waiting = asyncio.create_task(
        db.changes(since=now, feed="longpoll", selector={"type": "complaint"}, timeout=20)
    )
    await db.put({"_id": "visitor", "type": "visitor_entry"})
    await asyncio.sleep(0.1)
    assert not waiting.done()
    await db.put({"_id": "c", "type": "complaint"})
    answer = await asyncio.wait_for(waiting, 10)
    assert [row["id"] for row in answer["results"]] == ["c"]


@pytest.mark.parametrize(
    "kwargs",
    [
        pytest.param({"since": "soon"}, id="since"),
        pytest.param({"since": -1}, id="negative-since"),
        pytest.param({"limit": -1}, id="limit"),
        pytest.param({"style": "everything"}, id="style"),
        pytest.param({"selector": {"n": {"$bogus": 1}}}, id="selector"),
        pytest.param({"doc_ids": "a"}, id="doc_ids"),
    ],
)
async def test_bad_changes_arguments_are_bad_requests(db: SQLiteDatabase, kwargs: dict) -> None:
    with pytest.raises(BadRequest):
        await db.changes(**kwargs)


async def test_a_closed_continuous_feed_stops_waiting(db: SQLiteDatabase) -> None:
    feed = db.changes_feed(heartbeat=0.2)
    reader = asyncio.create_task(anext(feed))
    await asyncio.sleep(0.3)  # waiting, past one heartbeat
    assert not reader.done()
    await db.put({"_id": "a"})
    row = await asyncio.wait_for(reader, 5)
    assert row["id"] == "a"
    await feed.aclose()  # type: ignore[attr-defined]


# -- crash safety ---------------------------------------------------------------------------

CRASH_BATCH = 40


def _check_after_crash(path: Path) -> int:
    """Integrity, whole batches only, consistent seqs; the number of batches found."""
    assert _rows(path, "PRAGMA integrity_check") == [("ok",)]
    ids = [row[0] for row in _rows(path, "SELECT doc_id FROM docs WHERE doc_id != 'counter'")]
    per_batch: dict[str, int] = {}
    for doc_id in ids:
        per_batch[doc_id[:7]] = per_batch.get(doc_id[:7], 0) + 1
    assert set(per_batch.values()) <= {CRASH_BATCH}, "a batch was partly written"
    batches = len(per_batch)
    assert sorted(per_batch) == [f"b{k:06d}" for k in range(batches)]
    seqs = [row[0] for row in _rows(path, "SELECT seq FROM docs ORDER BY seq")]
    (update_seq,) = _rows(path, "SELECT value FROM meta WHERE key = 'update_seq'")[0]
    assert seqs[-1] == int(update_seq)
    assert len(set(seqs)) == len(seqs)
    (counter,) = _rows(path, "SELECT tree FROM docs WHERE doc_id = 'counter'")[0]
    assert len(eval_tree(counter)) == min(batches, 1000)  # one counter edit per batch
    return batches


def eval_tree(tree: object) -> dict[str, object]:
    import orjson

    return dict(orjson.loads(tree))  # type: ignore[arg-type]


async def test_a_killed_writer_leaves_whole_batches_only(tmp_path: Path) -> None:
    path = tmp_path / "crash.sqlite3"
    rng = random.Random(20261129)
    total = 0
    for _ in range(4):
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.sync.sqlite.crash_writer",
            str(path),
            str(CRASH_BATCH),
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
        )
        try:
            assert child.stdout is not None
            started = await asyncio.wait_for(child.stdout.readline(), 20)
            assert started.strip() == b"started"
            await asyncio.sleep(rng.uniform(0.05, 0.6))
        finally:
            child.send_signal(signal.SIGKILL)
            await child.wait()
        batches = _check_after_crash(path)
        assert batches > total  # each run added at least its first batch
        total = batches
        # The store opens the crashed file and agrees with what is on disk.
        async with await SQLiteDatabase.open(path) as db:
            info = await db.info()
            assert info["doc_count"] == batches * CRASH_BATCH + 1
            assert (await db.get("counter"))["batch"] == batches - 1


async def test_reads_and_writes_cancelled_midway_leave_no_transaction_open(
    tmp_path: Path,
) -> None:
    # aiosqlite runs a BEGIN whose await was cancelled anyway; a store that
    # then skipped its COMMIT/ROLLBACK served every later read from that old
    # snapshot (a replication cancelled by a failing sibling stage hit this).
    async with await SQLiteDatabase.open(tmp_path / "cancel.sqlite") as db:
        photo = {"photo.jpg": {"content_type": "image/jpeg",
                               "data": base64.b64encode(b"x" * 1000).decode()}}
        await db.put({"_id": "v", "n": 0, "_attachments": photo})
        for n in range(1, 41):
            steps = n % 5
            read = asyncio.create_task(db.get("v", attachments=True))
            write = asyncio.create_task(db.put({**await db.get("v"), "n": n}))
            for _ in range(steps):
                await asyncio.sleep(0)
            read.cancel()
            write.cancel()
            await asyncio.gather(read, write, return_exceptions=True)
            current = await db.get("v")
            written = await db.put({**current, "n": -n})  # a write still commits...
            after = await db.get("v", attachments=True)  # ...and a snapshot read sees it
            assert (after["_rev"], after["n"]) == (written["rev"], -n)


async def test_a_cancelled_open_leaves_no_connection_open(tmp_path: Path) -> None:
    """A gateway stopping while a background job opens a station cancels the open
    at any await in it; no connection may outlive it (each holds the file's locks
    and warns from its finaliser)."""
    path = tmp_path / "station.sqlite"
    await (await SQLiteDatabase.open(path)).close()  # migrated: the open's other path too
    threads = threading.active_count()  # aiosqlite: one thread per open connection
    for step in range(60):
        for target in (path, tmp_path / f"new-{step}.sqlite"):
            task = asyncio.create_task(SQLiteDatabase.open(target))
            await asyncio.sleep(step / 4000)  # 0 to 15 ms: every await of the open
            task.cancel()
            try:
                db = await task
            except asyncio.CancelledError:
                pass
            else:
                await db.close()  # it finished first: an ordinary open
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
    assert threading.active_count() == threads
