"""What the office's API returns: plain frozen values, ready for a template or JSON."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from server.state.conflict_queue import QueuedConflict

__all__ = [
    "ConflictCounts",
    "ConflictPage",
    "ConflictView",
    "FieldDiff",
    "LeafView",
    "MergeReport",
    "MergeStats",
    "Resolution",
]


@dataclass(frozen=True, slots=True)
class ConflictPage:
    items: list[QueuedConflict]
    next_after: str | None  # pass as ``after`` for the next page; None: the last page


@dataclass(frozen=True, slots=True)
class LeafView:
    """One live version, and who made it (from the audit log; ``None`` where it has no entry)."""

    rev: str
    body: dict[str, Any]
    winner: bool  # the version CouchDB shows today; the resolution goes on it
    officer_id: str | None  # who sent it (audit log)
    device_id: str | None  # through which device (audit log)
    at: str | None  # when the gateway accepted it (audit log)
    signed: str | None  # "verified" or "unsigned"
    signer: str | None  # the device whose signature the gateway verified
    # What the version says of itself: who edited it and when, by the
    # device's clock (an offline edit reaches the gateway hours later).
    edited_by: str | None = None
    edited_at: str | None = None


@dataclass(frozen=True, slots=True)
class FieldDiff:
    path: str  # dotted, e.g. "complainant.name"
    values: dict[str, Any]  # rev -> value (None where that version lacks it)
    mergeable: bool  # False: the office must choose


@dataclass(frozen=True, slots=True)
class ConflictView:
    conflict: QueuedConflict
    leaves: list[LeafView]
    differing: list[FieldDiff]
    proposal: dict[str, Any]  # what the automatic merge gives for every field it can


@dataclass(frozen=True, slots=True)
class Resolution:
    doc_id: str
    rev: str  # the new revision, on the winning leaf
    deleted: tuple[str, ...]  # the losing leaves, now tombstones


@dataclass(slots=True)
class MergeStats:
    """This process's totals, live (Prometheus counters read them)."""

    merged: int = 0  # records merged automatically
    queued: int = 0  # records newly queued or re-queued with new leaves
    resolved: int = 0  # records resolved through the desk


@dataclass(frozen=True, slots=True)
class ConflictCounts:
    open: int  # queued and not yet resolved (from storage: every gateway's)
    merged: int
    queued: int
    resolved: int


@dataclass(slots=True)
class MergeReport:
    """One pass over a station's changes."""

    station_id: str
    checked: int = 0  # changes rows read
    merged: list[str] = field(default_factory=list)  # doc ids
    queued: list[str] = field(default_factory=list)
    # At a station hub: records not yet relayed to the district (merged once
    # they are), and those left in conflict for the district to merge or queue.
    deferred: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
