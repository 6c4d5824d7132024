"""What a replication is doing and what it has done: one state enum, one counter set.

PouchDB's ``replicate.js`` spreads this over a dozen mutable flags; here the
phase is one :class:`Phase` value and every figure CouchDB reports in a
checkpoint's history lives in :class:`Counters`.
"""

from __future__ import annotations

import contextlib
import enum
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sync.database import Seq
from sync.errors import CouchError

__all__ = [
    "Counters",
    "Phase",
    "Progress",
    "ReplicationError",
    "ReplicationResult",
    "ReplicationState",
    "Side",
]


class Phase(enum.Enum):
    STARTING = "starting"
    RUNNING = "running"
    WAITING_FOR_CHANGES = "waiting_for_changes"  # continuous: caught up, long-polling
    BACKING_OFF = "backing_off"  # a transient error; retrying after a delay
    COMPLETED = "completed"
    STOPPED = "stopped"  # the caller set ``stop``
    FAILED = "failed"


@dataclass
class Counters:
    """The per-session figures of a CouchDB checkpoint history entry."""

    docs_read: int = 0  # revisions fetched from the source
    docs_written: int = 0
    doc_write_failures: int = 0
    missing_checked: int = 0  # revisions asked about in _revs_diff
    missing_found: int = 0  # ... of which the target lacked
    # Ours, not in CouchDB's history: docs read again with every attachment
    # inline because the target lacked a stubbed one (412 missing_stub).
    docs_refetched: int = 0


@dataclass
class ReplicationState:
    """Everything a running replication knows, in one place."""

    replication_id: str
    session_id: str
    phase: Phase = Phase.STARTING
    start_seq: Seq = 0  # where this session started reading (from the checkpoint)
    written_seq: Seq = 0  # every change up to here is on the target: safe to checkpoint
    pending: int | None = None  # changes the source says are left after the last batch
    counters: Counters = field(default_factory=Counters)
    errors: list[dict[str, Any]] = field(default_factory=list)
    retries: int = 0  # transient failures since the last successful batch
    # (doc id, rev) -> refusal: revisions the target refused that are not on it
    # yet. Kept in the checkpoint and offered again by every later session, so
    # the checkpoint moving past them skips nothing (see the replicator).
    rejected: dict[tuple[Any, Any], dict[str, Any]] = field(default_factory=dict)
    # Ids the batches written since the last progress update wrote (see Progress;
    # kept only when someone listens to the progress).
    written_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Progress:
    """Sent to ``on_progress`` after each batch (and on each phase change)."""

    docs_read: int
    docs_written: int
    doc_write_failures: int
    missing_checked: int
    pending: int | None
    last_seq: Seq
    state: Phase
    # The ids of the documents written since the previous update, each update
    # naming its own: a client that counts only some documents (the field
    # client's records, not their journal entries) adds them up.
    written_ids: tuple[str, ...] = ()

    @classmethod
    def of(cls, state: ReplicationState) -> Progress:
        c = state.counters
        return cls(
            docs_read=c.docs_read,
            docs_written=c.docs_written,
            doc_write_failures=c.doc_write_failures,
            missing_checked=c.missing_checked,
            pending=state.pending,
            last_seq=state.written_seq,
            state=state.phase,
            written_ids=tuple(state.written_ids),
        )


@dataclass(frozen=True)
class ReplicationResult:
    """What ``replicate`` returns, shaped like CouchDB's ``POST /_replicate`` answer.

    ``ok`` is CouchDB's: the replication ran to its end (or to ``stop``);
    documents the target refused this session are counted in
    ``doc_write_failures`` and listed in ``errors`` (``{"id", "rev"?, "error",
    "reason"}``). ``rejected`` lists every revision still refused, from this
    session or earlier ones: each later session offers them again.
    """

    ok: bool
    replication_id: str
    session_id: str
    start_last_seq: Seq
    end_last_seq: Seq
    docs_read: int
    docs_written: int
    doc_write_failures: int
    missing_checked: int
    missing_found: int
    state: Phase
    errors: tuple[dict[str, Any], ...] = ()
    docs_refetched: int = 0  # see Counters.docs_refetched
    rejected: tuple[dict[str, Any], ...] = ()

    @classmethod
    def of(cls, state: ReplicationState) -> ReplicationResult:
        c = state.counters
        return cls(
            ok=state.phase in (Phase.COMPLETED, Phase.STOPPED),
            replication_id=state.replication_id,
            session_id=state.session_id,
            start_last_seq=state.start_seq,
            end_last_seq=state.written_seq,
            docs_read=c.docs_read,
            docs_written=c.docs_written,
            doc_write_failures=c.doc_write_failures,
            missing_checked=c.missing_checked,
            missing_found=c.missing_found,
            state=state.phase,
            errors=tuple(state.errors),
            docs_refetched=c.docs_refetched,
            rejected=tuple(state.rejected.values()),
        )


class Side(enum.Enum):
    """Where in a replication an error came from."""

    SOURCE = "source"
    TARGET = "target"
    CHECKPOINT = "checkpoint"  # a checkpoint document (_local/...), read and written on both


class ReplicationError(Exception):
    """Raised when a replication stopped for good: a database refused it (a
    permanent error), or transient failures came ``max_retries`` times in a row.

    The message says what failed and where, in the replication's own terms;
    what a person should do about it is for the program they use to say (the
    field client words it for the officer), from ``cause``, the error that
    stopped the run (also its ``__cause__``), and ``side``, where it came from
    (``None`` when no database call raised it). ``result`` holds what was
    done before the failure (``ok`` is false).
    """

    def __init__(
        self,
        message: str,
        result: ReplicationResult | None = None,
        *,
        cause: BaseException | None = None,
        side: Side | None = None,
    ) -> None:
        super().__init__(message)
        self.result = result
        self.cause = cause
        self.side = side

    def with_result(self, result: ReplicationResult) -> ReplicationError:
        """The same failure, with what the run had done when it stopped."""
        return ReplicationError(str(self), result, cause=self.cause, side=self.side)


class Blamed(Exception):
    """A database's error on its way to the replicator's retry loop, with where it
    came from. Internal: :func:`sync.replication.replicate` never lets one out."""

    def __init__(self, error: CouchError, side: Side) -> None:
        super().__init__(f"{side.value}: {error!r}")
        self.error = error
        self.side = side


@contextlib.contextmanager
def blame(side: Side) -> Iterator[None]:
    """A :class:`CouchError` raised inside comes out as :class:`Blamed` on ``side``
    (the innermost ``blame`` names it: a ``Blamed`` passes outer ones untouched)."""
    try:
        yield
    except CouchError as exc:
        raise Blamed(exc, side) from exc


def unblamed(exc: BaseException) -> tuple[BaseException, Side | None]:
    """The error itself and where it came from (``None``: not known)."""
    if isinstance(exc, Blamed):
        return exc.error, exc.side
    return exc, None
