"""The office's conflict queue: records whose leaves the domain rules could not merge.

One open entry per record (station, doc id) while it stays in conflict; the
merge runner adds or refreshes it, the office's resolution (or the record
leaving conflict some other way) closes it. Closed entries stay, as the
history of what was decided, by whom and why. Stored beside the rest of the
gateway state: :class:`server.state.sqlite.SQLiteGatewayState` and
:class:`server.couch.state.CouchGatewayState` both implement it.

Entries are listed in one stable order, (station, doc id, when queued), so
a page ends at a key and the next page starts after it (:attr:`QueuedConflict.key`).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

__all__ = [
    "CLOSED_STATUSES",
    "ConflictQueue",
    "ConflictStatus",
    "QueuedConflict",
    "parse_after",
    "refreshed",
]

ConflictStatus = Literal["open", "resolved", "superseded"]
# resolved: by the office; superseded: the record left conflict without it
# (a device, a hub or another gateway wrote a resolution first).
CLOSED_STATUSES: Final = ("resolved", "superseded")


@dataclass(frozen=True, slots=True)
class QueuedConflict:
    station_id: str
    doc_id: str
    record_type: str | None
    leaves: tuple[str, ...]  # the live leaf revs when queued, sorted
    fields: tuple[str, ...]  # dotted paths the merge could not decide
    queued_at: str
    status: ConflictStatus = "open"
    closed_at: str | None = None
    resolved_by: str | None = None
    reason: str | None = None
    resolution_rev: str | None = None

    @property
    def key(self) -> str:
        """Where this entry sits in the listing order (pass it as ``after``)."""
        return f"{self.station_id}/{self.doc_id}/{self.queued_at}"

    def closed(
        self,
        status: ConflictStatus,
        at: str,
        *,
        by: str | None = None,
        reason: str | None = None,
        rev: str | None = None,
    ) -> QueuedConflict:
        return replace(
            self, status=status, closed_at=at, resolved_by=by, reason=reason, resolution_rev=rev
        )

    def public(self) -> dict[str, Any]:
        return {
            "station_id": self.station_id,
            "doc_id": self.doc_id,
            "record_type": self.record_type,
            "leaves": list(self.leaves),
            "fields": list(self.fields),
            "queued_at": self.queued_at,
            "status": self.status,
            "closed_at": self.closed_at,
            "resolved_by": self.resolved_by,
            "reason": self.reason,
            "resolution_rev": self.resolution_rev,
        }

    @classmethod
    def from_public(cls, data: dict[str, Any]) -> QueuedConflict:
        return cls(
            station_id=data["station_id"],
            doc_id=data["doc_id"],
            record_type=data.get("record_type"),
            leaves=tuple(data.get("leaves", ())),
            fields=tuple(data.get("fields", ())),
            queued_at=data["queued_at"],
            status=data.get("status", "open"),
            closed_at=data.get("closed_at"),
            resolved_by=data.get("resolved_by"),
            reason=data.get("reason"),
            resolution_rev=data.get("resolution_rev"),
        )


def refreshed(existing: QueuedConflict | None, entry: QueuedConflict) -> QueuedConflict | None:
    """What to store when ``entry`` is queued over ``existing`` (its record's
    open entry, if any): ``None`` when nothing changed. A record keeps its
    place in the queue (when it was first queued) as its leaves change."""
    if existing is None:
        return entry
    if (existing.leaves, existing.fields) == (entry.leaves, entry.fields):
        return None
    return replace(entry, queued_at=existing.queued_at)


def parse_after(after: str | None) -> tuple[str, str, str] | None:
    """A :attr:`QueuedConflict.key` back into (station, doc id, queued at)."""
    if after is None:
        return None
    parts = after.split("/", 2)
    if len(parts) != 3:
        raise ValueError(f"not a conflict queue position: {after!r}")
    return parts[0], parts[1], parts[2]


class ConflictQueue(abc.ABC):
    @abc.abstractmethod
    async def queue_conflict(self, entry: QueuedConflict) -> bool:
        """Open ``entry``, or refresh the open entry of its record with its leaves
        and fields (keeping when it was first queued). True unless nothing changed."""

    @abc.abstractmethod
    async def open_conflicts(
        self, station_id: str, doc_ids: Sequence[str]
    ) -> dict[str, QueuedConflict]:
        """The open entries of those of ``doc_ids`` that have one, in one query."""

    async def open_conflict(self, station_id: str, doc_id: str) -> QueuedConflict | None:
        return (await self.open_conflicts(station_id, [doc_id])).get(doc_id)

    @abc.abstractmethod
    async def close_conflict(self, closed: QueuedConflict) -> bool:
        """Store ``closed`` (an open entry's :meth:`QueuedConflict.closed`) in its
        place. False when it was closed already (two resolutions of the same
        conflict at once, or by two gateways): only one is told to listeners."""

    @abc.abstractmethod
    async def list_conflicts(
        self,
        *,
        status: ConflictStatus = "open",
        station_id: str | None = None,
        after: str | None = None,
        limit: int = 50,
    ) -> list[QueuedConflict]:
        """Entries in ``status``, in :attr:`QueuedConflict.key` order after ``after``."""

    @abc.abstractmethod
    async def count_conflicts(self, *, station_id: str | None = None) -> int:
        """How many are open."""
