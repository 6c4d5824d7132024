"""The compiled validators (refs inlined, record closed up front) judge like the files."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings

from schemas import RecordInvalid
from schemas.loader import declared_fields
from schemas.messages import field_errors
from schemas.reference import raw_validator_for, validator_for
from schemas.samples import sample_records
from schemas.versions import record_version
from tests.schemas.test_fuzz import record_like
from tests.schemas.test_validator import INVALID, edited


def verdicts(doc: dict[str, Any]) -> tuple[set, set]:
    """The problems the compiled and the as-written validator each find in ``doc``."""
    body = {k: v for k, v in doc.items() if not str(k).startswith("_")}
    record_type, version = record_version(body)
    known = declared_fields(record_type, version)
    compiled, raw = (
        set(field_errors(make(record_type, version).iter_errors(body), known))
        for make in (validator_for, raw_validator_for)
    )
    return compiled, raw


def test_same_verdicts_on_every_invalid_table_row_and_on_samples() -> None:
    docs = [edited(t, path, value) for t, path, value, _, _ in INVALID]
    docs += sample_records(50, seed=21)
    for doc in docs:
        compiled, raw = verdicts(doc)
        assert compiled == raw, doc
    assert sum(1 for doc in docs if verdicts(doc)[0]) >= len(INVALID) - 1


@settings(max_examples=80, deadline=None)
@given(record_like())
def test_same_verdicts_on_random_near_records(doc: Any) -> None:
    if not isinstance(doc, dict):
        return
    try:
        compiled, raw = verdicts(doc)
    except RecordInvalid:
        return  # no schema to compare under: unknown type or version
    assert compiled == raw
