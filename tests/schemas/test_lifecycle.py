"""check_transition(): the status table, by role."""

from __future__ import annotations

import pytest

from schemas import (
    ALLOWED_TRANSITIONS,
    FINAL_STATUSES,
    INITIAL_STATUS,
    ROLES,
    STATUSES,
    FieldError,
    RecordInvalid,
    TransitionNotAllowed,
    check_transition,
)

BEAT, STATION, CENTRAL, ADMIN, CITIZEN = ROLES
OFFICERS = (BEAT, STATION, CENTRAL, ADMIN)
SUPERVISORS = (STATION, CENTRAL, ADMIN)

# (type, old, new, roles allowed). Every role not listed must be refused.
TABLE = [
    ("complaint", "registered", "assigned", OFFICERS),
    ("complaint", "assigned", "under_investigation", OFFICERS),
    ("complaint", "under_investigation", "resolved", OFFICERS),
    # A device offline for days sends only its last revision: a jump through steps
    # the role may take one by one is allowed.
    ("complaint", "registered", "resolved", OFFICERS),
    ("complaint", "registered", "closed", SUPERVISORS),
    ("complaint", "resolved", "closed", SUPERVISORS),
    ("complaint", "registered", "converted_to_fir", SUPERVISORS),
    ("complaint", "under_investigation", "converted_to_fir", SUPERVISORS),
    ("complaint", "resolved", "under_investigation", SUPERVISORS),
    ("complaint", "closed", "under_investigation", SUPERVISORS),
    ("complaint", "closed", "resolved", SUPERVISORS),
    ("complaint", "assigned", "registered", ()),
    ("complaint", "under_investigation", "assigned", ()),
    ("complaint", "converted_to_fir", "under_investigation", ()),
    ("complaint", "converted_to_fir", "closed", ()),
    ("complaint", "closed", "registered", ()),
    ("appointment", "requested", "confirmed", SUPERVISORS),
    ("appointment", "requested", "cancelled", (*SUPERVISORS, CITIZEN)),
    ("appointment", "confirmed", "cancelled", (*SUPERVISORS, CITIZEN)),
    ("appointment", "confirmed", "completed", SUPERVISORS),
    ("appointment", "requested", "completed", SUPERVISORS),
    ("appointment", "cancelled", "confirmed", ()),
    ("appointment", "completed", "requested", ()),
    ("certificate_request", "submitted", "verification_pending", SUPERVISORS),
    ("certificate_request", "verification_pending", "verified", OFFICERS),
    ("certificate_request", "verified", "issued", SUPERVISORS),
    ("certificate_request", "submitted", "issued", SUPERVISORS),
    ("certificate_request", "verification_pending", "rejected", SUPERVISORS),
    ("certificate_request", "rejected", "verification_pending", (CENTRAL, ADMIN)),
    ("certificate_request", "issued", "verified", ()),
    ("certificate_request", "verified", "submitted", ()),
]

CASES = [
    (record_type, old, new, role, role in allowed)
    for record_type, old, new, allowed in TABLE
    for role in ROLES
]


@pytest.mark.parametrize(
    ("record_type", "old", "new", "role", "allowed"),
    CASES,
    ids=[f"{c[0]}:{c[1]}->{c[2]}:{c[3]}" for c in CASES],
)
def test_transition_table(record_type: str, old: str, new: str, role: str, allowed: bool) -> None:
    if allowed:
        check_transition(record_type, old, new, role)
        return
    with pytest.raises(TransitionNotAllowed) as caught:
        check_transition(record_type, old, new, role)
    who = role.replace("_", " ")
    assert caught.value.errors == [
        FieldError("status", f"status: a {who} cannot move a {record_type} from {old} to {new}")
    ]


@pytest.mark.parametrize("record_type", sorted(STATUSES))
@pytest.mark.parametrize("role", ROLES)
def test_keeping_an_open_status_is_always_allowed(record_type: str, role: str) -> None:
    for status in STATUSES[record_type] - FINAL_STATUSES[record_type]:
        check_transition(record_type, status, status, role)


@pytest.mark.parametrize("record_type", sorted(STATUSES))
@pytest.mark.parametrize("role", ROLES)
def test_a_final_record_is_edited_only_by_supervisors(record_type: str, role: str) -> None:
    for status in FINAL_STATUSES[record_type]:
        if role in SUPERVISORS:
            check_transition(record_type, status, status, role)
            continue
        with pytest.raises(TransitionNotAllowed) as caught:
            check_transition(record_type, status, status, role)
        assert caught.value.errors == [
            FieldError(
                "status",
                f"status: this {record_type} is {status}: only a station officer may change it",
            )
        ]


@pytest.mark.parametrize(
    ("record_type", "new", "role", "allowed"),
    [
        ("complaint", "registered", CITIZEN, True),
        ("complaint", "under_investigation", BEAT, True),
        ("complaint", "converted_to_fir", BEAT, False),
        ("complaint", "converted_to_fir", STATION, True),
        ("appointment", "requested", CITIZEN, True),
        ("appointment", "confirmed", CITIZEN, False),
        ("certificate_request", "submitted", CITIZEN, True),
        ("certificate_request", "issued", BEAT, False),
    ],
)
def test_a_new_record_starts_from_the_initial_status(
    record_type: str, new: str, role: str, allowed: bool
) -> None:
    if allowed:
        check_transition(record_type, None, new, role)
    else:
        with pytest.raises(TransitionNotAllowed):
            check_transition(record_type, None, new, role)


def test_every_status_is_reachable_for_admin_and_terminal_ones_are_final() -> None:
    for record_type, statuses in STATUSES.items():
        for status in statuses:
            check_transition(record_type, None, status, ADMIN)
    finals = {
        record_type: {s for s in STATUSES[record_type] if not any(o == s for o, _ in table)}
        for record_type, table in ALLOWED_TRANSITIONS.items()
    }
    assert finals == {
        "complaint": {"converted_to_fir"},
        "appointment": {"cancelled", "completed"},
        "certificate_request": {"issued"},
        "verification_visit": {"visited"},
    }
    assert set(INITIAL_STATUS) == set(ALLOWED_TRANSITIONS)


@pytest.mark.parametrize(
    ("args", "text"),
    [
        (("visitor_entry", None, "x", BEAT), "status: a visitor_entry has no status to change"),
        (("nonsense", "a", "b", BEAT), "status: a nonsense has no status to change"),
        (("complaint", "registered", "assigned", "sp"), "status: unknown role 'sp'"),
        (("complaint", "open", "assigned", ADMIN), "status: 'open' is not a complaint status"),
        (("complaint", "registered", "done", ADMIN), "status: 'done' is not a complaint status"),
    ],
)
def test_bad_arguments_are_refused_as_invalid(args: tuple, text: str) -> None:
    with pytest.raises(TransitionNotAllowed) as caught:
        check_transition(*args)
    assert isinstance(caught.value, RecordInvalid)
    assert caught.value.errors == [FieldError("status", text)]
