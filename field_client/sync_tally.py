"""A sync's progress counted in records, the unit ``beatsync status`` counts as
waiting (a record's journal entry travels with it uncounted), and how far the
push got, so a sync cut short still moves what it sent out of the waiting count."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from field_client.remote import pending_report
from field_client.reports import SyncProgress
from sync import journal
from sync.database import Database
from sync.replication import Progress

__all__ = ["SyncTally"]


def _records(ids: Iterable[str]) -> int:
    return sum(1 for doc_id in ids if not journal.is_entry_id(doc_id))


class SyncTally:
    """A sync's progress in records, and how far the push got (for :meth:`synced_seq`).

    Both ways of syncing (the session and the standard replication) push
    everything before they pull, so the first pull report means the push is
    over: with nothing refused, every change up to ``push_end`` (the local
    seq when the sync began) is on the server. An edit saved during the sync
    is after it, so it stays waiting until the next sync."""

    def __init__(
        self,
        waiting: int,
        start_seq: Any,
        listener: Callable[[SyncProgress], None] | None,
        report: dict[str, str] | None = None,
    ) -> None:
        self.waiting, self.listener, self.report = waiting, listener, report
        self.sent = self.received = 0
        self.pushed_to: Any = None  # local seq up to which every change is on the server
        self.push_failures = 0
        self.pushed_all = False
        self.push_end: Any = start_seq
        self.pulled_ids: set[str] = set()
        self._pulling = False

    def update(self, direction: str, progress: Progress) -> None:
        if direction == "push":
            self._push(progress)
        else:
            self._pull(progress)

    def _push(self, progress: Progress) -> None:
        self.sent += _records(progress.written_ids)
        self.push_failures = progress.doc_write_failures
        if progress.doc_write_failures == 0 and progress.last_seq is not None:
            self.pushed_to = progress.last_seq
        if self.report is not None:  # the next request tells the gateway
            self.report.update(pending_report(max(self.waiting - self.sent, 0)))
        if self.listener is not None:
            self.listener(SyncProgress("push", self.sent, max(self.waiting, self.sent)))

    def _pull(self, progress: Progress) -> None:
        if not self._pulling:
            self._pulling = True
            self.pushed_all = self.push_failures == 0
        self.pulled_ids.update(progress.written_ids)
        self.received += _records(progress.written_ids)
        if self.listener is not None:
            self.listener(SyncProgress("pull", self.received, None))

    async def synced_seq(self, db: Database, current: int) -> int:
        """Where ``synced_seq`` may move from ``current``, also after a cut sync:
        past what the push wrote, and past what the pull brought if nothing was
        edited here meanwhile (an edit saved during the sync stays waiting)."""
        seq: Any = current
        if self.pushed_all and isinstance(self.push_end, int):
            seq = self.push_end
            since_push = await db.changes(since=seq)
            if all(row["id"] in self.pulled_ids for row in since_push["results"]):
                seq = since_push["last_seq"]
        elif isinstance(self.pushed_to, int):
            seq = self.pushed_to
        return seq if isinstance(seq, int) and seq > current else current
