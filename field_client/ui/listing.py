"""The app's lists: search, filters and pages over the replica's records."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

__all__ = ["PAGE_SIZE", "VISIT_DAYS", "Page", "due_by", "is_today", "matches", "page_of"]

# Rows per page: a tablet screen's worth, and a page stays small on an old device.
PAGE_SIZE = 20
# The days a beat officer has for an assigned verification visit (the
# district's target for passport and tenant verification), from the request.
VISIT_DAYS = 15

# What a search looks in, per type: the text fields an officer remembers.
_SEARCHED: Mapping[str, Sequence[str]] = {
    "complaint": ("complainant.name", "complainant.phone", "description", "incident.place"),
    "visitor_entry": ("visitor.name", "visitor.phone", "purpose", "whom_to_meet"),
    "verification_visit": ("subject.name", "subject.phone", "address", "findings"),
}


def value_at(doc: Mapping[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def matches(doc: Mapping[str, Any], query: str) -> bool:
    """Every word of ``query`` appears in one of the type's searched fields (any case)."""
    words = query.casefold().split()
    texts = [str(value_at(doc, path) or "").casefold() for path in _SEARCHED[doc["type"]]]
    texts.append(doc["_id"])
    return all(any(word in text for text in texts) for word in words)


@dataclass(frozen=True, slots=True)
class Page:
    rows: Sequence[Mapping[str, Any]]
    number: int
    pages: int
    total: int


def page_of(
    docs: Sequence[Mapping[str, Any]], number: int, keep: Callable[[Mapping[str, Any]], bool]
) -> Page:
    """Page ``number`` (from 1) of the kept ``docs``, newest first."""
    kept = [doc for doc in reversed(docs) if keep(doc)]
    pages = max(1, -(-len(kept) // PAGE_SIZE))
    number = min(max(1, number), pages)
    start = (number - 1) * PAGE_SIZE
    return Page(kept[start : start + PAGE_SIZE], number, pages, len(kept))


def _day(stamp: Any) -> date | None:
    try:
        return datetime.fromisoformat(str(stamp)).astimezone().date()
    except ValueError:
        return None


def is_today(doc: Mapping[str, Any]) -> bool:
    today = datetime.now().astimezone().date()
    return today in (_day(doc.get("time_in")), _day(doc.get("expected_at")))


def due_by(doc: Mapping[str, Any]) -> str:
    """The day an assigned visit is due: ``VISIT_DAYS`` after the request came in."""
    day = _day(doc.get("created_at"))
    return "" if day is None else (day + timedelta(days=VISIT_DAYS)).isoformat()
