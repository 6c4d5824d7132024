"""check_immutable(): provenance stays fixed, the action log only grows."""

from __future__ import annotations

from typing import Any

import pytest

from schemas import FieldError, ImmutableFieldChanged, RecordInvalid, check_immutable
from tests.schemas.examples import valid

ENTRY = {"at": "2024-05-01T10:30:00Z", "by": "officer-17", "action": "registered"}
LATER = {"at": "2024-05-02T10:30:00Z", "by": "officer-17", "action": "assigned"}


def old() -> dict[str, Any]:
    return valid("complaint", action_log=[dict(ENTRY)], _rev="1-" + "a" * 32)


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"status": "assigned", "assigned_officer": "officer-9", "beat_id": "beat-7"},
        {"updated_by": "sho-kotwali", "updated_at": "2024-06-01T00:00:00Z"},
        {"action_log": [dict(ENTRY), dict(LATER)]},
        {"_rev": "2-" + "b" * 32, "schema_version": 2},
    ],
)
def test_ordinary_edits_pass(changes: dict[str, Any]) -> None:
    check_immutable(old(), {**old(), **changes})


@pytest.mark.parametrize(
    ("changes", "path"),
    [
        ({"type": "visitor_entry"}, "type"),
        ({"created_by": "officer-18"}, "created_by"),
        ({"created_at": "2024-05-01T05:00:00Z"}, "created_at"),
        ({"station_id": "gaya-civil-lines"}, "station_id"),
    ],
)
def test_provenance_cannot_change(changes: dict[str, Any], path: str) -> None:
    with pytest.raises(ImmutableFieldChanged) as caught:
        check_immutable(old(), {**old(), **changes})
    assert caught.value.errors == [
        FieldError(path, f"{path}: cannot be changed after the record is created")
    ]


def test_dropping_a_fixed_field_is_a_change() -> None:
    new = old()
    del new["created_by"]
    with pytest.raises(ImmutableFieldChanged) as caught:
        check_immutable(old(), new)
    assert [e.path for e in caught.value.errors] == ["created_by"]


def test_json_types_count_so_true_is_not_one() -> None:
    before = {**old(), "created_at": 1}
    with pytest.raises(ImmutableFieldChanged):
        check_immutable(before, {**before, "created_at": True})


@pytest.mark.parametrize(
    ("log", "errors"),
    [
        ([], [("action_log", "entries can only be added, never removed")]),
        (
            [dict(LATER)],
            [("action_log.0", "an earlier entry cannot be changed")],
        ),
        (
            [{**ENTRY, "note": "added later"}, dict(LATER)],
            [("action_log.0", "an earlier entry cannot be changed")],
        ),
        (
            [dict(LATER), dict(ENTRY)],
            [("action_log.0", "an earlier entry cannot be changed")],
        ),
    ],
)
def test_the_action_log_is_append_only(log: list, errors: list[tuple[str, str]]) -> None:
    with pytest.raises(ImmutableFieldChanged) as caught:
        check_immutable(old(), {**old(), "action_log": log})
    assert caught.value.errors == [FieldError(p, f"{p}: {t}") for p, t in errors]


def test_every_violation_is_reported_together() -> None:
    new = {**old(), "station_id": "other-station", "type": "appointment", "action_log": []}
    with pytest.raises(RecordInvalid) as caught:
        check_immutable(old(), new)
    assert [e.path for e in caught.value.errors] == ["action_log", "station_id", "type"]


def test_removing_the_log_removes_its_entries() -> None:
    new = old()
    del new["action_log"]
    with pytest.raises(ImmutableFieldChanged):
        check_immutable(old(), new)


def test_tombstones_are_not_edits() -> None:
    tombstone = {"_id": "x", "_rev": "2-" + "c" * 32, "_deleted": True}
    check_immutable(old(), tombstone)
    check_immutable(tombstone, valid("complaint", station_id="gaya-civil-lines"))
