"""Older schema versions: still valid as written, upgraded by migrate()."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from schemas import CURRENT_VERSIONS, FieldError, RecordInvalid, migrate, validate
from schemas.loader import KNOWN_VERSIONS
from schemas.migrations import STEPS
from schemas.samples import sample_records
from tests.schemas.examples import valid


def complaint_v1(**changes: Any) -> dict[str, Any]:
    """A complaint as a v1 device wrote it: phone at top level, category "cyber"."""
    doc = valid("complaint", schema_version=1, category="cyber", complainant_phone="9876543210")
    del doc["complainant"]["phone"]
    doc.update(_id="5f0c3b8e2a7d4c1e9b6a0d3f2e1c4b5a", _rev="4-" + "e" * 32)
    doc.update(changes)
    return doc


def test_a_v1_complaint_is_valid_as_v1() -> None:
    validate(complaint_v1())


def test_v1_rules_hold_for_v1_records() -> None:
    with pytest.raises(RecordInvalid) as caught:
        validate(complaint_v1(category="cyber_fraud", complainant_phone="12"))
    assert [e.path for e in caught.value.errors] == ["category", "complainant_phone"]


def test_v1_to_v2_moves_the_phone_and_renames_cyber() -> None:
    old = complaint_v1()
    new = migrate(old)
    validate(new)
    assert new["schema_version"] == 2
    assert new["complainant"] == {
        "name": old["complainant"]["name"],
        "address": old["complainant"]["address"],
        "phone": "9876543210",
    }
    assert "complainant_phone" not in new
    assert new["category"] == "cyber_fraud"
    # CouchDB metadata and every other field ride along untouched.
    assert new["_id"] == old["_id"]
    assert new["_rev"] == old["_rev"]
    assert new["description"] == old["description"]


def test_other_categories_and_a_missing_phone_migrate_too() -> None:
    old = complaint_v1(category="theft")
    del old["complainant_phone"]
    new = migrate(old)
    validate(new)
    assert new["category"] == "theft"
    assert "phone" not in new["complainant"]


def test_migrate_is_pure() -> None:
    old = complaint_v1()
    before = copy.deepcopy(old)
    new = migrate(old)
    assert old == before
    new["complainant"]["name"] = "changed"
    new["action_log"].append({"x": 1})
    assert old == before


@pytest.mark.parametrize("doc", sample_records(12, seed=5), ids=lambda d: d["type"])
def test_current_records_come_back_equal_but_not_shared(doc: dict[str, Any]) -> None:
    new = migrate(doc)
    assert new == doc
    assert new is not doc


def test_a_newer_version_asks_for_an_app_update() -> None:
    newer = valid("complaint", schema_version=CURRENT_VERSIONS["complaint"] + 1)
    expected = [
        FieldError(
            "schema_version",
            "schema_version: this complaint was written by a newer version of BeatSync "
            "(schema version 3; this app knows up to 2): update the app to use it",
        )
    ]
    for operation in (validate, migrate):
        with pytest.raises(RecordInvalid) as caught:
            operation(newer)
        assert caught.value.errors == expected


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"schema_version": 1}, "type"),
        ({"type": "complaint"}, "schema_version"),
        ({"type": "complaint", "schema_version": -1}, "schema_version"),
    ],
)
def test_migrate_refuses_what_it_cannot_place(doc: dict[str, Any], path: str) -> None:
    with pytest.raises(RecordInvalid) as caught:
        migrate(doc)
    assert [e.path for e in caught.value.errors] == [path]


def test_a_tombstone_migrates_to_a_copy_of_itself() -> None:
    tombstone = {"_id": "a", "_rev": "2-" + "a" * 32, "_deleted": True}
    assert migrate(tombstone) == tombstone


def test_every_older_version_has_a_step_to_the_next() -> None:
    needed = {
        (record_type, version)
        for record_type, versions in KNOWN_VERSIONS.items()
        for version in versions
        if version < CURRENT_VERSIONS[record_type]
    }
    assert needed == set(STEPS)
    # Versions have no gaps, so a step always lands on a schema that exists.
    for record_type, versions in KNOWN_VERSIONS.items():
        assert versions == set(range(1, CURRENT_VERSIONS[record_type] + 1)), record_type
