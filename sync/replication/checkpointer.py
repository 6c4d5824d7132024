"""Checkpoints: where a replication got to, kept in ``_local/<rep id>`` on both sides.

The format and the resume rule are CouchDB's (replication protocol, "Retrieve
Replication Logs from Source and Target" and "Compare Replication Logs";
``couch_replicator``'s ``compare_replication_logs``), so a checkpoint written
here reads like one CouchDB or PouchDB wrote. A checkpoint is written to
both sides because either may lose it (a restored backup, a wiped device):
resuming needs both to agree on a session, else replication starts over,
which is slower but never wrong.

Ours adds one member CouchDB's replicator ignores: ``rejected``, the
revisions the target refused (``{"id", "rev", "error", "reason"}``). A
checkpoint names the seq up to which every change was *handled*; a refused
revision is handled by being remembered here, and every later session offers
it again first, so moving past it skips nothing silently.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any

from sync.database import Database, Doc, Seq
from sync.errors import Conflict, NotFound
from sync.replication.replication_id import REPLICATION_ID_VERSION, checkpoint_doc_id
from sync.replication.state import Counters

__all__ = ["HISTORY_LIMIT", "Checkpointer", "compare_replication_logs"]

# CouchDB keeps the 50 newest sessions in a checkpoint's history.
HISTORY_LIMIT = 50
LOWEST_SEQ: Seq = 0


def compare_replication_logs(
    source_log: Mapping[str, Any] | None, target_log: Mapping[str, Any] | None
) -> tuple[Seq, list[dict[str, Any]]]:
    """``(since, history to build on)`` from the two checkpoint docs (``None`` if absent).

    Same ``session_id`` on both: the last session's checkpoint is valid on both
    sides, resume from the source's ``source_last_seq``. Otherwise walk both
    histories, newest first, for a session both sides recorded and resume from
    its ``recorded_seq``; with none in common, start from the beginning.
    """
    if not source_log or not target_log:
        return LOWEST_SEQ, []
    if source_log.get("session_id") == target_log.get("session_id"):
        return source_log.get("source_last_seq", LOWEST_SEQ), list(source_log.get("history", []))
    return _compare_histories(
        list(source_log.get("history", [])), list(target_log.get("history", []))
    )


def _compare_histories(
    source: Sequence[Mapping[str, Any]], target: Sequence[Mapping[str, Any]]
) -> tuple[Seq, list[dict[str, Any]]]:
    # couch_replicator's compare_rep_history, unrolled into a loop.
    source, target = list(source), list(target)
    while source and target:
        head_s, head_t = source[0], target[0]
        if _has_session(head_s.get("session_id"), target):
            return head_s.get("recorded_seq", LOWEST_SEQ), [dict(h) for h in source[1:]]
        if _has_session(head_t.get("session_id"), source[1:]):
            return head_t.get("recorded_seq", LOWEST_SEQ), [dict(h) for h in target[1:]]
        source, target = source[1:], target[1:]
    return LOWEST_SEQ, []


def _has_session(session_id: object, history: Sequence[Mapping[str, Any]]) -> bool:
    return session_id is not None and any(h.get("session_id") == session_id for h in history)


def _http_date(epoch: float) -> str:
    # CouchDB writes start_time/end_time as RFC 1123 dates.
    return formatdate(epoch, usegmt=True)


@dataclass
class Checkpointer:
    """Reads the two checkpoint docs at start, writes both after written batches."""

    source: Database
    target: Database
    rep_id: str
    session_id: str
    start_time: float = field(default_factory=time.time)
    start_seq: Seq = LOWEST_SEQ
    _base_history: list[dict[str, Any]] = field(default_factory=list)
    _revs: dict[str, str | None] = field(default_factory=dict)  # "source"/"target" -> _rev
    _recorded: Seq | None = None
    _recorded_rejected: list[dict[str, Any]] = field(default_factory=list)
    # What the checkpoints on either side remembered as refused (see module doc).
    rejected: list[dict[str, Any]] = field(default_factory=list)

    @property
    def doc_id(self) -> str:
        return checkpoint_doc_id(self.rep_id)

    async def load(self) -> Seq:
        """Read both checkpoint docs; return the seq to resume from."""
        source_log, target_log = await asyncio.gather(
            self._read(self.source, "source"), self._read(self.target, "target")
        )
        self.start_seq, self._base_history = compare_replication_logs(source_log, target_log)
        self._recorded = self.start_seq
        # Both sides' lists: offering a rev again that the target took since is
        # one _revs_diff entry, and a side may have missed the last checkpoint.
        known: dict[tuple[Any, Any], dict[str, Any]] = {}
        for log in (source_log, target_log):
            for item in (log or {}).get("rejected", ()):
                if isinstance(item, dict) and isinstance(item.get("id"), str):
                    known.setdefault((item["id"], item.get("rev")), dict(item))
        self.rejected = self._recorded_rejected = list(known.values())
        return self.start_seq

    async def _read(self, db: Database, side: str) -> Doc | None:
        try:
            doc = await db.get_local(self.doc_id)
        except NotFound:
            self._revs[side] = None
            return None
        self._revs[side] = doc.get("_rev")
        return doc

    def needs_save(self, seq: Seq, rejected: Sequence[dict[str, Any]] = ()) -> bool:
        return seq != self._recorded or list(rejected) != self._recorded_rejected

    async def save(
        self, seq: Seq, counters: Counters, rejected: Sequence[dict[str, Any]] = ()
    ) -> None:
        """Record that every change up to ``seq`` is on the target or in ``rejected``
        (call only after writing it)."""
        entry = {
            "session_id": self.session_id,
            "start_time": _http_date(self.start_time),
            "end_time": _http_date(time.time()),
            "start_last_seq": self.start_seq,
            "end_last_seq": seq,
            "recorded_seq": seq,
            "missing_checked": counters.missing_checked,
            "missing_found": counters.missing_found,
            "docs_read": counters.docs_read,
            "docs_written": counters.docs_written,
            "doc_write_failures": counters.doc_write_failures,
        }
        body = {
            "session_id": self.session_id,
            "source_last_seq": seq,
            "replication_id_version": REPLICATION_ID_VERSION,
            "history": [entry, *self._base_history][:HISTORY_LIMIT],
        }
        if rejected:
            body["rejected"] = list(rejected)
        # Both sides at once: a round trip less per checkpoint on slow links. If
        # only one lands, the next load still resumes correctly (see module doc).
        await asyncio.gather(
            self._write(self.source, "source", body), self._write(self.target, "target", body)
        )
        self._recorded = seq
        self._recorded_rejected = list(rejected)

    async def _write(self, db: Database, side: str, body: Doc) -> None:
        doc = {"_id": self.doc_id, **body}
        if self._revs.get(side):
            doc["_rev"] = self._revs[side]
        try:
            answer = await db.put_local(doc)
        except Conflict:
            # Our last write landed but its answer was lost (a dropped link), or
            # an older run of this same replication wrote since: this replication
            # owns the doc, so take its current rev and write again.
            try:
                current = await db.get_local(self.doc_id)
                doc["_rev"] = current["_rev"]
            except NotFound:
                doc.pop("_rev", None)
            answer = await db.put_local(doc)
        self._revs[side] = answer.get("rev")
