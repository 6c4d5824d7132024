"""Who may move a record from one status to another.

The table lists single steps and the roles allowed to take each. A device
offline for days replicates only its latest revision, so the gateway may see
``registered`` followed directly by ``resolved``; such a jump is allowed when
the role could have taken every step on some path between the two (the
device's journal holds the steps themselves). Keeping the same status is
always allowed (editing a record is not a transition).

Complaints may go straight from ``registered`` to ``converted_to_fir`` because a
complaint disclosing a cognizable offence must be registered as an FIR at once
(Lalita Kumari v. Govt. of U.P., 2013); only supervisory roles close or convert.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping

from schemas.errors import TransitionNotAllowed
from schemas.identity import CITIZEN, ROLES, Role

__all__ = [
    "ALLOWED_TRANSITIONS",
    "FINAL_STATUSES",
    "INITIAL_STATUS",
    "ROLES",
    "STATUSES",
    "check_transition",
]

_OFFICERS = frozenset(role.value for role in Role)
_SUPERVISORS = frozenset({Role.STATION_OFFICER.value, Role.CENTRAL_OFFICE.value, Role.ADMIN.value})
_DISTRICT = frozenset({Role.CENTRAL_OFFICE.value, Role.ADMIN.value})

ALLOWED_TRANSITIONS: dict[str, Mapping[tuple[str, str], frozenset[str]]] = {
    "complaint": {
        ("registered", "assigned"): _OFFICERS,
        ("assigned", "under_investigation"): _OFFICERS,
        ("under_investigation", "resolved"): _OFFICERS,
        ("registered", "closed"): _SUPERVISORS,
        ("assigned", "closed"): _SUPERVISORS,
        ("under_investigation", "closed"): _SUPERVISORS,
        ("resolved", "closed"): _SUPERVISORS,
        ("registered", "converted_to_fir"): _SUPERVISORS,
        ("assigned", "converted_to_fir"): _SUPERVISORS,
        ("under_investigation", "converted_to_fir"): _SUPERVISORS,
        # Reopening, when the complainant disputes the outcome.
        ("resolved", "under_investigation"): _SUPERVISORS,
        ("closed", "under_investigation"): _SUPERVISORS,
    },
    "appointment": {
        ("requested", "confirmed"): _SUPERVISORS,
        ("requested", "cancelled"): _SUPERVISORS | {CITIZEN},
        ("confirmed", "cancelled"): _SUPERVISORS | {CITIZEN},
        ("confirmed", "completed"): _SUPERVISORS,
    },
    "certificate_request": {
        ("submitted", "verification_pending"): _SUPERVISORS,
        # The beat officer who made the visit reports the applicant verified.
        ("verification_pending", "verified"): _OFFICERS,
        ("submitted", "rejected"): _SUPERVISORS,
        ("verification_pending", "rejected"): _SUPERVISORS,
        ("verified", "rejected"): _SUPERVISORS,
        ("verified", "issued"): _SUPERVISORS,
        # Re-verification on appeal is a district decision.
        ("rejected", "verification_pending"): _DISTRICT,
    },
    # A visit the portal assigned, made by the beat officer.
    "verification_visit": {
        ("assigned", "visited"): _OFFICERS,
    },
}

INITIAL_STATUS: dict[str, str] = {
    "complaint": "registered",
    "appointment": "requested",
    "certificate_request": "submitted",
    "verification_visit": "assigned",
}

# Where a record's work ends. Only supervisory roles change such a record (to
# reopen it, or to correct it); a beat officer's edit, even one that keeps the
# status, would rewrite a decided case.
FINAL_STATUSES: dict[str, frozenset[str]] = {
    "complaint": frozenset({"closed", "converted_to_fir"}),
    "appointment": frozenset({"cancelled", "completed"}),
    "certificate_request": frozenset({"issued", "rejected"}),
    # What the officer found is evidence for the SHO's decision.
    "verification_visit": frozenset({"visited"}),
}

STATUSES: dict[str, frozenset[str]] = {
    record_type: frozenset(status for step in table for status in step)
    for record_type, table in ALLOWED_TRANSITIONS.items()
}


def _reachable(record_type: str, start: str, goal: str, role: str) -> bool:
    table = ALLOWED_TRANSITIONS[record_type]
    seen, queue = {start}, deque([start])
    while queue:
        status = queue.popleft()
        if status == goal:
            return True
        for (old, new), roles in table.items():
            if old == status and role in roles and new not in seen:
                seen.add(new)
                queue.append(new)
    return False


def _refuse(text: str) -> TransitionNotAllowed:
    return TransitionNotAllowed.at("status", text)


def check_transition(record_type: str, old_status: str | None, new_status: str, role: str) -> None:
    """Raise ``TransitionNotAllowed`` unless ``role`` may take the record to ``new_status``.

    A record in a final status (:data:`FINAL_STATUSES`) is changed only by a
    supervisory role, even when the status stays the same (its other fields).

    ``old_status`` is ``None`` for a new record, which starts from the type's
    initial status (a device may create and progress a record offline).
    """
    if not isinstance(record_type, str) or record_type not in ALLOWED_TRANSITIONS:
        raise _refuse(f"a {record_type} has no status to change")
    if not isinstance(role, str) or role not in ROLES:
        raise _refuse(f"unknown role {role!r}")
    statuses = STATUSES[record_type]
    for status in (old_status, new_status):
        # The old body may predate validation (a peer's replicated conflict), so
        # its status can be any JSON value.
        if status is not None and (not isinstance(status, str) or status not in statuses):
            raise _refuse(f"{status!r} is not a {record_type} status")
    start = INITIAL_STATUS[record_type] if old_status is None else old_status
    if start == new_status:
        if old_status in FINAL_STATUSES.get(record_type, ()) and role not in _SUPERVISORS:
            raise _refuse(
                f"this {record_type} is {old_status}: only a station officer may change it"
            )
        return
    if _reachable(record_type, start, new_status, role):
        return
    who = role.replace("_", " ")
    raise _refuse(f"a {who} cannot move a {record_type} from {start} to {new_status}")
