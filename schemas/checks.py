"""Rules JSON Schema cannot state: comparisons between two fields of one record."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from schemas.errors import FieldError
from schemas.loader import parse_datetime

__all__ = ["cross_field_errors"]


def _visitor_times(doc: Mapping[str, Any]) -> Iterator[FieldError]:
    time_in, time_out = parse_datetime(doc.get("time_in")), parse_datetime(doc.get("time_out"))
    if time_in is not None and time_out is not None and time_out < time_in:
        yield FieldError.at("time_out", "must not be before time_in")


_CHECKS: dict[str, tuple[Callable[[Mapping[str, Any]], Iterator[FieldError]], ...]] = {
    "visitor_entry": (_visitor_times,),
}


def cross_field_errors(record_type: str, doc: Mapping[str, Any]) -> Iterator[FieldError]:
    """Problems between fields; fields that are malformed on their own are skipped here."""
    for check in _CHECKS.get(record_type, ()):
        yield from check(doc)
