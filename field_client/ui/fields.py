"""The app's forms: which fields, in which order, with which choices, and how a
schema's refusal comes back as a message beside the field it names.

The record is built by the very functions the CLI uses
(:mod:`field_client.forms`) and checked by the replica's save, i.e. by the
schema (:mod:`schemas`): a field is wrong here exactly when it would be
wrong at the CLI or at the gateway. The choices are the schema's enums.
``N_`` marks a message for the catalogue; the page translates it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import schemas
from field_client import forms
from schemas.web.labels import (
    BAD_CHOICE,
    BAD_PHONE,
    BAD_TIME,
    CATEGORY_LABELS,
    COMPLAINT_STATUS_LABELS,
    KIND_LABELS,
    N_,
    REQUIRED,
    TOO_LONG,
)

__all__ = [
    "FORMS",
    "NOTHING_TO_UPDATE",
    "NOT_YOUR_STEP",
    "N_",
    "UPDATE_FIELDS",
    "UPDATE_FORM",
    "Field",
    "Form",
    "field_errors",
    "owner_of",
    "record_of",
]


BAD_GPS = N_("Give the place as latitude,longitude inside India, like 25.61,85.14.")
BAD_LAST4 = N_("Only the last 4 characters of the document: digits or capital letters.")

# The schema's words (its x-message or keyword sentence) -> the form's message.
_SCHEMA_WORDS: Mapping[str, str] = {
    "is required": REQUIRED,
    "must not be empty": REQUIRED,
    "must be a 10-digit Indian mobile number": BAD_PHONE,
    "must be a date and time with its zone, like 2024-05-01T10:30:00+05:30": BAD_TIME,
    "must be a latitude inside India (6 to 37.5 degrees north)": BAD_GPS,
    "must be a longitude inside India (68 to 97.5 degrees east)": BAD_GPS,
    "must be only the last 4 characters of the document number (digits or capital letters)": (
        BAD_LAST4
    ),
}
_AT_MOST = re.compile(r"^must be at most (\d+) characters$")


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    label: str
    kind: str = "text"  # text, textarea, phone, choice, datetime, gps
    required: bool = False
    choices: Sequence[tuple[str, str]] = ()
    # Record paths (dotted, as schemas.FieldError names them) this field fills.
    paths: Sequence[str] = ()
    hint: str = ""


def _choices(
    record_type: str, field: str, labels: Mapping[str, str]
) -> tuple[tuple[str, str], ...]:
    """The schema's enum, each with its label (the value itself when it has none)."""
    return tuple((value, labels.get(value, value)) for value in schemas.choices(record_type, field))


STATUS_LABELS = COMPLAINT_STATUS_LABELS
RECOMMENDATION_LABELS = {
    "clear": N_("Clear: nothing adverse"),
    "adverse": N_("Adverse"),
    "not_found": N_("Person not found at the address"),
}
ID_LABELS = {"aadhaar": "Aadhaar", "voter_id": "Voter ID", "pan": "PAN", "other": N_("Other")}

# Neighbours' statements on a visit form (the schema allows up to 50; a form shows these).
NEIGHBOUR_ROWS = 3


@dataclass(frozen=True, slots=True)
class Form:
    record_type: str
    fields: Sequence[Field]
    build: Callable[[Mapping[str, str], str, str], dict[str, Any]]
    neighbours: bool = False


def _gps(values: Mapping[str, str]) -> dict[str, float] | None:
    try:
        return forms.parse_gps(values.get("gps") or None)
    except ValueError:
        raise schemas.RecordInvalid.at("gps", "gps") from None


def _complaint(values: Mapping[str, str], officer_id: str, at: str) -> dict[str, Any]:
    return forms.complaint(
        name=values.get("name", ""),
        phone=values.get("phone") or None,
        address=values.get("address", ""),
        category=values.get("category", ""),
        description=values.get("description", ""),
        place=values.get("place", ""),
        incident_time=_stamp(values.get("incident_time", "")) or at,
        gps=_gps(values),
        officer_id=officer_id,
        at=at,
    )


def _visitor(values: Mapping[str, str], officer_id: str, at: str) -> dict[str, Any]:
    return forms.visitor_in(
        name=values.get("name", ""),
        phone=values.get("phone") or None,
        purpose=values.get("purpose", ""),
        whom_to_meet=values.get("whom_to_meet", ""),
        id_type=values.get("id_type") or None,
        id_last4=values.get("id_last4") or None,
        at=at,
    )


def neighbours_of(values: Mapping[str, str]) -> list[dict[str, str]]:
    rows = []
    for row in range(1, NEIGHBOUR_ROWS + 1):
        name = values.get(f"neighbour_name_{row}", "")
        statement = values.get(f"neighbour_statement_{row}", "")
        if name or statement:
            rows.append({"name": name, "statement": statement})
    return rows


def _visit(values: Mapping[str, str], officer_id: str, at: str) -> dict[str, Any]:
    return forms.visit(
        kind=values.get("kind", ""),
        name=values.get("name", ""),
        father_name=values.get("father_name") or None,
        phone=values.get("phone") or None,
        address=values.get("address", ""),
        findings=values.get("findings", ""),
        recommendation=values.get("recommendation", ""),
        gps=_gps(values),
        neighbours=neighbours_of(values),
        at=at,
    )


def _stamp(text: str) -> str:
    """A ``datetime-local`` value (no zone) in the device's zone, as the schema wants."""
    from datetime import datetime

    if not text:
        return ""
    try:
        when = datetime.fromisoformat(text.replace(" ", "T"))
    except ValueError:
        return text  # the schema refuses it, with its message
    return (when if when.tzinfo else when.astimezone()).isoformat(timespec="seconds")


_PHONE = N_("Mobile number")
_ADDRESS = N_("Address")
FORMS: Mapping[str, Form] = {
    "complaint": Form(
        "complaint",
        (
            Field("name", N_("Complainant's name"), required=True, paths=("complainant.name",)),
            Field("phone", _PHONE, "phone", paths=("complainant.phone",)),
            Field("address", _ADDRESS, "textarea", True, paths=("complainant.address",)),
            Field(
                "category",
                N_("Category"),
                "choice",
                True,
                _choices("complaint", "category", CATEGORY_LABELS),
                ("category",),
            ),
            Field("description", N_("What happened"), "textarea", True, paths=("description",)),
            Field("place", N_("Where it happened"), required=True, paths=("incident.place",)),
            Field(
                "incident_time",
                N_("When it happened"),
                "datetime",
                paths=("incident.time",),
                hint=N_("Left empty, it is the time now."),
            ),
            Field("gps", N_("GPS (latitude,longitude)"), "gps", paths=("incident.gps", "gps")),
        ),
        _complaint,
    ),
    "visitor_entry": Form(
        "visitor_entry",
        (
            Field("name", N_("Visitor's name"), required=True, paths=("visitor.name",)),
            Field("phone", _PHONE, "phone", paths=("visitor.phone",)),
            Field("purpose", N_("Purpose of the visit"), required=True, paths=("purpose",)),
            Field(
                "whom_to_meet", N_("Whom they came to meet"), required=True, paths=("whom_to_meet",)
            ),
            Field(
                "id_type",
                N_("Identity document shown"),
                "choice",
                choices=_choices("visitor_entry", "id_proof.type", ID_LABELS),
                paths=("id_proof.type",),
            ),
            Field(
                "id_last4",
                N_("Its last 4 characters"),
                paths=("id_proof.last4", "id_proof"),
                hint=N_("Never the whole number."),
            ),
        ),
        _visitor,
    ),
    "verification_visit": Form(
        "verification_visit",
        (
            Field(
                "kind",
                N_("Kind of verification"),
                "choice",
                True,
                _choices("verification_visit", "kind", KIND_LABELS),
                ("kind",),
            ),
            Field(
                "name", N_("Name of the person verified"), required=True, paths=("subject.name",)
            ),
            Field("father_name", N_("Father's name"), paths=("subject.father_name",)),
            Field("phone", _PHONE, "phone", paths=("subject.phone",)),
            Field("address", N_("Address visited"), "textarea", True, paths=("address",)),
            Field("findings", N_("Findings"), "textarea", True, paths=("findings",)),
            Field(
                "recommendation",
                N_("Recommendation"),
                "choice",
                True,
                _choices("verification_visit", "recommendation", RECOMMENDATION_LABELS),
                ("recommendation",),
            ),
            Field("gps", N_("GPS (latitude,longitude)"), "gps", paths=("gps",)),
        ),
        _visit,
        neighbours=True,
    ),
}


# A complaint's update from its page: what `beatsync complaint update` takes.
UPDATE_FIELDS: Sequence[Field] = (
    Field(
        "status",
        N_("New status"),
        "choice",
        choices=_choices("complaint", "status", STATUS_LABELS),
        paths=("status", "assigned_officer"),
    ),
    Field("note", N_("Note for the action log"), "textarea", paths=("action_log",)),
    Field(
        "fir_number",
        N_("FIR number"),
        paths=("fir_number",),
        hint=N_("Only when the complaint became an FIR."),
    ),
)
NOTHING_TO_UPDATE = N_("Write a note or choose a new status.")
NOT_YOUR_STEP = N_(
    "Your role may not move the complaint to this status (a station officer decides)."
)


def _built_from_the_old_record(
    values: Mapping[str, str], officer_id: str, at: str
) -> dict[str, Any]:
    raise TypeError("an update is built from the record it edits: forms.complaint_update")


# The update's fields as a form, so a refusal lands beside its field as on the new-record forms.
UPDATE_FORM = Form("complaint", UPDATE_FIELDS, _built_from_the_old_record)


def record_of(form: Form, values: Mapping[str, str], officer_id: str, at: str) -> dict[str, Any]:
    return form.build(values, officer_id, at)


def _message(text: str) -> tuple[str, dict[str, Any]]:
    if text in _SCHEMA_WORDS:
        return _SCHEMA_WORDS[text], {}
    if match := _AT_MOST.match(text):
        return TOO_LONG, {"limit": int(match.group(1))}
    if text.startswith("must be one of"):
        return BAD_CHOICE, {}
    return text, {}  # the schema's own English sentence


def field_errors(form: Form, error: schemas.RecordInvalid) -> dict[str, tuple[str, dict[str, Any]]]:
    """``{form field: (message, its values)}`` for every problem the schema named;
    a problem no field owns is under ``""`` (shown above the form)."""
    found: dict[str, tuple[str, dict[str, Any]]] = {}
    for problem in error.errors:
        text = (
            problem.message.removeprefix(f"{problem.path}: ") if problem.path else problem.message
        )
        owner = owner_of(form, problem.path)
        if problem.path.endswith("gps") or ".gps." in f"{problem.path}.":
            found.setdefault(owner, (BAD_GPS, {}))
            continue
        found.setdefault(owner, _message(text))
    return found


def owner_of(form: Form, path: str) -> str:
    for spec in form.fields:
        for owned in spec.paths:
            if path == owned or path.startswith(owned + "."):
                return spec.name
    if path.startswith("neighbours_statements"):
        parts = path.split(".")
        if len(parts) >= 3 and parts[1].isdigit():
            return f"neighbour_{parts[2]}_{int(parts[1]) + 1}"
        return "neighbour_name_1"
    return ""
