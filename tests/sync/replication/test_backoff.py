"""Retries, permanent failures, 413 splitting and per-document refusals."""

from __future__ import annotations

import asyncio
import base64
import os
from pathlib import Path
from typing import Any

import pytest

from sync.errors import (
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from sync.replication import (
    Phase,
    Progress,
    ReplicationError,
    RetryPolicy,
    is_transient,
    replicate,
)
from sync.replication.batches import MAX_UPLOAD_BYTES, by_upload_size, upload_size
from tests.sync.http.flaky import Fault, Flaky
from tests.sync.replication.support import docs_of, snapshot, sqlite_stores


class _Sleeps:
    """An injected sleep that records the delays instead of waiting."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def test_delays_are_exponential_with_full_jitter_and_capped() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=10.0, random=lambda: 0.5)
    assert [policy.delay(n) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    draws = iter([0.0, 1.0, 0.25])
    jittered = RetryPolicy(base_delay=2.0, max_delay=100.0, random=lambda: next(draws))
    assert [jittered.delay(n) for n in range(3)] == [0.0, 4.0, 2.0]


def test_retry_after_of_a_503_is_honoured() -> None:
    policy = RetryPolicy(base_delay=1.0, max_delay=60.0, random=lambda: 0.1)
    assert policy.delay(0, ServiceUnavailable(retry_after=7)) == 7
    assert policy.delay(0, ServiceUnavailable(retry_after=600)) == 60


def test_only_server_trouble_and_broken_links_are_transient() -> None:
    assert is_transient(ServiceUnavailable())
    assert is_transient(ConnectionResetError())
    assert is_transient(TimeoutError())
    for permanent in (BadRequest(), Unauthorized(), Forbidden(), NotFound(), ValueError()):
        assert not is_transient(permanent)
    assert RetryPolicy(max_retries=3).gives_up(3, continuous=False)
    assert not RetryPolicy(max_retries=3).gives_up(2, continuous=False)
    assert not RetryPolicy(max_retries=3).gives_up(1000, continuous=True)


async def test_transient_failures_back_off_then_succeed(tmp_path: Path) -> None:
    sleeps = _Sleeps()
    policy = RetryPolicy(base_delay=1.0, max_delay=100.0, random=lambda: 1.0, sleep=sleeps)
    progress: list[Phase] = []
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(10))
        # Three failures in a row on the changes feed, then it works.
        source = Flaky(a, [Fault("changes", 1, ConnectionResetError(), times=3)])
        result = await replicate(source, b, retry=policy,
                                 on_progress=lambda p: progress.append(p.state))
        assert sleeps.delays == [1.0, 2.0, 4.0]
        assert result.ok
        assert result.docs_written == 10
        assert Phase.BACKING_OFF in progress
        assert progress[-1] is Phase.COMPLETED
        assert await snapshot(a) == await snapshot(b)


async def test_one_shot_gives_up_after_max_retries(tmp_path: Path) -> None:
    sleeps = _Sleeps()
    policy = RetryPolicy(max_retries=2, random=lambda: 0.0, sleep=sleeps)
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(3))
        target = Flaky(b, [Fault("revs_diff", 1, ServiceUnavailable(retry_after=0), times=99)])
        with pytest.raises(ReplicationError, match="Gave up after 3 failed attempts") as caught:
            await replicate(a, target, retry=policy)
        assert len(sleeps.delays) == 2
        assert caught.value.result is not None
        assert not caught.value.result.ok
        assert caught.value.result.state is Phase.FAILED


@pytest.mark.parametrize(
    ("side", "method", "error", "words"),
    [
        ("target", "bulk_docs", Forbidden("no writes here"), "target database does not allow"),
        ("source", "info", NotFound("Database does not exist."), "source database does not exist"),
        ("source", "changes", Unauthorized("token expired"), "refused our credentials"),
        # (a 400 is not here: one document can cause it, so it is isolated; test_isolation)
        ("target", "revs_diff", MethodNotAllowed("no"), "target database rejected"),
    ],
)
async def test_permanent_errors_stop_with_an_actionable_message(
    tmp_path: Path, side: str, method: str, error: Exception, words: str
) -> None:
    sleeps = _Sleeps()
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(5))
        source, target = (Flaky(a, [Fault(method, 1, error)]), b) if side == "source" else (
            a, Flaky(b, [Fault(method, 1, error)]))
        with pytest.raises(ReplicationError) as caught:
            await replicate(source, target, retry=RetryPolicy(sleep=sleeps))
        assert words in str(caught.value).lower()
        assert caught.value.__cause__ is error
        assert sleeps.delays == []  # never retried
        assert (await b.info())["doc_count"] == 0


async def test_413_splits_the_batch_until_it_fits(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(100))
        target = Flaky(b, max_bulk_docs=7)
        result = await replicate(a, target, batch_size=50)
        assert result.docs_written == 100
        assert result.doc_write_failures == 0
        assert max(target.bulk_docs_sizes) <= 7
        assert sorted(target.written) == sorted(set(target.written))  # nothing sent twice
        assert await snapshot(a) == await snapshot(b)


async def test_a_single_doc_too_large_is_a_write_failure_not_a_loop(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(5))
        result = await replicate(a, Flaky(b, max_bulk_docs=0))
        assert result.ok
        assert result.docs_written == 0
        assert result.doc_write_failures == 5
        assert {e["error"] for e in result.errors} == {"too_large"}


async def test_refused_docs_are_counted_reported_and_offered_again_by_the_next_run(
    tmp_path: Path,
) -> None:
    refusing = True

    def refuse(doc: dict[str, Any]) -> str | None:
        return "forbidden" if refusing and doc["_id"].startswith("secret") else None

    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(10) + docs_of(3, prefix="secret"))
        target = Flaky(b, refuse=refuse)
        result = await replicate(a, target, batch_size=4)
        assert result.ok
        assert result.docs_written == 10
        assert result.doc_write_failures == 3
        secrets = [f"secret-{i:05d}" for i in range(3)]
        assert sorted(e["id"] for e in result.errors) == secrets
        assert {e["error"] for e in result.errors} == {"forbidden"}
        assert sorted(e["id"] for e in result.rejected) == secrets
        # The checkpoint moved on, but remembers them: the next run offers only them.
        again = await replicate(a, target)
        assert again.missing_checked == 3
        assert sorted(e["id"] for e in again.rejected) == secrets
        refusing = False  # whatever refused them has passed
        last = await replicate(a, target)
        assert last.docs_written == 3
        assert last.rejected == ()
        assert (await b.info())["doc_count"] == 13
        assert (await replicate(a, target)).missing_checked == 0


async def test_continuous_keeps_retrying_past_max_retries(tmp_path: Path) -> None:
    sleeps = _Sleeps()
    policy = RetryPolicy(max_retries=1, random=lambda: 0.0, sleep=sleeps)
    stop = asyncio.Event()

    def on_progress(progress: Progress) -> None:
        if progress.state is Phase.WAITING_FOR_CHANGES:
            stop.set()

    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(30))
        source = Flaky(a, [Fault("bulk_get", 2, ConnectionResetError(), times=4)])
        result = await asyncio.wait_for(replicate(
            source, b, batch_size=10, continuous=True, retry=policy, stop=stop,
            on_progress=on_progress, longpoll_timeout=0.2), 30)
        assert len(sleeps.delays) == 4
        assert result.state is Phase.STOPPED
        assert result.docs_written == 30
        assert await snapshot(a) == await snapshot(b)


async def test_uploads_are_cut_by_bytes_before_any_413(tmp_path: Path) -> None:
    # 30 visits with a 300 KB photo each are ~12 MB: sent as one request, a
    # gateway with an 8 MB body limit would refuse it only after the upload.
    photo = base64.b64encode(os.urandom(300 * 1024)).decode()
    docs = [{**doc, "_attachments": {"p.jpg": {"content_type": "image/jpeg", "data": photo}}}
            for doc in docs_of(30)]
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs)
        target = Flaky(b)
        result = await replicate(a, target, batch_size=100)
        assert result.docs_written == 30
        per_request = max(1, MAX_UPLOAD_BYTES // (len(photo) + 4096))
        assert max(target.bulk_docs_sizes) == per_request
        assert sum(target.bulk_docs_sizes) == 30  # nothing sent twice
        assert target.calls["bulk_docs"] == -(-30 // per_request)
        assert await snapshot(a) == await snapshot(b)


def test_batches_by_size_keep_order_and_put_a_huge_doc_alone() -> None:
    small = {"_id": "s"}
    huge = {"_id": "h", "_attachments": {"x": {"data": "A" * (MAX_UPLOAD_BYTES + 1)}}}
    runs = by_upload_size([small, huge, small, small])
    assert [[d["_id"] for d in run] for run in runs] == [["s"], ["h"], ["s", "s"]]
    assert by_upload_size([]) == []
    assert upload_size(small) < upload_size(huge)
