"""validate(): what passes, and exactly what an officer is told when it does not."""

from __future__ import annotations

import copy
import json
from typing import Any

import orjson
import pytest

from schemas import RECORD_TYPES, FieldError, RecordInvalid, validate
from sync.errors import CouchError, Forbidden
from tests.schemas.examples import valid

DELETE = object()


def edited(record_type: str, path: str, value: Any) -> dict[str, Any]:
    """``valid(record_type)`` with the dotted ``path`` set to ``value`` (or removed)."""
    doc = valid(record_type)
    *parents, last = path.split(".")
    target: Any = doc
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target.setdefault(part, {})
    if value is DELETE:
        del target[last]
    elif isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value
    return doc


def errors_of(doc: Any) -> list[FieldError]:
    with pytest.raises(RecordInvalid) as caught:
        validate(doc)
    return caught.value.errors


@pytest.mark.parametrize("record_type", RECORD_TYPES)
def test_minimal_records_are_valid(record_type: str) -> None:
    validate(valid(record_type))


FULL = [
    edited("complaint", "incident.gps", {"lat": 25.61, "lon": 85.14, "accuracy_m": 12.5}),
    valid(
        "complaint",
        status="converted_to_fir",
        fir_number="123/2024",
        assigned_officer="officer-17",
        category="cyber_fraud",
        action_log=[
            {"at": "2024-05-01T10:30:00Z", "by": "officer-17", "action": "registered"},
            {
                "at": "2024-05-02T10:30:00Z",
                "by": "sho-kotwali",
                "action": "FIR",
                "note": "धारा 379",
            },
        ],
    ),
    valid("complaint", status="closed"),
    valid("complaint", status="under_investigation", assigned_officer="ravi.kumar"),
    valid("visitor_entry", time_out="2024-05-01T10:30:00+05:30"),
    valid("visitor_entry", time_out="2024-05-01T05:31:00Z"),
    edited("visitor_entry", "visitor.phone", DELETE),
    valid(
        "verification_visit",
        subject={"name": "A", "father_name": "B", "phone": "8000000000"},
        certificate_request_id="5f0c3b8e2a7d4c1e9b6a0d3f2e1c4b5a",
        gps={"lat": 6.0, "lon": 97.5},
        neighbours_statements=[{"name": "पड़ोसी", "statement": "अच्छे व्यक्ति हैं"}],
        photos=["front door.jpg", "photo-2.jpg"],
        recommendation="not_found",
    ),
    valid("appointment", officer_id="sho-kotwali", status="confirmed", created_by="officer-2"),
    valid("certificate_request", verification_visit_ids=["a1", "b2"], status="issued"),
    valid("journal_entry", seq=2, prev_hash="f" * 64, parent_rev="1-" + "b" * 32),
    valid(
        "complaint",
        signature={
            "device_id": "dev-3f9a",
            "alg": "ed25519",
            "parent": None,
            "value": "A" * 86 + "==",
        },
    ),
    valid(
        "complaint", created_at="2024-05-01T05:00:00.123456789Z", updated_at="2024-05-01t05:00:00z"
    ),
    # CouchDB's own fields are CouchDB's business, not the schema's.
    valid(
        "complaint",
        _id="5f0c3b8e2a7d4c1e9b6a0d3f2e1c4b5a",
        _rev="3-" + "c" * 32,
        _revisions={"start": 3, "ids": ["c" * 32]},
        _attachments={"a.jpg": {"stub": True}},
        _conflicts=["2-" + "d" * 32],
    ),
]


@pytest.mark.parametrize("doc", FULL, ids=lambda d: d["type"])
def test_fuller_records_are_valid(doc: dict[str, Any]) -> None:
    validate(doc)


PHONE = "must be a 10-digit Indian mobile number"
WHEN = "must be a date and time with its zone, like 2024-05-01T10:30:00+05:30"
SLUG = "must be a short id of lowercase letters, digits and dashes, starting with a letter"
UNKNOWN = "is not a field of this record (check the spelling)"

# (type, dotted path to change, new value or DELETE, expected error path, expected text)
INVALID = [
    ("complaint", "complainant.phone", "12345", "complainant.phone", PHONE),
    ("complaint", "complainant.phone", "5876543210", "complainant.phone", PHONE),
    ("complaint", "complainant.phone", "+9198765432101", "complainant.phone", PHONE),
    ("complaint", "complainant.phone", "९८७६५४३२१०", "complainant.phone", PHONE),
    ("complaint", "complainant.phone", 9876543210, "complainant.phone", PHONE),
    ("complaint", "complainant.name", "", "complainant.name", "must not be empty"),
    ("complaint", "complainant.name", DELETE, "complainant.name", "is required"),
    ("complaint", "complainant.email", "a@b.in", "complainant.email", UNKNOWN),
    (
        "complaint",
        "category",
        "cyber",
        "category",
        "must be one of: theft, assault, cyber_fraud, missing_person, domestic_dispute, "
        "land_dispute, other",
    ),
    ("complaint", "description", "x" * 20001, "description", "must be at most 20000 characters"),
    ("complaint", "description", DELETE, "description", "is required"),
    ("complaint", "incident.time", "30/04/2024 9 PM", "incident.time", WHEN),
    ("complaint", "incident.time", "2024-04-30T21:00:00", "incident.time", WHEN),
    ("complaint", "incident.time", "2024-02-30T21:00:00Z", "incident.time", WHEN),
    (
        "complaint",
        "incident.gps",
        {"lat": 51.5, "lon": 85.1},
        "incident.gps.lat",
        "must be a latitude inside India (6 to 37.5 degrees north)",
    ),
    (
        "complaint",
        "incident.gps",
        {"lat": 25.5, "lon": -0.1},
        "incident.gps.lon",
        "must be a longitude inside India (68 to 97.5 degrees east)",
    ),
    ("complaint", "incident.gps", {"lat": 25.5}, "incident.gps.lon", "is required"),
    (
        "complaint",
        "status",
        "open",
        "status",
        "must be one of: registered, assigned, under_investigation, resolved, closed, "
        "converted_to_fir",
    ),
    (
        "complaint",
        "status",
        "converted_to_fir",
        "fir_number",
        "is required once the complaint is converted to an FIR",
    ),
    (
        "complaint",
        "fir_number",
        "123/2024",
        "fir_number",
        "is only recorded once the complaint is converted to an FIR",
    ),
    (
        "complaint",
        "status",
        "assigned",
        "assigned_officer",
        "is required once the complaint is assigned",
    ),
    ("complaint", "action_log", {"at": "x"}, "action_log", "must be a list"),
    (
        "complaint",
        "action_log",
        [{"at": "2024-05-01T10:30:00Z", "by": "officer-17"}],
        "action_log.0.action",
        "is required",
    ),
    (
        "complaint",
        "action_log",
        [{"at": "2024-05-01T10:30:00Z", "by": "Officer 17", "action": "x"}],
        "action_log.0.by",
        "must be an officer id or citizen:<id>",
    ),
    ("complaint", "complainant_phone", "9876543210", "complainant_phone", UNKNOWN),
    ("complaint", "station_id", "Patna Kotwali", "station_id", SLUG),
    ("complaint", "station_id", "patna-kotwali\n", "station_id", SLUG),
    ("complaint", "beat_id", "b", "beat_id", SLUG),
    ("complaint", "beat_id", DELETE, "beat_id", "is required"),
    ("complaint", "created_at", "yesterday", "created_at", WHEN),
    ("complaint", "updated_at", 1714550000, "updated_at", WHEN),
    ("complaint", "created_by", "citizen:", "created_by", "must be an officer id or citizen:<id>"),
    ("complaint", "updated_by", DELETE, "updated_by", "is required"),
    ("complaint", "statoin_id", "patna-kotwali", "statoin_id", UNKNOWN),
    (
        "complaint",
        "signature",
        {"device_id": "d1", "alg": "rsa", "parent": None, "value": "AAAA"},
        "signature.alg",
        "must be ed25519",
    ),
    (
        "complaint",
        "signature",
        {"device_id": "d1", "alg": "ed25519", "parent": None, "value": "not base64!"},
        "signature.value",
        "must be a base64 signature",
    ),
    (
        "complaint",
        "signature",
        {"device_id": "d1", "alg": "ed25519", "parent": None},
        "signature.value",
        "is required",
    ),
    (
        "complaint",
        "signature",
        {"device_id": "d1", "alg": "ed25519", "parent": "2-abc", "value": "AAAA"},
        "signature.parent",
        "must be the revision this one edits, or null",
    ),
    (
        "visitor_entry",
        "time_out",
        "2024-05-01T10:29:59+05:30",
        "time_out",
        "must not be before time_in",
    ),
    ("visitor_entry", "time_in", "2024-05-01", "time_in", WHEN),
    ("visitor_entry", "visitor.phone", "011-2345678", "visitor.phone", PHONE),
    (
        "visitor_entry",
        "id_proof.last4",
        "123456789012",
        "id_proof.last4",
        "must be only the last 4 characters of the document number (digits or capital letters)",
    ),
    (
        "visitor_entry",
        "id_proof.last4",
        "ab12",
        "id_proof.last4",
        "must be only the last 4 characters of the document number (digits or capital letters)",
    ),
    ("visitor_entry", "id_proof.number", "123456789012", "id_proof.number", UNKNOWN),
    (
        "visitor_entry",
        "id_proof.type",
        "ration_card",
        "id_proof.type",
        "must be one of: aadhaar, voter_id, driving_licence, passport, pan, other",
    ),
    ("visitor_entry", "whom_to_meet", DELETE, "whom_to_meet", "is required"),
    (
        "verification_visit",
        "kind",
        "arms_licence",
        "kind",
        "must be one of: passport, character, tenant, domestic_help, employee",
    ),
    (
        "verification_visit",
        "recommendation",
        "ok",
        "recommendation",
        "must be one of: clear, adverse, not_found",
    ),
    (
        "verification_visit",
        "neighbours_statements",
        [{"name": "X"}],
        "neighbours_statements.0.statement",
        "is required",
    ),
    (
        "verification_visit",
        "photos",
        ["a/b.jpg"],
        "photos.0",
        "must be an attachment name (no '/' and not starting with '_')",
    ),
    (
        "verification_visit",
        "photos",
        ["a.jpg", "a.jpg"],
        "photos",
        "must not list the same entry twice",
    ),
    ("verification_visit", "subject.father_name", "", "subject.father_name", "must not be empty"),
    (
        "verification_visit",
        "gps",
        {"lat": "25.6", "lon": 85.1},
        "gps.lat",
        "must be a latitude inside India (6 to 37.5 degrees north)",
    ),
    (
        "verification_visit",
        "certificate_request_id",
        "_design/x",
        "certificate_request_id",
        "must be the id of another record",
    ),
    ("appointment", "with", "dsp", "with", "must be one of: sp, sho, station_officer"),
    (
        "appointment",
        "status",
        "done",
        "status",
        "must be one of: requested, confirmed, cancelled, completed",
    ),
    ("appointment", "slot", "tomorrow 11am", "slot", WHEN),
    ("appointment", "citizen.phone", DELETE, "citizen.phone", "is required"),
    (
        "certificate_request",
        "status",
        "approved",
        "status",
        "must be one of: submitted, verification_pending, verified, rejected, issued",
    ),
    ("certificate_request", "applicant.address", DELETE, "applicant.address", "is required"),
    (
        "certificate_request",
        "verification_visit_ids",
        "a1",
        "verification_visit_ids",
        "must be a list",
    ),
    ("journal_entry", "seq", 0, "seq", "must be at least 1"),
    ("journal_entry", "seq", 1.0, "seq", "must be a whole number"),
    ("journal_entry", "seq", True, "seq", "must be a whole number"),
    ("journal_entry", "hash", "A" * 64, "hash", "must be a SHA-256 hash (64 lowercase hex digits)"),
    (
        "journal_entry",
        "prev_hash",
        "f" * 64,
        "prev_hash",
        "must be null for a device's first entry",
    ),
    ("journal_entry", "rev", "1-xyz", "rev", "must be a revision id like 3-<32 hex digits>"),
    (
        "journal_entry",
        "parent_rev",
        "0-" + "a" * 32,
        "parent_rev",
        "must be a revision id like 3-<32 hex digits>, or null for a record's first edit",
    ),
    ("journal_entry", "action", "edit", "action", "must be one of: create, update, delete"),
    (
        "journal_entry",
        "record_type",
        "journal_entry",
        "record_type",
        "must be one of: complaint, visitor_entry, verification_visit, appointment, "
        "certificate_request",
    ),
    ("journal_entry", "parent_rev", DELETE, "parent_rev", "is required"),
]


@pytest.mark.parametrize(
    ("record_type", "path", "value", "error_path", "text"),
    INVALID,
    ids=[f"{row[0]}:{row[1]}={row[2]!r:.20}" for row in INVALID],
)
def test_invalid_field_is_named_with_a_sentence(
    record_type: str, path: str, value: Any, error_path: str, text: str
) -> None:
    assert errors_of(edited(record_type, path, value)) == [
        FieldError(error_path, f"{error_path}: {text}")
    ]


def test_journal_entry_after_the_first_needs_the_previous_hash() -> None:
    assert errors_of(valid("journal_entry", seq=2)) == [
        FieldError("prev_hash", "prev_hash: must be the previous entry's hash")
    ]


@pytest.mark.parametrize(
    ("doc", "error"),
    [
        ([], FieldError("", "a record must be a JSON object")),
        ("complaint", FieldError("", "a record must be a JSON object")),
        ({}, FieldError("type", "type: is required")),
        (
            valid("complaint", type="station"),
            FieldError(
                "type",
                "type: must be one of: appointment, certificate_request, complaint, "
                "journal_entry, verification_visit, visitor_entry",
            ),
        ),
        (
            valid("complaint", type=["complaint"]),
            FieldError(
                "type",
                "type: must be one of: appointment, certificate_request, complaint, "
                "journal_entry, verification_visit, visitor_entry",
            ),
        ),
        (
            valid("complaint", schema_version="2"),
            FieldError("schema_version", "schema_version: must be a whole number"),
        ),
        (
            valid("complaint", schema_version=True),
            FieldError("schema_version", "schema_version: must be a whole number"),
        ),
        (
            valid("complaint", schema_version=0),
            FieldError("schema_version", "schema_version: complaint has no schema version 0"),
        ),
    ],
)
def test_records_of_no_known_type_or_version(doc: Any, error: FieldError) -> None:
    assert errors_of(doc) == [error]


def test_a_record_missing_its_version_is_refused() -> None:
    doc = valid("visitor_entry")
    del doc["schema_version"]
    assert errors_of(doc) == [FieldError("schema_version", "schema_version: is required")]


def test_a_deleted_tombstone_is_not_validated() -> None:
    validate({"_id": "x", "_rev": "2-" + "a" * 32, "_deleted": True})
    validate({"_deleted": True, "type": "complaint"})
    # A truthy non-boolean is not a deletion: CouchDB itself only honours true.
    assert errors_of({"_deleted": 1}) == [FieldError("type", "type: is required")]


def test_every_problem_is_listed_in_a_fixed_order() -> None:
    doc = valid("complaint", station_id="X", category="cyber", zzz=1, aaa=2)
    doc["complainant"]["phone"] = "1"
    doc["action_log"] = [
        {"at": "2024-05-01T10:30:00Z", "by": "o-1", "action": "a"} for _ in range(12)
    ]
    doc["action_log"][2]["at"] = "bad"
    doc["action_log"][10]["at"] = "bad"
    errors = errors_of(doc)
    assert [e.path for e in errors] == [
        "aaa",
        "action_log.2.at",
        "action_log.10.at",
        "category",
        "complainant.phone",
        "station_id",
        "zzz",
    ]
    # Same input, same list, whatever order the dict was built in.
    reordered = dict(reversed(list(doc.items())))
    assert errors_of(reordered) == errors


def test_the_error_is_a_couchdb_forbidden_and_a_value_error() -> None:
    with pytest.raises(RecordInvalid) as caught:
        validate(edited("complaint", "complainant.phone", "1"))
    error = caught.value
    assert isinstance(error, ValueError)
    assert isinstance(error, Forbidden)
    assert isinstance(error, CouchError)
    assert error.status == 403
    assert error.to_json() == {
        "error": "forbidden",
        "reason": "complainant.phone: must be a 10-digit Indian mobile number",
    }


def test_str_joins_every_message() -> None:
    doc = valid("visitor_entry", purpose="")
    doc["visitor"]["phone"] = "1"
    with pytest.raises(RecordInvalid) as caught:
        validate(doc)
    assert str(caught.value) == (
        "purpose: must not be empty; visitor.phone: must be a 10-digit Indian mobile number"
    )


def test_validate_does_not_change_the_record() -> None:
    doc = valid("complaint", _id="abc", bogus=1)
    before = copy.deepcopy(doc)
    with pytest.raises(RecordInvalid):
        validate(doc)
    assert doc == before


HINDI = "शिकायतकर्ता श्रीमती सीता देवी ने बताया — “मेरा मोबाइल छीन लिया गया।” ₹ ५००० क्षति। ॐ"


@pytest.mark.parametrize(
    ("dumps", "loads"),
    [
        (orjson.dumps, orjson.loads),
        (lambda d: json.dumps(d, ensure_ascii=False).encode(), json.loads),
        (lambda d: json.dumps(d).encode(), json.loads),  # \u escapes decode to the same text
    ],
    ids=["orjson", "json-utf8", "json-ascii-escapes"],
)
def test_hindi_text_round_trips_byte_exact(dumps: Any, loads: Any) -> None:
    doc = valid("complaint", description=HINDI)
    doc["complainant"]["name"] = "सीता देवी"
    again = loads(dumps(doc))
    validate(again)
    assert again == doc
    assert again["description"].encode("utf-8") == HINDI.encode("utf-8")
    # No normalisation happened on the way: combining marks stay as typed.
    assert orjson.dumps(again) == orjson.dumps(doc)
