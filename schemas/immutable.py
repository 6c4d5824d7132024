"""Fields an update may not change once a record exists.

Who made a record, when, where, and what kind it is are evidence: an edit
(from any device, through any replication path) must keep them. The action
log is the record's own history, so entries are only ever appended.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from schemas.errors import FieldError, ImmutableFieldChanged
from schemas.versions import is_tombstone

__all__ = ["APPEND_ONLY_FIELDS", "IMMUTABLE_FIELDS", "check_immutable"]

IMMUTABLE_FIELDS: tuple[str, ...] = ("type", "created_by", "created_at", "station_id")
APPEND_ONLY_FIELDS: tuple[str, ...] = ("action_log",)

_ABSENT = object()


def _same(a: Any, b: Any) -> bool:
    # Python says 1 == 1.0 == True; JSON values differ in type, so compare as JSON.
    if a is _ABSENT or b is _ABSENT:
        return a is b
    try:
        return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(
            b, option=orjson.OPT_SORT_KEYS
        )
    except TypeError:
        return bool(a == b)


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[FieldError]:
    for field in IMMUTABLE_FIELDS:
        if not _same(old.get(field, _ABSENT), new.get(field, _ABSENT)):
            yield FieldError.at(field, "cannot be changed after the record is created")
    for field in APPEND_ONLY_FIELDS:
        before, after = old.get(field, []), new.get(field, [])
        if not isinstance(before, list) or not isinstance(after, list):
            continue  # the schema reports a log that is not a list
        if len(after) < len(before):
            yield FieldError.at(field, "entries can only be added, never removed")
        for index, (was, now) in enumerate(zip(before, after, strict=False)):
            if not _same(was, now):
                yield FieldError.at(f"{field}.{index}", "an earlier entry cannot be changed")


def check_immutable(old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
    """Raise ``ImmutableFieldChanged`` if ``new`` (an edit of ``old``) alters fixed fields.

    Deleting is not an edit (its rights are checked elsewhere), and a record
    recreated over a tombstone starts afresh, so tombstones pass.
    """
    if is_tombstone(old) or is_tombstone(new):
        return
    changes = list(_changes(old, new))
    if changes:
        raise ImmutableFieldChanged(changes)
