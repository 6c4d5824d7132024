"""Records the portal files ahead of the event (v2 schemas): a verification
visit assigned before it is made carries no findings, and once made carries
everything v1 required; a visitor announced has no time in until checked in."""

from __future__ import annotations

from typing import Any

import pytest

import schemas
from schemas.errors import RecordInvalid

ASSIGNED: dict[str, Any] = {
    "_id": "visit-1",
    "type": "verification_visit",
    "schema_version": 2,
    "station_id": "alpha",
    "beat_id": "alpha-one",
    "created_by": "citizen:abc",
    "created_at": "2026-01-02T10:00:00Z",
    "updated_by": "citizen:abc",
    "updated_at": "2026-01-02T10:00:00Z",
    "status": "assigned",
    "kind": "tenant",
    "subject": {"name": "Asha"},
    "address": "4 Mill Road",
    "certificate_request_id": "request-1",
}
MADE = {
    "visit_time": "2026-01-03T11:00:00+05:30",
    "findings": "Lives here for two years; known to neighbours.",
    "neighbours_statements": [{"name": "Gopal", "statement": "A good tenant."}],
    "recommendation": "clear",
    "photos": [],
}


def test_an_assigned_visit_needs_no_findings() -> None:
    schemas.validate(ASSIGNED)


def test_an_assigned_visit_names_its_request() -> None:
    doc = {k: v for k, v in ASSIGNED.items() if k != "certificate_request_id"}
    with pytest.raises(RecordInvalid, match="certificate_request_id"):
        schemas.validate(doc)


@pytest.mark.parametrize("status", ["visited", None])
def test_a_made_visit_carries_its_findings(status: str | None) -> None:
    doc = {k: v for k, v in ASSIGNED.items() if k != "status"}
    if status:
        doc["status"] = status
    with pytest.raises(RecordInvalid, match="findings"):
        schemas.validate(doc)
    schemas.validate({**doc, **MADE})


def test_a_v1_visit_migrates_to_a_made_v2_visit() -> None:
    v1 = {**ASSIGNED, **MADE, "schema_version": 1}
    del v1["status"]
    migrated = schemas.migrate(v1)
    assert migrated["schema_version"] == 2
    schemas.validate(migrated)


ANNOUNCED: dict[str, Any] = {
    **{k: ASSIGNED[k] for k in ("station_id", "beat_id", "created_by", "created_at")},
    **{k: ASSIGNED[k] for k in ("updated_by", "updated_at")},
    "_id": "visitor-1",
    "type": "visitor_entry",
    "schema_version": 2,
    "visitor": {"name": "Kamla"},
    "purpose": "To collect a report",
    "whom_to_meet": "The SHO",
    "expected_at": "2026-01-06T11:00:00+05:30",
}


def test_a_visitor_announced_on_the_portal_has_not_come_in_yet() -> None:
    schemas.validate(ANNOUNCED)
    schemas.validate({**ANNOUNCED, "time_in": "2026-01-06T11:05:00+05:30"})
    with pytest.raises(RecordInvalid):
        schemas.validate({**ANNOUNCED, "time_out": "2026-01-06T12:00:00+05:30"})
    bare = {k: v for k, v in ANNOUNCED.items() if k != "expected_at"}
    with pytest.raises(RecordInvalid):
        schemas.validate(bare)
