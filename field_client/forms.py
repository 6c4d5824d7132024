"""What the CLI's questions turn into: record bodies and edits, as plain dicts.

The envelope (who, when, station, beat) is filled in later by
:func:`field_client.records.prepare`; these functions only shape the fields
an officer types, so the same record comes out of flags, prompts or JSON.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from schemas import FINAL_STATUSES
from schemas.merge import REOPENED

__all__ = [
    "WORKING_STATUSES",
    "complaint",
    "complaint_update",
    "parse_gps",
    "visit",
    "visitor_in",
    "visitor_out",
]

# Statuses the complaint schema wants an assigned officer for.
WORKING_STATUSES = ("assigned", "under_investigation", "resolved")


def _without_empty(values: Mapping[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value not in (None, "")}


def parse_gps(text: str | None) -> dict[str, float] | None:
    """``"25.61,85.14"`` → ``{"lat": 25.61, "lon": 85.14}``; ``ValueError`` if malformed."""
    if not text:
        return None
    try:
        lat, lon = (float(part) for part in text.split(","))
    except ValueError:
        raise ValueError("GPS must be two numbers, latitude,longitude (e.g. 25.61,85.14)") from None
    return {"lat": lat, "lon": lon}


def complaint(
    *,
    name: str,
    phone: str | None,
    address: str,
    category: str,
    description: str,
    place: str,
    incident_time: str,
    gps: dict[str, float] | None,
    officer_id: str,
    at: str,
) -> dict[str, Any]:
    incident: dict[str, Any] = {"time": incident_time, "place": place}
    if gps:
        incident["gps"] = gps
    return {
        "type": "complaint",
        "complainant": _without_empty({"name": name, "phone": phone, "address": address}),
        "category": category,
        "description": description,
        "incident": incident,
        "status": "registered",
        "action_log": [{"at": at, "by": officer_id, "action": "registered"}],
    }


def complaint_update(
    old: Mapping[str, Any],
    *,
    status: str | None,
    note: str | None,
    assign: str | None,
    fir_number: str | None,
    officer_id: str,
    at: str,
) -> dict[str, Any]:
    """The edited complaint; every change is also logged in ``action_log`` (append-only)."""
    new = copy.deepcopy(dict(old))
    if assign:
        new["assigned_officer"] = assign
    if fir_number:
        new["fir_number"] = fir_number
    if status and status != old.get("status"):
        new["status"] = status
        if status in WORKING_STATUSES:
            # The schema needs an officer on a working complaint: the one moving it.
            new.setdefault("assigned_officer", officer_id)
    if status or note or assign or fir_number:
        action = status or ("assigned" if assign else "note")
        if status in WORKING_STATUSES and old.get("status") in FINAL_STATUSES["complaint"]:
            # The merge's status lattice knows a reopening only by this entry
            # (schemas.merge): without it a closed branch would win.
            action = REOPENED
        new.setdefault("action_log", []).append(
            _without_empty({"at": at, "by": officer_id, "action": action, "note": note})
        )
    return new


def visitor_in(
    *,
    name: str,
    phone: str | None,
    purpose: str,
    whom_to_meet: str,
    id_type: str | None,
    id_last4: str | None,
    at: str,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "visitor_entry",
        "visitor": _without_empty({"name": name, "phone": phone}),
        "purpose": purpose,
        "whom_to_meet": whom_to_meet,
        "time_in": at,
    }
    if id_type or id_last4:
        record["id_proof"] = {"type": id_type or "other", "last4": (id_last4 or "").upper()}
    return record


def visitor_checkin(old: Mapping[str, Any], *, at: str) -> dict[str, Any]:
    """A visitor announced on the portal (``expected_at``) has come in."""
    return {**copy.deepcopy(dict(old)), "time_in": at}


def visitor_out(old: Mapping[str, Any], *, at: str) -> dict[str, Any]:
    return {**copy.deepcopy(dict(old)), "time_out": at}


def visit(
    *,
    kind: str,
    name: str,
    father_name: str | None,
    phone: str | None,
    address: str,
    findings: str,
    recommendation: str,
    gps: dict[str, float] | None,
    neighbours: list[dict[str, str]],
    at: str,
) -> dict[str, Any]:
    record: dict[str, Any] = {
        "type": "verification_visit",
        "kind": kind,
        "subject": _without_empty({"name": name, "father_name": father_name, "phone": phone}),
        "address": address,
        "visit_time": at,
        "findings": findings,
        "neighbours_statements": neighbours,
        "recommendation": recommendation,
        "photos": [],
    }
    if gps:
        record["gps"] = gps
    return record
