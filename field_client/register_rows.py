"""A register row as ``beatsync import`` takes it: the CLI's own field names or
the schema's, filled in as a record typed in would be, and its refusals said
in the row's own names.

A row may be written in the flat names the CLI asks for and its flags use
(``name``, ``phone``, ``place``, ``incident_time``, ``to_meet`` or
``whom_to_meet``, ``id_type``, ``id_last4``; dashes or underscores), which
become the record exactly as the CLI's questions would make it (the
officer's app's forms, :data:`field_client.ui.fields.FORMS`); or in the
schema's own shape (``complainant.name``, ``incident.place``, ...), as
``--from-json`` takes it. Either way what a typed-in record gets is filled in
when the row does not say it: a complaint's status (``registered``) and
action log (empty), the incident time, a visitor's time in, a visit's time,
neighbours' statements and photos (none); a time the row leaves out is its
``created_at`` when it has one (an old register keeps its dates), else now.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any

import schemas
from field_client.ui.fields import FORMS, Form, owner_of
from schemas.loader import declared_fields

__all__ = ["EXAMPLES", "field_names", "rename_path", "row_to_record", "transition_reason"]

# The CLI's flags that are not simply the form field's name.
_ALIASES = {"to_meet": "whom_to_meet"}


def _declared(record_type: str) -> frozenset[str]:
    return declared_fields(record_type, schemas.CURRENT_VERSIONS[record_type])


def field_names(record_type: str) -> list[str]:
    """Every name a row of this type may use: the form's, then the schema's."""
    form = [spec.name for spec in FORMS[record_type].fields]
    return [*form, *(name for name in sorted(_declared(record_type)) if name not in form)]


def _text(value: Any) -> str:
    """A form field's answer as the CLI would have typed it."""
    if isinstance(value, Mapping) and {"lat", "lon"} <= value.keys():
        return f"{value['lat']},{value['lon']}"
    return "" if value is None else str(value)


def _unknown(record_type: str, name: str) -> str:
    known = field_names(record_type)
    close = difflib.get_close_matches(name, [*known, *_ALIASES], n=1, cutoff=0.6)
    hint = f"; did you mean {_ALIASES.get(close[0], close[0])!r}?" if close else ""
    return f"is not a field of a {record_type.replace('_', ' ')}{hint} (names: {', '.join(known)})"


def row_to_record(
    row: Mapping[str, Any], *, officer_id: str, at: str
) -> tuple[dict[str, Any], Form | None, list[tuple[str, str]]]:
    """``(record, the form when the row used its names, problems as (field, reason))``.

    ``row`` has its ``type`` already (one of the officer's record types).
    """
    record_type = str(row["type"])
    form, declared = FORMS[record_type], _declared(record_type)
    form_names = {spec.name for spec in form.fields}
    values: dict[str, str] = {}
    record: dict[str, Any] = {}
    problems: list[tuple[str, str]] = []
    for key, value in row.items():
        name = key if key.startswith("_") else _ALIASES.get(k := key.replace("-", "_"), k)
        if name in form_names and (name not in declared or isinstance(value, str)):
            values[name] = _text(value)
        elif name in declared or name.startswith("_"):
            record[name] = value
        else:
            problems.append((key, _unknown(record_type, key)))
    used_form = any(name not in declared for name in values)
    when = str(record.get("created_at") or at)
    if used_form:
        try:
            built = form.build(values, officer_id, when)
        except schemas.RecordInvalid as exc:
            problems += [(owner_of(form, e.path) or e.path, e.message) for e in exc.errors]
            built = {}
        record = {**built, **record}
    else:
        record.update(values)
    _fill_in(record, when)
    return record, form if used_form else None, problems


def _fill_in(record: dict[str, Any], when: str) -> None:
    """What a record typed in gets, where the row does not say it."""
    record_type = record.get("type")
    if record_type == "complaint":
        record.setdefault("status", schemas.INITIAL_STATUS["complaint"])
        record.setdefault("action_log", [])
        if isinstance(record.get("incident"), dict):
            record["incident"].setdefault("time", when)
    elif record_type == "visitor_entry":
        if "expected_at" not in record:
            record.setdefault("time_in", when)
    elif record_type == "verification_visit" and record.get("status") != "assigned":
        record.setdefault("visit_time", when)
        record.setdefault("neighbours_statements", [])
        record.setdefault("photos", [])


def rename_path(form: Form | None, path: str) -> str:
    """A refused field named as the row named it (a form row: the form's name)."""
    return (owner_of(form, path) or path) if form is not None else path


def transition_reason(record: Mapping[str, Any], role: str) -> str:
    """A lifecycle refusal in a register's terms: the row was never "moved"."""
    status, record_type = record.get("status"), str(record.get("type", "record"))
    who, initial = role.replace("_", " "), schemas.INITIAL_STATUS.get(record_type, "new")
    return (
        f"a {record_type.replace('_', ' ')} that is already {status} cannot be imported on a"
        f" {who}'s device (only a station officer may decide it); import it on the station's"
        f" device, or leave out its status to import it as {initial}"
    )


# One complete line of each type, in the CLI's names (``beatsync import --example TYPE``);
# tests import each of them, so they cannot go stale.
EXAMPLES: Mapping[str, str] = {
    "complaint": (
        '{"type": "complaint", "name": "Ram Kumar", "phone": "9876543210",'
        ' "address": "House 14, Kankarbagh, Patna", "category": "theft",'
        ' "description": "His phone was snatched near the bus stand.",'
        ' "place": "Mithapur bus stand", "incident_time": "2026-11-28 18:30",'
        ' "gps": "25.61,85.14", "created_at": "2026-11-28T19:05:00+05:30"}'
    ),
    "visitor_entry": (
        '{"type": "visitor_entry", "name": "Anjali Verma", "phone": "8765432109",'
        ' "purpose": "Land dispute papers", "to_meet": "SHO", "id_type": "aadhaar",'
        ' "id_last4": "1234", "created_at": "2026-11-28T11:00:00+05:30"}'
    ),
    "verification_visit": (
        '{"type": "verification_visit", "kind": "tenant", "name": "Sunil Yadav",'
        ' "father_name": "Ram Yadav", "phone": "7654321098",'
        ' "address": "House 221, Rajendra Nagar, Patna",'
        ' "findings": "Lives here with his family.", "recommendation": "clear",'
        ' "neighbours_statements": [{"name": "Imran Ansari",'
        ' "statement": "He has lived here 5 years."}],'
        ' "created_at": "2026-11-27T16:00:00+05:30"}'
    ),
}
