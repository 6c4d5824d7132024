"""What the replica reports: its status, the outcome of a save and of a sync."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import schemas

__all__ = ["Conflicted", "Refused", "SaveReport", "Status", "SyncProgress", "SyncReport"]


@dataclass(frozen=True, slots=True)
class Conflicted:
    record_id: str
    record_type: str | None
    winner: str
    others: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Refused:
    """A revision the server refused at the last sync (``at``); every sync offers it again."""

    record_id: str
    rev: str
    error: str
    reason: str
    at: str


@dataclass(frozen=True, slots=True)
class Status:
    officer_id: str
    device_id: str
    station_id: str
    beat_id: str
    server_url: str | None
    records: dict[str, int]
    pending_records: int
    pending_journal: int
    last_sync_at: str | None
    conflicts: tuple[Conflicted, ...]
    refused: tuple[Refused, ...] = ()


@dataclass(slots=True)
class SaveReport:
    """What :meth:`FieldReplica.save_records` did, each record named by its position."""

    saved: list[tuple[int, str, str]] = field(default_factory=list)  # (position, id, rev)
    existing: list[tuple[int, str]] = field(default_factory=list)  # (position, id)
    refused: list[tuple[int, schemas.RecordInvalid]] = field(default_factory=list)

    def add(self, other: SaveReport) -> None:
        self.saved += other.saved
        self.existing += other.existing
        self.refused += other.refused


@dataclass(frozen=True, slots=True)
class SyncProgress:
    """How far a sync is, in records: the unit ``status`` counts as waiting. A
    record's journal entry travels with it and is not counted."""

    direction: str  # "push" or "pull"
    records: int  # records sent (push) or received (pull) so far
    total: int | None  # push: the records that were waiting; pull: None (the server does not say)


@dataclass(frozen=True, slots=True)
class SyncReport:
    pushed: int  # records (not documents), as SyncProgress
    pulled: int
    # Revisions still refused after this sync ({"id", "rev", "error", "reason"}),
    # in either direction; the next sync offers them again.
    refused: tuple[dict[str, Any], ...] = field(default=())
    at: str = ""
    # Conflicts the office decided that this sync brought: {"id", "type", "at", "by", "reason"}.
    decided: tuple[dict[str, str], ...] = field(default=())
