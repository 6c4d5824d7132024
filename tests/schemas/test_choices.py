"""Enumerated fields read from the current schema, for menus and sample data."""

from __future__ import annotations

from typing import Any

import pytest

import schemas
from schemas.samples import sample_records

SAMPLES = {record["type"]: record for record in sample_records(30, seed=1)}


def with_field(record: dict[str, Any], field: str, value: str) -> dict[str, Any]:
    head, _, rest = field.partition(".")
    return {**record, head: with_field(record[head], rest, value) if rest else value}


@pytest.mark.parametrize(
    ("record_type", "field", "some"),
    [
        ("complaint", "category", {"theft", "cyber_fraud", "other"}),
        ("visitor_entry", "id_proof.type", {"aadhaar", "pan"}),
        ("verification_visit", "kind", {"passport", "tenant"}),
        ("verification_visit", "recommendation", {"clear", "adverse", "not_found"}),
    ],
)
def test_every_choice_validates_and_nothing_else_does(
    record_type: str, field: str, some: set[str]
) -> None:
    values = schemas.choices(record_type, field)
    assert some <= set(values)
    for value in values:
        schemas.validate(with_field(SAMPLES[record_type], field, value))
    with pytest.raises(schemas.RecordInvalid):
        schemas.validate(with_field(SAMPLES[record_type], field, "not-a-choice"))


def test_statuses_come_in_lifecycle_order() -> None:
    assert schemas.choices("complaint", "status")[:3] == (
        "registered",
        "assigned",
        "under_investigation",
    )
    assert set(schemas.choices("complaint", "status")) == set(schemas.STATUSES["complaint"])
    assert "sp" in schemas.choices("appointment", "with")


@pytest.mark.parametrize(
    ("record_type", "field"),
    [("complaint", "description"), ("complaint", "nonexistent"), ("nope", "category")],
)
def test_fields_without_an_enum_are_a_key_error(record_type: str, field: str) -> None:
    with pytest.raises(KeyError):
        schemas.choices(record_type, field)
