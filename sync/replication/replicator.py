"""``replicate`` and ``sync``: the CouchDB replication protocol between any two stores.

One run is a *session* (CouchDB's term): read both checkpoints, then a
three-stage pipeline — read changes → (diff, fetch) → (write, checkpoint) —
with at most :data:`PIPELINE_DEPTH` batches in flight between stages, so the
source is read while the target writes. Checkpoints only ever name a seq whose
batch (and every batch before it) is written. A transient failure backs off and
restarts the pipeline from the last written seq; a permanent one ends the run
with a :class:`ReplicationError` that says what failed, where (``side``) and
why (``cause``).

A revision the target refuses (per document, or isolated from a refused
request: :func:`~sync.replication.batches.isolating`) does not stop the run.
It is listed in the result's ``errors`` and ``rejected`` and remembered in the
checkpoint (``rejected``), and every later session offers the remembered ones
again before reading new changes: so the checkpoint moves on, the rest of the
database keeps syncing, and nothing refused is skipped silently; a revision
refused for a passing reason goes through on a later sync. It leaves the list
when the target has it (written, or replicated from elsewhere) or the source
no longer does.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sync.database import Database, Seq
from sync.errors import CouchError, Forbidden, NotFound, Unauthorized
from sync.replication.backoff import RetryPolicy, is_transient
from sync.replication.batches import (
    Fetched,
    Missing,
    WriteOutcome,
    fetch_missing,
    find_missing,
    write_fetched,
)
from sync.replication.changes_reader import DEFAULT_LONGPOLL_TIMEOUT, ChangesBatch, ChangesReader
from sync.replication.checkpointer import Checkpointer
from sync.replication.replication_id import replication_id
from sync.replication.state import (
    Phase,
    Progress,
    ReplicationError,
    ReplicationResult,
    ReplicationState,
    Side,
    blame,
    unblamed,
)
from sync.replication.stopping import Stopped, until_stopped

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_CHECKPOINT_INTERVAL",
    "PIPELINE_DEPTH",
    "replicate",
    "sync",
]

log = logging.getLogger(__name__)

# Changes per batch, PouchDB's default. Records are 0.5-2 KB, so a batch is
# 50-200 KB: about 10 s on a 128 kbit/s rural link, short enough that a
# dropped connection wastes little, long enough that round trips (300-1000 ms
# each) do not dominate. Fast links can pass a bigger one.
DEFAULT_BATCH_SIZE = 100
# Seconds between checkpoints while batches keep coming (CouchDB waits 30 s,
# PouchDB checkpoints every batch: two more requests per batch). Re-reading
# what a lost checkpoint covered costs only _changes + _revs_diff, since
# _revs_diff skips everything already written; and every run still
# checkpoints when it completes, stops, fails or catches up.
DEFAULT_CHECKPOINT_INTERVAL = 10.0
# Batches buffered between pipeline stages: one being worked on downstream
# plus one ready keeps both sides busy; more only holds memory.
PIPELINE_DEPTH = 2

ProgressCallback = Callable[[Progress], None]
T = TypeVar("T")


async def replicate(
    source: Database,
    target: Database,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    doc_ids: Sequence[str] | None = None,
    selector: Mapping[str, Any] | None = None,
    continuous: bool = False,
    since: Seq | None = None,
    on_progress: ProgressCallback | None = None,
    retry: RetryPolicy | None = None,
    checkpoint_interval: float = DEFAULT_CHECKPOINT_INTERVAL,
    stop: asyncio.Event | None = None,
    longpoll_timeout: float = DEFAULT_LONGPOLL_TIMEOUT,
) -> ReplicationResult:
    """Copy every revision ``source`` has and ``target`` lacks, CouchDB-style.

    ``doc_ids`` / ``selector`` replicate only matching documents; ``since``
    starts from that source seq instead of the checkpoint; ``continuous``
    keeps going (long-polling) until ``stop`` is set. Raises
    :class:`ReplicationError` on a permanent failure or, one-shot, when
    ``retry.max_retries`` transient failures came in a row.
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    rep_id = await replication_id(source, target, doc_ids=doc_ids, selector=selector, since=since)
    run = _Replication(
        source=source,
        target=target,
        options=_Options(
            batch_size=batch_size,
            doc_ids=doc_ids,
            selector=selector,
            continuous=continuous,
            since=since,
            checkpoint_interval=checkpoint_interval,
            longpoll_timeout=longpoll_timeout,
        ),
        state=ReplicationState(replication_id=rep_id, session_id=uuid.uuid4().hex),
        retry=retry or RetryPolicy(),
        stop=stop,
        on_progress=on_progress,
    )
    return await run.run()


async def sync(
    a: Database, b: Database, **options: Any
) -> tuple[ReplicationResult, ReplicationResult]:
    """Replicate ``a`` → ``b`` and ``b`` → ``a`` concurrently; the two results, in that order.

    Takes :func:`replicate`'s keyword options except ``since`` (a seq belongs
    to one side only). If one direction fails, the other is cancelled.
    """
    if "since" in options:
        raise TypeError("sync() takes no since=: a seq belongs to one database")
    try:
        async with asyncio.TaskGroup() as group:
            forward = group.create_task(replicate(a, b, **options))
            backward = group.create_task(replicate(b, a, **options))
    except BaseExceptionGroup as failure:
        raise _first_error(failure) from None
    return forward.result(), backward.result()


@dataclass(frozen=True)
class _Options:
    batch_size: int
    doc_ids: Sequence[str] | None
    selector: Mapping[str, Any] | None
    continuous: bool
    since: Seq | None
    checkpoint_interval: float
    longpoll_timeout: float


_Fetched = tuple[ChangesBatch, Missing, Fetched]


@dataclass(frozen=True)
class _Failed:
    """An upstream stage's error, queued behind the batches it already passed on."""

    error: Exception


@dataclass
class _Replication:
    source: Database
    target: Database
    options: _Options
    state: ReplicationState
    retry: RetryPolicy
    stop: asyncio.Event | None
    on_progress: ProgressCallback | None
    _checkpointer: Checkpointer | None = None
    _last_checkpoint: float = 0.0
    _in_flight: set[tuple[str, str]] = field(default_factory=set)

    async def run(self) -> ReplicationResult:
        try:
            await self._retrying(self._start)
            await self._retrying(self._offer_rejected)
            await self._retrying(self._pipeline)
            await self._retrying(self._checkpoint)
            self._enter(Phase.STOPPED if self._stopping() else Phase.COMPLETED)
        except Stopped:
            await self._checkpoint_quietly()
            self._enter(Phase.STOPPED)
        except ReplicationError as failure:
            await self._checkpoint_quietly()
            self._enter(Phase.FAILED)
            raise failure.with_result(ReplicationResult.of(self.state)) from failure.cause
        except BaseException:
            self.state.phase = Phase.FAILED
            raise
        return ReplicationResult.of(self.state)

    # -- the steps ---------------------------------------------------------

    async def _start(self) -> None:
        """Both databases answer, and the checkpoints say where to resume."""
        with blame(Side.SOURCE):
            await self.source.info()
        with blame(Side.TARGET):
            await self.target.info()
        self._checkpointer = Checkpointer(
            self.source, self.target, self.state.replication_id, self.state.session_id
        )
        with blame(Side.CHECKPOINT):
            start = await self._checkpointer.load()
        if self.options.since is not None:
            start = self._checkpointer.start_seq = self.options.since
        self.state.start_seq = self.state.written_seq = start
        self.state.rejected = {
            (item["id"], item.get("rev")): item for item in self._checkpointer.rejected
        }
        self._last_checkpoint = time.monotonic()
        log.info("replication %s resumes from %r", self.state.replication_id, start)
        self._enter(Phase.RUNNING)

    async def _offer_rejected(self) -> None:
        """Offer again what earlier sessions had refused (see the module doc)."""
        if not self.state.rejected:
            return
        rows = [
            {"id": doc_id, "changes": [{"rev": rev}]}
            for doc_id, rev in self.state.rejected
            if isinstance(doc_id, str) and isinstance(rev, str)
        ]
        # Each is refused again, or leaves the list: written, on the target
        # already, or gone from the source.
        self.state.rejected = {}
        with blame(Side.TARGET):
            missing = await find_missing(self.target, rows)
        with blame(Side.SOURCE):
            fetched = await fetch_missing(self.source, missing)
        with blame(Side.TARGET):
            outcome = await write_fetched(self.source, self.target, fetched.docs)
        self._record(missing, fetched, outcome)
        await self._checkpoint()

    async def _pipeline(self) -> None:
        """Read → (diff, fetch) → (write, checkpoint), from the last written seq.

        A failure upstream travels down the queues behind the batches read
        before it, so batches already fetched are still written (a read-ahead
        that broke never cancels a write in flight); the write stage raises it.
        """
        reader = ChangesReader(
            self.source,
            since=self.state.written_seq,
            batch_size=self.options.batch_size,
            doc_ids=self.options.doc_ids,
            selector=self.options.selector,
            continuous=self.options.continuous,
            longpoll_timeout=self.options.longpoll_timeout,
            stop=self.stop,
        )
        self._in_flight = set()  # (id, rev) fetched and not yet written
        changes: asyncio.Queue[ChangesBatch | _Failed | None] = asyncio.Queue(PIPELINE_DEPTH)
        fetched: asyncio.Queue[_Fetched | _Failed | None] = asyncio.Queue(PIPELINE_DEPTH)
        try:
            async with asyncio.TaskGroup() as group:
                group.create_task(self._read_stage(reader, changes))
                group.create_task(self._fetch_stage(changes, fetched))
                group.create_task(self._write_stage(fetched))
        except BaseExceptionGroup as failure:
            raise _first_error(failure) from None

    async def _read_stage(
        self, reader: ChangesReader, out: asyncio.Queue[ChangesBatch | _Failed | None]
    ) -> None:
        try:
            with blame(Side.SOURCE):
                await reader.run(out.put)
        except Exception as exc:
            await out.put(_Failed(exc))

    async def _fetch_stage(
        self,
        batches: asyncio.Queue[ChangesBatch | _Failed | None],
        out: asyncio.Queue[_Fetched | _Failed | None],
    ) -> None:
        in_flight = self._in_flight
        while isinstance(batch := await batches.get(), ChangesBatch):
            try:
                with blame(Side.TARGET):
                    # A doc updated while an earlier batch is being written shows
                    # up again in a later batch; its revs in flight still look
                    # missing to the target, and must not be fetched twice.
                    missing = (await find_missing(self.target, batch.rows)).without(in_flight)
                with blame(Side.SOURCE):
                    docs = await fetch_missing(self.source, missing)
            except Exception as exc:
                await out.put(_Failed(exc))
                return
            in_flight.update(missing.keys() | docs.keys())
            await out.put((batch, missing, docs))
        await out.put(batch)  # the end (None) or an upstream failure

    async def _write_stage(self, batches: asyncio.Queue[_Fetched | _Failed | None]) -> None:
        while (item := await batches.get()) is not None:
            if isinstance(item, _Failed):
                raise item.error
            batch, missing, fetched = item
            with blame(Side.TARGET):
                outcome = await write_fetched(self.source, self.target, fetched.docs)
            self._in_flight.difference_update(missing.keys() | fetched.keys())
            self._record(missing, fetched, outcome)
            # Only now is everything up to batch.last_seq on the target (or rejected).
            self.state.written_seq = batch.last_seq
            self.state.pending = batch.pending
            self.state.retries = 0
            idle = batch.caught_up and self.options.continuous
            if idle or self._checkpoint_due():
                await self._checkpoint()
            self._enter(Phase.WAITING_FOR_CHANGES if idle else Phase.RUNNING, always=True)

    def _record(self, missing: Missing, fetched: Fetched, outcome: WriteOutcome) -> None:
        """Count what a batch did; remember what the target refused, forget what it took."""
        counters = self.state.counters
        refused = [*missing.refused, *outcome.failures]
        counters.missing_checked += missing.checked
        counters.missing_found += missing.found
        counters.docs_read += len(fetched.docs)
        counters.docs_written += outcome.written
        counters.doc_write_failures += len(refused)
        counters.docs_refetched += outcome.refetched
        self.state.errors.extend(refused)
        self.state.errors.extend(fetched.errors)
        rejected = self.state.rejected
        for doc in fetched.docs:
            rejected.pop((doc["_id"], doc["_rev"]), None)
        for item in refused:
            rejected[(item.get("id"), item.get("rev"))] = item
        if self.on_progress is not None:
            self.state.written_ids += (
                doc["_id"] for doc in fetched.docs if (doc["_id"], doc["_rev"]) not in rejected
            )

    async def _checkpoint(self) -> None:
        checkpointer = self._checkpointer
        rejected = list(self.state.rejected.values())
        if checkpointer is None or not checkpointer.needs_save(self.state.written_seq, rejected):
            return
        with blame(Side.CHECKPOINT):
            await checkpointer.save(self.state.written_seq, self.state.counters, rejected)
        self._last_checkpoint = time.monotonic()

    async def _checkpoint_quietly(self) -> None:
        # Keep what was written for the next run, if the link still allows.
        with contextlib.suppress(Exception):
            await self._checkpoint()

    def _checkpoint_due(self) -> bool:
        interval = self.options.checkpoint_interval
        return interval <= 0 or time.monotonic() - self._last_checkpoint >= interval

    # -- retries, phases, progress -----------------------------------------

    async def _retrying(self, step: Callable[[], Awaitable[None]]) -> None:
        """Run ``step``; on a transient failure back off and run it again."""
        while True:
            try:
                await step()
                return
            except Stopped:
                raise
            except Exception as raised:
                exc, side = unblamed(raised)
                if not is_transient(exc):
                    if isinstance(exc, CouchError):
                        message = _permanent_message(exc, side)
                        raise ReplicationError(message, cause=exc, side=side) from exc
                    raise
                attempt = self.state.retries
                if self.retry.gives_up(attempt, continuous=self.options.continuous):
                    message = _gave_up_message(exc, side, attempt)
                    raise ReplicationError(message, cause=exc, side=side) from exc
                delay = self.retry.delay(attempt, exc)
                self.state.retries += 1
                log.warning("replication %s: %r; retrying in %.1f s",
                            self.state.replication_id, exc, delay)
                self._enter(Phase.BACKING_OFF)
                await until_stopped(self.retry.sleep(delay), self.stop)
                self._enter(Phase.RUNNING)

    def _stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def _enter(self, phase: Phase, *, always: bool = False) -> None:
        if phase is self.state.phase and not always:
            return
        self.state.phase = phase
        if self.on_progress is not None:
            self.on_progress(Progress.of(self.state))
            self.state.written_ids.clear()  # each update names only its own


def _where(side: Side | None) -> str:
    if side is Side.CHECKPOINT:
        return "a checkpoint (_local document)"
    return f"the {side.value} database" if side else "a database"


def _permanent_message(exc: CouchError, side: Side | None) -> str:
    what = f"{exc.status} {exc.error_name}: {exc.reason}"
    where = _where(side).capitalize()
    if isinstance(exc, Unauthorized):
        return f"{where} refused our credentials ({what})."
    if isinstance(exc, Forbidden):
        return f"{where} does not allow this replication ({what})."
    if isinstance(exc, NotFound):
        return f"{where} does not exist ({what})."
    return f"{where} rejected a replication request ({what})."


def _gave_up_message(exc: BaseException, side: Side | None, attempts: int) -> str:
    return (f"Gave up after {attempts + 1} failed attempts in a row: {_where(side)} is "
            f"unreachable or failing ({exc!r}). A new run resumes from the last checkpoint.")


def _first_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error that broke a task group (the others are the cancellations it caused)."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return _first_error(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]
