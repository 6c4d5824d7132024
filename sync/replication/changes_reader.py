"""Reading the source's ``_changes`` in batches, ahead of the worker.

Protocol step "Listen to Changes Feed": ``style=all_docs`` so every leaf
(conflicts too) is offered, ``limit`` = batch size so a batch has a bounded
size, ``since`` = the checkpoint. A continuous replication, once caught up,
long-polls for the next change.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sync.database import Database, Doc, Seq
from sync.replication.stopping import Stopped, until_stopped

__all__ = ["DEFAULT_LONGPOLL_TIMEOUT", "ChangesBatch", "ChangesReader"]

# Seconds a continuous replication's longpoll asks the source to wait. Below
# the 30-60 s after which NAT boxes and mobile carriers drop idle connections.
DEFAULT_LONGPOLL_TIMEOUT = 25.0


@dataclass(frozen=True)
class ChangesBatch:
    rows: list[Doc]
    last_seq: Seq  # the source's seq after this batch: the checkpoint once it is written
    pending: int | None  # changes left after this batch, when the source says
    # Nothing more to read right now. CouchDB says so with `pending`. PouchDB
    # reports no `pending` and may return a short page while docs are being
    # updated (rows of docs that moved to a later seq drop out of the page),
    # and a client that filters a page itself (HttpDatabase on a server
    # without the _selector filter) may empty it while the seq moves on: so
    # without `pending`, only a page with no rows that leaves the seq where it
    # was means caught up.
    caught_up: bool = False


@dataclass
class ChangesReader:
    source: Database
    since: Seq
    batch_size: int
    doc_ids: Sequence[str] | None = None
    selector: Mapping[str, Any] | None = None
    continuous: bool = False
    longpoll_timeout: float = DEFAULT_LONGPOLL_TIMEOUT
    stop: asyncio.Event | None = None

    async def run(self, put: Callable[[ChangesBatch | None], Awaitable[None]]) -> None:
        """Hand batches to ``put`` in seq order; ``None`` when done (or stopped)."""
        waiting = False
        try:
            while not (self.stop and self.stop.is_set()):
                batch = await self._read(longpoll=waiting)
                if batch.rows or batch.last_seq != self.since or batch.caught_up != waiting:
                    # A batch with no rows still moves the checkpoint on (a
                    # filter may have skipped everything in it) or tells the
                    # worker that the replication has caught up.
                    await put(batch)
                self.since = batch.last_seq
                waiting = batch.caught_up
                if waiting and not self.continuous:
                    break
        except Stopped:
            pass
        await put(None)

    async def _read(self, *, longpoll: bool) -> ChangesBatch:
        request = self.source.changes(
            since=self.since,
            limit=self.batch_size,
            style="all_docs",
            doc_ids=self.doc_ids,
            selector=self.selector,
            feed="longpoll" if longpoll else "normal",
            timeout=self.longpoll_timeout if longpoll else None,
        )
        answer = await (until_stopped(request, self.stop) if longpoll else request)
        rows = list(answer.get("results", []))
        pending = answer.get("pending")
        pending = pending if isinstance(pending, int) else None
        last_seq = answer.get("last_seq", self.since)
        return ChangesBatch(
            rows=rows,
            last_seq=last_seq,
            pending=pending,
            caught_up=pending == 0 if pending is not None else not rows and last_seq == self.since,
        )
