"""Deterministic, realistic records for tests and benchmarks.

``sample_records(n, seed=...)`` always returns the same records for the same
arguments: a mix of complaints, visitor entries and verification visits at one
station, with Hindi (Devanagari) and English text, each 0.5-2 KB of JSON and
valid against the current schemas. Ids are uuid4 hex drawn from the seeded
generator, so they carry no personal data. The people are invented.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from schemas.choices import choices
from schemas.loader import CURRENT_VERSIONS

__all__ = ["MAX_BYTES", "MIN_BYTES", "sample_record", "sample_records"]

MIN_BYTES = 500
MAX_BYTES = 2000

_IST = timezone(timedelta(hours=5, minutes=30))
_EPOCH = datetime(2024, 3, 1, 9, 0, tzinfo=_IST)

_NAMES = (
    "राम कुमार सिंह",
    "सीता देवी",
    "मोहम्मद इरफ़ान",
    "Anjali Verma",
    "Rakesh Paswan",
    "पूजा कुमारी",
    "Sunil Yadav",
    "गीता सिन्हा",
    "Imran Ansari",
    "Priya Kumari",
    "अशोक मंडल",
    "Ravi Shankar Prasad",
    "नेहा भारती",
    "Manoj Tiwari",
    "शबनम खातून",
)
_PLACES = (
    "गांधी मैदान के पास",
    "Patna Junction, platform 4",
    "अशोक राजपथ, पटना",
    "Boring Road crossing",
    "कंकड़बाग कॉलोनी, सेक्टर 2",
    "Fraser Road, near Dak Bungalow",
    "बाकरगंज बाज़ार",
    "Rajendra Nagar, road no. 6",
    "मीठापुर बस स्टैंड",
)
_ADDRESSES = (
    "मकान नं. 14, गली नं. 3, कंकड़बाग, पटना 800020",
    "Flat 3B, Shanti Apartments, Boring Road, Patna 800001",
    "ग्राम सरैया, पोस्ट बिहटा, ज़िला पटना 801103",
    "House 221, Rajendra Nagar, Patna 800016",
    "मोहल्ला पठान टोली, पटना सिटी 800008",
)
_SENTENCES = (
    "शिकायतकर्ता ने बताया कि घटना शाम के समय हुई।",
    "The complainant states that the incident happened in the evening.",
    "मौके पर दो गवाह मौजूद थे जिन्होंने पूरी घटना देखी।",
    "Two witnesses were present and saw what happened.",
    "पीड़ित का मोबाइल फ़ोन और बटुआ छीन लिया गया।",
    "The mobile phone and wallet of the victim were snatched.",
    "आसपास के सीसीटीवी कैमरों की फुटेज देखी जानी है।",
    "CCTV footage from nearby shops is to be checked.",
    "शिकायतकर्ता को एफ़आईआर की प्रति और रसीद दी गई।",
    "A receipt was given to the complainant at the counter.",
    "पड़ोसियों से पूछताछ की गई, सभी ने सहयोग किया।",
    "Neighbours were questioned and cooperated fully.",
)
_CATEGORIES = choices("complaint", "category")
_PURPOSES = (
    "पासपोर्ट सत्यापन की जानकारी",
    "To submit documents for tenant verification",
    "शिकायत की स्थिति जानने",
    "To meet the SHO about a land dispute",
    "चरित्र प्रमाण पत्र",
)


def _hex_id(rng: random.Random) -> str:
    return uuid.UUID(int=rng.getrandbits(128), version=4).hex


def _phone(rng: random.Random) -> str:
    return f"{rng.choice('6789')}{rng.randrange(10**9):09d}"


def _time(rng: random.Random, after: datetime = _EPOCH, days: int = 90) -> datetime:
    return after + timedelta(seconds=rng.randrange(days * 86400))


def _stamp(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _gps(rng: random.Random) -> dict[str, float]:
    # Around Patna (25.6 N, 85.1 E).
    return {
        "lat": round(25.55 + rng.random() * 0.1, 6),
        "lon": round(85.05 + rng.random() * 0.2, 6),
    }


def _text(rng: random.Random, sentences: int) -> str:
    return " ".join(rng.choice(_SENTENCES) for _ in range(sentences))


def _envelope(
    rng: random.Random, record_type: str, station_id: str, beat_ids: Sequence[str], officer: str
) -> tuple[dict[str, Any], datetime]:
    created = _time(rng)
    updated = created + timedelta(minutes=rng.randrange(0, 3 * 24 * 60))
    return {
        "_id": _hex_id(rng),
        "type": record_type,
        "schema_version": CURRENT_VERSIONS[record_type],
        "station_id": station_id,
        "beat_id": rng.choice(beat_ids),
        "created_by": officer,
        "created_at": _stamp(created),
        "updated_by": officer,
        "updated_at": _stamp(updated),
    }, created


def _complaint(rng: random.Random, doc: dict[str, Any], created: datetime, officer: str) -> None:
    status = rng.choice(
        ("registered", "assigned", "under_investigation", "resolved", "closed", "converted_to_fir")
    )
    incident: dict[str, Any] = {
        "time": _stamp(created - timedelta(hours=rng.randrange(1, 72))),
        "place": rng.choice(_PLACES),
    }
    if rng.random() < 0.7:
        incident["gps"] = _gps(rng)
    doc.update(
        complainant={
            "name": rng.choice(_NAMES),
            "phone": _phone(rng),
            "address": rng.choice(_ADDRESSES),
        },
        category=rng.choice(_CATEGORIES),
        description=_text(rng, rng.randint(2, 6)),
        incident=incident,
        status=status,
        action_log=[
            {
                "at": doc["created_at"],
                "by": officer,
                "action": "registered",
                "note": rng.choice(_SENTENCES),
            }
        ],
    )
    if status != "registered":
        doc["assigned_officer"] = officer
        doc["action_log"].append({"at": doc["updated_at"], "by": officer, "action": status})
    if status == "converted_to_fir":
        doc["fir_number"] = f"{rng.randint(1, 999)}/2024"


def _visitor(rng: random.Random, doc: dict[str, Any], created: datetime, officer: str) -> None:
    doc.update(
        visitor={"name": rng.choice(_NAMES), "phone": _phone(rng)},
        purpose=rng.choice(_PURPOSES) + ". " + _text(rng, rng.randint(1, 3)),
        whom_to_meet=rng.choice(("SHO", "थाना प्रभारी", "Duty officer", "मुंशी जी")),
        time_in=_stamp(created),
        id_proof={
            "type": rng.choice(("aadhaar", "voter_id", "driving_licence", "passport", "pan")),
            "last4": "".join(rng.choice("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(4)),
        },
    )
    if rng.random() < 0.8:
        doc["time_out"] = _stamp(created + timedelta(minutes=rng.randint(5, 180)))


def _visit(rng: random.Random, doc: dict[str, Any], created: datetime, officer: str) -> None:
    doc.update(
        kind=rng.choice(("passport", "character", "tenant", "domestic_help", "employee")),
        subject={
            "name": rng.choice(_NAMES),
            "father_name": rng.choice(_NAMES),
            "phone": _phone(rng),
        },
        address=rng.choice(_ADDRESSES),
        visit_time=_stamp(created),
        gps=_gps(rng),
        findings=_text(rng, rng.randint(1, 3)),
        neighbours_statements=[
            {"name": rng.choice(_NAMES), "statement": _text(rng, 1)}
            for _ in range(rng.randint(1, 2))
        ],
        recommendation=rng.choice(("clear", "clear", "clear", "adverse", "not_found")),
        photos=[f"photo-{i + 1}.jpg" for i in range(rng.randint(0, 3))],
    )
    if rng.random() < 0.5:
        doc["certificate_request_id"] = _hex_id(rng)


_BUILDERS: dict[str, Callable[[random.Random, dict[str, Any], datetime, str], None]] = {
    "complaint": _complaint,
    "visitor_entry": _visitor,
    "verification_visit": _visit,
}
# Rough mix of a station's day: complaints and the visitor register dominate.
_WEIGHTS = {"complaint": 4, "visitor_entry": 4, "verification_visit": 2}
# The free-text field each type grows or trims to land in MIN_BYTES..MAX_BYTES.
_PADDING = {
    "complaint": "description",
    "visitor_entry": "purpose",
    "verification_visit": "findings",
}
_LIMITS = {"description": 20000, "purpose": 500, "findings": 20000}


def _size(doc: dict[str, Any]) -> int:
    return len(orjson.dumps(doc))


def _fit(rng: random.Random, doc: dict[str, Any], record_type: str) -> None:
    field = _PADDING[record_type]
    while _size(doc) < MIN_BYTES:
        extra = doc[field] + " " + rng.choice(_SENTENCES)
        if len(extra) > _LIMITS[field]:
            break
        doc[field] = extra
    while _size(doc) > MAX_BYTES and " " in doc[field]:
        doc[field] = doc[field].rsplit(" ", 1)[0]


def sample_record(
    rng: random.Random,
    record_type: str,
    *,
    station_id: str = "patna-kotwali",
    beat_ids: Sequence[str] = ("beat-1", "beat-2", "beat-3"),
    officer: str = "officer-17",
) -> dict[str, Any]:
    """One valid record of ``record_type`` drawn from ``rng``."""
    doc, created = _envelope(rng, record_type, station_id, beat_ids, officer)
    _BUILDERS[record_type](rng, doc, created, officer)
    _fit(rng, doc, record_type)
    return doc


def sample_records(
    n: int,
    *,
    seed: int = 0,
    station_id: str = "patna-kotwali",
    beat_ids: Sequence[str] = ("beat-1", "beat-2", "beat-3"),
    officer: str = "officer-17",
) -> list[dict[str, Any]]:
    """``n`` valid records, the same ones for the same arguments."""
    rng = random.Random(seed)
    types, weights = list(_WEIGHTS), list(_WEIGHTS.values())
    return [
        sample_record(
            rng,
            rng.choices(types, weights)[0],
            station_id=station_id,
            beat_ids=beat_ids,
            officer=officer,
        )
        for _ in range(n)
    ]
