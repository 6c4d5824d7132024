"""What the office's reports read: counts of complaints and the lists of
overdue items, from an index of the records, never from the records themselves.

Each backend keeps its own index, updated from the station databases'
changes: the embedded store in a SQLite file (:mod:`server.state.report_index`),
CouchDB in the views of the district database (:mod:`server.couch.reports`).
Both index the same few fields of each record's winning revision, computed
here once (:func:`report_row`) and, for CouchDB, by the view's map function
that mirrors it (``server/couch/reports.py``): type, station, beat, status,
category, the month it was made (India time), and for what can fall
overdue, the moment its clock started.

What falls overdue (the office's two questions):

* a verification visit still ``assigned`` (not made), counted from when it
  was assigned (``created_at``);
* a complaint not closed nor converted to an FIR, counted from its last
  action (the newest ``action_log`` time, else ``created_at``).

No names, addresses or text are indexed: only what a count or a list needs.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal, TypeAlias

import orjson

from schemas.i18n import IST
from schemas.lifecycle import FINAL_STATUSES
from sync.errors import BadRequest

__all__ = [
    "OVERDUE_KINDS",
    "Counts",
    "OverdueItem",
    "OverduePage",
    "OverdueQuery",
    "ReportIndex",
    "ReportRow",
    "canonical_time",
    "month_of",
    "page_mark",
    "report_row",
]

OverdueKind: TypeAlias = Literal["verification_visit", "complaint"]
OVERDUE_KINDS: Final[tuple[OverdueKind, ...]] = ("verification_visit", "complaint")
_COMPLAINT_DONE: Final = FINAL_STATUSES["complaint"]


def _moment(stamp: Any) -> datetime | None:
    if not isinstance(stamp, str):
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def canonical_time(moment: datetime) -> str:
    """UTC with milliseconds, as JavaScript's ``toISOString()`` writes it, so
    the embedded index and the CouchDB view order and compare the same strings."""
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def month_of(moment: datetime) -> str:
    return moment.astimezone(IST).strftime("%Y-%m")


@dataclass(frozen=True, slots=True)
class ReportRow:
    """The indexed fields of one record (its winning revision)."""

    station_id: str
    doc_id: str
    type: str
    beat_id: str | None
    status: str | None
    category: str | None
    month: str
    # When the overdue clock started; None: this record cannot fall overdue.
    waiting_since: str | None


def _last_action(doc: Mapping[str, Any]) -> datetime | None:
    times = [
        _moment(entry.get("at")) for entry in doc.get("action_log") or () if isinstance(entry, dict)
    ]
    found = [t for t in times if t is not None]
    return max(found) if found else _moment(doc.get("created_at"))


def _waiting_since(doc: Mapping[str, Any], created: datetime) -> datetime | None:
    if doc.get("type") == "verification_visit":
        return created if doc.get("status") == "assigned" else None
    if doc.get("type") == "complaint" and doc.get("status") not in _COMPLAINT_DONE:
        return _last_action(doc)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def report_row(station_id: str, doc: Mapping[str, Any]) -> ReportRow | None:
    """What the index holds of ``doc``; ``None`` for what reports never count
    (journal entries, deletions, a record without a readable ``created_at``)."""
    record_type = doc.get("type")
    created = _moment(doc.get("created_at"))
    if not isinstance(record_type, str) or created is None or doc.get("_deleted"):
        return None
    if record_type == "journal_entry":
        return None
    since = _waiting_since(doc, created)
    return ReportRow(
        station_id=station_id,
        doc_id=str(doc["_id"]),
        type=record_type,
        beat_id=_text(doc.get("beat_id")),
        status=_text(doc.get("status")),
        category=_text(doc.get("category")),
        month=month_of(created),
        waiting_since=canonical_time(since) if since is not None else None,
    )


@dataclass(frozen=True, slots=True)
class Counts:
    """Complaints made in one month, counted three ways (and in all)."""

    by_station: Mapping[str, int] = field(default_factory=dict)
    by_status: Mapping[str, int] = field(default_factory=dict)
    by_category: Mapping[str, int] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.by_station.values())

    @classmethod
    def of(cls, rows: Sequence[tuple[str, str | None, str | None, int]]) -> Counts:
        """From ``(station, status, category, count)`` rows."""
        station: dict[str, int] = {}
        status: dict[str, int] = {}
        category: dict[str, int] = {}
        for st, stat, cat, n in rows:
            station[st] = station.get(st, 0) + n
            status[stat or ""] = status.get(stat or "", 0) + n
            category[cat or ""] = category.get(cat or "", 0) + n
        return cls(_sorted(station), _sorted(status), _sorted(category))


def _sorted(counts: Mapping[str, int]) -> dict[str, int]:
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


@dataclass(frozen=True, slots=True)
class OverdueItem:
    station_id: str
    doc_id: str
    beat_id: str | None
    status: str | None
    waiting_since: str


@dataclass(frozen=True, slots=True)
class OverdueQuery:
    """Records of ``kind`` (of ``station_id``, None: the district) waiting
    since before ``before`` (a :func:`canonical_time`), ``limit`` of them
    from the page mark ``after``."""

    kind: OverdueKind
    station_id: str | None
    before: str
    after: str | None = None
    limit: int = 50

    def next(self, page: OverduePage) -> OverdueQuery | None:
        """The query of the page after ``page``; None after the last."""
        if page.next_after is None:
            return None
        return OverdueQuery(self.kind, self.station_id, self.before, page.next_after, self.limit)


@dataclass(frozen=True, slots=True)
class OverduePage:
    items: Sequence[OverdueItem]
    # Pass as ``after`` for the next page (an opaque string); None: the last page.
    next_after: str | None


def page_mark(after: str | None, length: int) -> list[str] | None:
    """A list's page mark (the JSON list of ``length`` strings it gave as
    ``next_after``), or 400 for anything else."""
    if after is None:
        return None
    try:
        value = orjson.loads(after)
    except orjson.JSONDecodeError:
        raise BadRequest("after is not a page mark") from None
    if not isinstance(value, list) or len(value) != length:
        raise BadRequest("after is not a page mark")
    if not all(isinstance(v, str) for v in value):
        raise BadRequest("after is not a page mark")
    return value


class ReportIndex(abc.ABC):
    """The reports' reads, over one backend's index (see the module docstring).

    ``station_id`` None is the whole district; the caller has already decided
    who may see what."""

    @abc.abstractmethod
    async def counts(self, station_id: str | None, month: str) -> Counts:
        """Complaints made in ``month`` (``YYYY-MM``, India time)."""

    @abc.abstractmethod
    async def months(self, station_id: str | None, first: str, last: str) -> dict[str, int]:
        """Complaints made per month from ``first`` to ``last`` (months without any absent)."""

    @abc.abstractmethod
    async def overdue(self, query: OverdueQuery) -> OverduePage:
        """One page of the records the query asks for, longest waiting first."""

    async def warm(self) -> None:
        """Build what the first report would otherwise wait for (the gateway
        runs this in the background at start); nothing by default."""
        return None

    async def close(self) -> None:
        return None
