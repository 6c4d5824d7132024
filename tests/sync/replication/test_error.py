"""A stopped replication says where and why as attributes (``side``, ``cause``), set
when it is raised, and leaves the advice to whoever shows it to a person."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.errors import Forbidden, ServiceUnavailable, Unauthorized
from sync.replication import ReplicationError, RetryPolicy, Side, replicate, sync
from tests.sync.http.flaky import Fault, Flaky
from tests.sync.replication.support import docs_of, sqlite_stores


async def _no_sleep(delay: float) -> None:
    return None


@pytest.mark.parametrize(
    ("faulty", "method", "side"),
    [
        ("source", "info", Side.SOURCE),
        ("source", "changes", Side.SOURCE),
        ("source", "bulk_get", Side.SOURCE),
        ("target", "info", Side.TARGET),
        ("target", "revs_diff", Side.TARGET),
        ("target", "bulk_docs", Side.TARGET),
        ("target", "get_local", Side.CHECKPOINT),
        ("target", "put_local", Side.CHECKPOINT),
    ],
)
async def test_a_permanent_failure_names_its_side_and_cause(
    tmp_path: Path, faulty: str, method: str, side: Side
) -> None:
    error = Forbidden("not here")
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(3))
        flaky = {faulty: Flaky(a if faulty == "source" else b, [Fault(method, 1, error)])}
        with pytest.raises(ReplicationError) as caught:
            await replicate(flaky.get("source", a), flaky.get("target", b))
    failure = caught.value
    assert failure.cause is error
    assert failure.side is side
    assert failure.result is not None
    assert not failure.result.ok
    assert not hasattr(error, "replication_side")  # nothing is patched onto the cause


async def test_giving_up_keeps_the_transient_cause(tmp_path: Path) -> None:
    trouble = ServiceUnavailable(retry_after=0)
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        await a.bulk_docs(docs_of(3))
        target = Flaky(b, [Fault("revs_diff", 1, trouble, times=99)])
        with pytest.raises(ReplicationError) as caught:
            await replicate(a, target, retry=RetryPolicy(max_retries=1, sleep=_no_sleep))
    assert (caught.value.cause, caught.value.side) == (trouble, Side.TARGET)
    assert caught.value.__cause__ is trouble


async def test_sync_reports_the_side_of_the_direction_that_failed(tmp_path: Path) -> None:
    refused = Unauthorized("token expired", error="token_expired")
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        # b refuses to be read: b is the source of b -> a.
        flaky_b = Flaky(b, [Fault("changes", 1, refused)])
        with pytest.raises(ReplicationError) as caught:
            await sync(a, flaky_b)
    assert (caught.value.cause, caught.value.side) == (refused, Side.SOURCE)


async def test_the_message_says_what_failed_not_what_to_do(tmp_path: Path) -> None:
    async with sqlite_stores(tmp_path, "a", "b") as (a, b):
        target = Flaky(b, [Fault("info", 1, Unauthorized("no"))])
        with pytest.raises(ReplicationError) as caught:
            await replicate(a, target)
    message = str(caught.value)
    assert message == "The target database refused our credentials (401 unauthorized: no)."
    for advice in ("check", "enrol", "officer", "network", "administrator"):
        assert advice not in message.lower()
