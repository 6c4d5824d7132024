"""Interrupted replications resume from their checkpoint and converge, sending nothing twice."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync.database import Database
from sync.errors import Forbidden, ServiceUnavailable
from sync.replication import ReplicationError, RetryPolicy, is_transient, replicate
from tests.peers import ROOT
from tests.sync.http.flaky import Fault, Flaky
from tests.sync.replication.support import docs_of, snapshot, sqlite_stores

N_DOCS = 200
BATCH = 20


async def _no_sleep(_: float) -> None:
    return None


NO_WAIT = RetryPolicy(sleep=_no_sleep)

# Where a replication breaks: (which side, method, nth call, raise after the call went through?)
BREAKS = [
    pytest.param("source", "changes", 3, False, id="source-changes-3rd-batch"),
    pytest.param("source", "bulk_get", 4, False, id="source-bulk-get-4th-batch"),
    pytest.param("target", "revs_diff", 2, False, id="target-revs-diff"),
    pytest.param("target", "bulk_docs", 5, False, id="bulk-docs-before-write"),
    pytest.param("target", "bulk_docs", 5, True, id="bulk-docs-answer-lost"),
    pytest.param("target", "put_local", 2, False, id="checkpoint-write"),
    pytest.param("target", "put_local", 3, True, id="checkpoint-answer-lost"),
]


async def _assert_converged_once(source: Database, target: Flaky) -> None:
    assert await snapshot(source) == await snapshot(target.inner)
    # Every doc reached the target exactly once, across all runs: nothing
    # already written (checkpointed or not) was sent again.
    assert sorted(target.written) == sorted(set(target.written))
    assert len(target.written) == N_DOCS


@pytest.mark.parametrize(("side", "method", "nth", "after"), BREAKS)
async def test_transient_break_retries_in_the_same_run(
    tmp_path: Path, side: str, method: str, nth: int, after: bool
) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(N_DOCS))
        fault = [Fault(method, nth, ServiceUnavailable(retry_after=0), after=after)]
        source = Flaky(a, fault if side == "source" else [])
        target = Flaky(b, fault if side == "target" else [])
        result = await replicate(source, target, batch_size=BATCH, checkpoint_interval=0,
                                 retry=NO_WAIT)
        assert result.ok
        # A write whose answer was lost did land, but no run can count it.
        lost_answer = BATCH if (method, after) == ("bulk_docs", True) else 0
        assert result.docs_written == N_DOCS - lost_answer
        await _assert_converged_once(a, target)


@pytest.mark.parametrize(("side", "method", "nth", "after"), BREAKS)
async def test_fatal_break_then_rerun_resumes_from_checkpoint(
    tmp_path: Path, side: str, method: str, nth: int, after: bool
) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(N_DOCS))
        fault = [Fault(method, nth, Forbidden("pulled the plug"), after=after)]
        source = Flaky(a, fault if side == "source" else [])
        target = Flaky(b, fault if side == "target" else [])
        with pytest.raises(ReplicationError) as caught:
            await replicate(source, target, batch_size=BATCH, checkpoint_interval=0)
        first = caught.value.result
        assert first is not None
        # The rerun is a new session over the same stores (the fault is spent).
        second = await replicate(source, target, batch_size=BATCH, checkpoint_interval=0)
        assert second.start_last_seq == first.end_last_seq
        assert second.docs_written < N_DOCS
        await _assert_converged_once(a, target)


async def test_killed_process_resumes_from_its_checkpoint(tmp_path: Path) -> None:
    n_docs, batch = 2000, 20
    async with sqlite_stores(tmp_path, "source") as (source,):
        await source.bulk_docs(docs_of(n_docs))
    freeze_after = n_docs // 4
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.sync.replication.replicate_child",
        str(tmp_path / "source.sqlite"), str(tmp_path / "target.sqlite"), str(batch),
        str(freeze_after),
        cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL,
    )
    assert child.stdout is not None
    written = 0
    try:
        async with asyncio.timeout(60):
            while (line := (await child.stdout.readline()).decode()).startswith("written"):
                written = int(line.split()[1])
        assert line == "frozen\n", f"child ended early: {line!r}"
    finally:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGKILL)
        await child.wait()
    assert child.returncode == -signal.SIGKILL
    assert freeze_after <= written < n_docs
    async with sqlite_stores(tmp_path, "source", "target") as (a, b):
        rerun = await replicate(a, b, batch_size=batch)
        # It froze just after checkpointing `written` docs: only the rest is read again.
        assert rerun.start_last_seq == written
        assert rerun.missing_checked == n_docs - written
        assert rerun.docs_written == n_docs - written
        assert await snapshot(a) == await snapshot(b)


class _EditOnSecondRead(Flaky):
    """A source where doc-00000 gets a conflicting branch just before the second changes read.

    Its first rev stays a leaf, so the second batch offers that rev again.
    """

    async def changes(self, **kw):  # type: ignore[no-untyped-def]
        if self.calls["changes"] == 1:
            branch = {"_id": "doc-00000", "_rev": f"1-{'a' * 32}", "n": -1}
            await self.inner.put(branch, new_edits=False)
        return await super().changes(**kw)


class _SlowFirstWrite(Flaky):
    """Holds the first write until a later batch has diffed doc-00000 again."""

    def __init__(self, inner: Database) -> None:
        super().__init__(inner)
        self.diffs_of_first_doc = 0
        self.seen_again = asyncio.Event()

    async def revs_diff(self, revs):  # type: ignore[no-untyped-def]
        if "doc-00000" in revs:
            self.diffs_of_first_doc += 1
            if self.diffs_of_first_doc == 2:
                self.seen_again.set()
        return await super().revs_diff(revs)

    async def bulk_docs(self, docs, *, new_edits=True):  # type: ignore[no-untyped-def]
        if self.calls["bulk_docs"] == 0:
            await asyncio.wait_for(self.seen_again.wait(), 10)
        return await super().bulk_docs(docs, new_edits=new_edits)


async def test_a_rev_being_written_is_not_fetched_again_by_a_later_batch(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(15))
        target = _SlowFirstWrite(b)
        result = await replicate(_EditOnSecondRead(a), target, batch_size=10)
        assert target.diffs_of_first_doc == 2  # the edit moved doc-00000 into batch 2
        assert sorted(target.written) == sorted(set(target.written))
        assert result.docs_written == 16  # 15 first revs + the other branch of doc-00000
        assert await snapshot(a) == await snapshot(b)


async def _break_and_rerun(directory: Path, side: str, fault: Fault) -> None:
    async with sqlite_stores(directory, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(N_DOCS))
        source = Flaky(a, [fault] if side == "source" else [])
        target = Flaky(b, [fault] if side == "target" else [])
        options = {"batch_size": BATCH, "checkpoint_interval": 0, "retry": NO_WAIT}
        try:
            await replicate(source, target, **options)  # type: ignore[arg-type]
        except ReplicationError:
            assert not is_transient(fault.error)
            await replicate(source, target, **options)  # type: ignore[arg-type]
        await _assert_converged_once(a, target)


@settings(max_examples=40, deadline=None)
@given(
    side_method=st.sampled_from([
        ("source", "changes"), ("source", "bulk_get"), ("source", "put_local"),
        ("target", "revs_diff"), ("target", "bulk_docs"), ("target", "put_local"),
    ]),
    nth=st.integers(1, 12),
    after=st.booleans(),
    transient=st.booleans(),
)
def test_a_break_at_any_call_converges(
    side_method: tuple[str, str], nth: int, after: bool, transient: bool
) -> None:
    side, method = side_method
    error = ServiceUnavailable(retry_after=0) if transient else Forbidden("pulled the plug")
    with tempfile.TemporaryDirectory() as directory:
        asyncio.run(_break_and_rerun(Path(directory), side, Fault(method, nth, error, after)))
