"""Checkpoints: CouchDB's log comparison, the docs written on both sides, resuming."""

from __future__ import annotations

from pathlib import Path

from sync.replication import replicate
from sync.replication.checkpointer import (
    HISTORY_LIMIT,
    Checkpointer,
    compare_replication_logs,
)
from sync.replication.replication_id import checkpoint_doc_id, replication_id
from sync.replication.state import Counters
from tests.sync.replication.support import docs_of, sqlite_stores


def _log(session: str, last_seq: int, *history: tuple[str, int]) -> dict[str, object]:
    return {
        "session_id": session,
        "source_last_seq": last_seq,
        "history": [{"session_id": s, "recorded_seq": seq} for s, seq in history],
    }


def test_same_session_resumes_from_source_last_seq() -> None:
    source = _log("s3", 30, ("s3", 30), ("s2", 20))
    target = _log("s3", 25, ("s3", 25), ("s2", 20))
    since, history = compare_replication_logs(source, target)
    assert since == 30
    assert [h["session_id"] for h in history] == ["s3", "s2"]


def test_different_sessions_resume_from_newest_common_session() -> None:
    # The target lost the newest session (restored from a backup, say).
    source = _log("s3", 30, ("s3", 30), ("s2", 20), ("s1", 10))
    target = _log("s2", 20, ("s2", 20), ("s1", 10))
    since, history = compare_replication_logs(source, target)
    assert since == 20
    assert [h["session_id"] for h in history] == ["s1"]


def test_common_session_found_from_the_target_side() -> None:
    source = _log("s2", 20, ("s2", 20), ("s1", 10))
    target = _log("x9", 99, ("x9", 99), ("s1", 10))
    assert compare_replication_logs(source, target)[0] == 10


def test_no_common_session_or_missing_log_starts_over() -> None:
    assert compare_replication_logs(_log("a", 5, ("a", 5)), _log("b", 7, ("b", 7))) == (0, [])
    assert compare_replication_logs(None, _log("b", 7, ("b", 7))) == (0, [])
    assert compare_replication_logs(_log("a", 5, ("a", 5)), None) == (0, [])


async def test_checkpoint_docs_on_both_sides_in_couchdb_format(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(30))
        result = await replicate(a, b, batch_size=7)
        doc_id = checkpoint_doc_id(result.replication_id)
        on_source, on_target = await a.get_local(doc_id), await b.get_local(doc_id)
        for log in (on_source, on_target):
            assert log["session_id"] == result.session_id
            assert log["source_last_seq"] == result.end_last_seq == (await a.info())["update_seq"]
            assert log["replication_id_version"] == 1
            entry = log["history"][0]
            assert entry["recorded_seq"] == entry["end_last_seq"] == result.end_last_seq
            assert entry["docs_written"] == entry["docs_read"] == 30
            assert entry["missing_checked"] == entry["missing_found"] == 30
            assert entry["doc_write_failures"] == 0
            assert entry["start_time"].endswith("GMT")


async def test_second_run_resumes_where_the_first_ended(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(20))
        first = await replicate(a, b)
        await a.bulk_docs(docs_of(5, prefix="more"))
        second = await replicate(a, b)
        assert second.start_last_seq == first.end_last_seq
        assert second.missing_checked == second.docs_written == 5
        third = await replicate(a, b)
        assert third.missing_checked == 0
        assert third.session_id != second.session_id


async def test_lost_target_checkpoint_restarts_without_rewriting(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(20))
        first = await replicate(a, b)
        doc_id = checkpoint_doc_id(first.replication_id)
        await b.delete_local(doc_id, (await b.get_local(doc_id))["_rev"])
        again = await replicate(a, b)
        assert again.start_last_seq == 0
        assert again.missing_checked == 20
        assert again.docs_written == 0  # _revs_diff found everything already there


async def test_filters_get_their_own_replication_id(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        plain = await replication_id(a, b)
        assert plain == await replication_id(a, b)
        assert plain != await replication_id(b, a)
        by_ids = await replication_id(a, b, doc_ids=["x", "y"])
        assert by_ids == await replication_id(a, b, doc_ids=["y", "x"])
        assert by_ids != plain
        by_selector = await replication_id(a, b, selector={"type": "complaint", "n": 1})
        assert by_selector == await replication_id(a, b, selector={"n": 1, "type": "complaint"})
        assert by_selector not in (plain, by_ids)


async def test_history_is_bounded(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        for session in range(HISTORY_LIMIT + 5):
            checkpointer = Checkpointer(a, b, "bounded", f"session-{session}")
            await checkpointer.load()
            await checkpointer.save(session + 1, Counters())
        log = await a.get_local(checkpoint_doc_id("bounded"))
        assert len(log["history"]) == HISTORY_LIMIT
        assert log["history"][0]["session_id"] == f"session-{HISTORY_LIMIT + 4}"
        assert log["source_last_seq"] == HISTORY_LIMIT + 5
