"""validate() on anything JSON can carry: a RecordInvalid or nothing, never a crash."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas import (
    RECORD_TYPES,
    ROLES,
    STATUSES,
    FieldError,
    RecordInvalid,
    TransitionNotAllowed,
    check_immutable,
    check_transition,
    migrate,
    validate,
)
from schemas.samples import sample_records
from tests.schemas.examples import valid

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=20,
)

KEYS = sorted({key for t in RECORD_TYPES for key in valid(t)} | {"_id", "_deleted"})


def containers(node: Any) -> list[dict[str, Any]]:
    """Every object inside ``node`` (itself included), where a field can be replaced."""
    if isinstance(node, dict):
        return [node, *(c for value in node.values() for c in containers(value))]
    if isinstance(node, list):
        return [c for value in node for c in containers(value)]
    return []


@st.composite
def record_like(draw: st.DrawFn) -> Any:
    """Mostly near-records: a real record with some fields, at any depth, made random JSON."""
    if draw(st.integers(0, 4)) == 0:
        return draw(json_values)
    doc = valid(draw(st.sampled_from(RECORD_TYPES)))
    for _ in range(draw(st.integers(1, 4))):
        target = draw(st.sampled_from(containers(doc)))
        names = st.sampled_from([*sorted(target), *KEYS]) | st.text(max_size=8)
        target[draw(names)] = draw(json_values)
    return doc


def _only_record_invalid(doc: Any) -> None:
    """Validate; any other exception type fails the test by propagating."""
    error = None
    try:
        validate(doc)
    except RecordInvalid as caught:
        error = caught
    if error is not None:
        assert error.errors
        assert all(isinstance(e, FieldError) and e.message for e in error.errors)
        assert str(error) == "; ".join(e.message for e in error.errors)


@settings(max_examples=100, deadline=None)
@given(record_like())
def test_validate_raises_nothing_but_record_invalid(doc: Any) -> None:
    _only_record_invalid(doc)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sample_records(20, seed=9)), st.sampled_from(KEYS), json_values)
def test_migrate_and_check_immutable_never_crash(record: dict, key: str, value: Any) -> None:
    changed = {**record, key: value}
    _only_record_invalid(changed)
    try:
        migrate(changed)
        check_immutable(record, changed)
    except RecordInvalid:
        pass


statuses = st.sampled_from(sorted(set().union(*STATUSES.values()))) | json_values


@settings(max_examples=80, deadline=None)
@given(
    st.sampled_from([*RECORD_TYPES, "nonsense"]) | json_values,
    st.none() | statuses,
    statuses,
    st.sampled_from(ROLES) | json_values,
)
def test_check_transition_refuses_rather_than_crashes(
    record_type: Any, old: Any, new: Any, role: Any
) -> None:
    try:
        check_transition(record_type, old, new, role)
    except TransitionNotAllowed as error:
        assert error.errors[0].path == "status"  # noqa: PT017
