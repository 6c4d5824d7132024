"""Hand-written minimal valid records, one per type, for the schema tests to break."""

from __future__ import annotations

import copy
from typing import Any

ENVELOPE: dict[str, Any] = {
    "station_id": "patna-kotwali",
    "beat_id": "beat-2",
    "created_by": "officer-17",
    "created_at": "2024-05-01T10:30:00+05:30",
    "updated_by": "officer-17",
    "updated_at": "2024-05-01T11:00:00+05:30",
}

_RECORDS: dict[str, dict[str, Any]] = {
    "complaint": {
        "type": "complaint",
        "schema_version": 2,
        "complainant": {
            "name": "सीता देवी",
            "phone": "+919876543210",
            "address": "मकान नं. 14, कंकड़बाग, पटना",
        },
        "category": "theft",
        "description": "मेरी साइकिल घर के बाहर से चोरी हो गई। My bicycle was stolen.",
        "incident": {"time": "2024-04-30T21:00:00+05:30", "place": "कंकड़बाग"},
        "status": "registered",
        "action_log": [],
    },
    "visitor_entry": {
        "type": "visitor_entry",
        "schema_version": 1,
        "visitor": {"name": "Rakesh Paswan", "phone": "9123456780"},
        "purpose": "पासपोर्ट सत्यापन",
        "whom_to_meet": "SHO",
        "time_in": "2024-05-01T10:30:00+05:30",
        "id_proof": {"type": "aadhaar", "last4": "4821"},
    },
    "verification_visit": {
        "type": "verification_visit",
        "schema_version": 1,
        "kind": "tenant",
        "subject": {"name": "Imran Ansari"},
        "address": "House 221, Rajendra Nagar, Patna 800016",
        "visit_time": "2024-05-01T16:00:00+05:30",
        "findings": "पड़ोसियों ने बताया कि किरायेदार दो साल से रह रहे हैं।",
        "neighbours_statements": [],
        "recommendation": "clear",
        "photos": [],
    },
    "appointment": {
        "type": "appointment",
        "schema_version": 1,
        "created_by": "citizen:c81f3a",
        "citizen": {"name": "Anjali Verma", "phone": "7004001234"},
        "with": "sho",
        "slot": "2024-05-03T11:00:00+05:30",
        "purpose": "Land dispute follow-up",
        "status": "requested",
    },
    "certificate_request": {
        "type": "certificate_request",
        "schema_version": 1,
        "created_by": "citizen:c81f3a",
        "kind": "character",
        "applicant": {"name": "नेहा भारती", "phone": "6200123456", "address": "पटना सिटी"},
        "status": "submitted",
        "verification_visit_ids": [],
    },
    "journal_entry": {
        "type": "journal_entry",
        "schema_version": 1,
        "device_id": "dev-3f9a",
        "seq": 1,
        "record_id": "5f0c3b8e2a7d4c1e9b6a0d3f2e1c4b5a",
        "record_type": "complaint",
        "rev": "1-" + "a" * 32,
        "parent_rev": None,
        "action": "create",
        "at": "2024-05-01T10:30:00+05:30",
        "prev_hash": None,
        "hash": "0" * 64,
    },
}


def valid(record_type: str, **changes: Any) -> dict[str, Any]:
    """A fresh valid record of ``record_type`` with top-level ``changes`` applied."""
    record = {**copy.deepcopy(ENVELOPE), **copy.deepcopy(_RECORDS[record_type])}
    record.update(changes)
    return record
