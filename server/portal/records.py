"""The records the portal files, as any other client would write them."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas.identity import citizen_actor
from schemas.loader import CURRENT_VERSIONS
from server.state.timestamps import utc_now
from sync.database import Doc

__all__ = [
    "EFILED_PREFIX",
    "FILED_ONLINE",
    "LISTED_DAYS",
    "SIGNATURE_DAYS",
    "SIGNED_AT_STATION",
    "announced_visitor",
    "appointment",
    "awaits_signature",
    "complaint",
    "efiled_key",
    "envelope",
    "signature_deadline",
]

# An e-complaint must be signed by the complainant at the station within
# three days, or it lapses (the district's rule for e-FIRs, after BNSS s.173(1)).
SIGNATURE_DAYS = 3
FILED_ONLINE = "filed_online"
# The action an officer records once the complainant signed at the station.
SIGNED_AT_STATION = "signed_at_station"
# E-complaints take ids that sort by filing time under one prefix, so the
# station's awaiting-signature list is a range read of the id index: the same
# on SQLite and CouchDB, sealed stores included, with no index or design
# document in a station database (either would replicate to every device,
# and the district database's Mango indexes lag behind its fan-in).
EFILED_PREFIX = "efiled-"
# How long a lapsed e-complaint stays on that list (the station calls the
# complainant or closes it); older ones are in the station's register only.
LISTED_DAYS = 30
_ID_TIME = "%Y%m%dT%H%M%S"


def efiled_key(at: datetime) -> str:
    """The id prefix of e-complaints filed at ``at`` (a range bound)."""
    return EFILED_PREFIX + at.astimezone(UTC).strftime(_ID_TIME)


def envelope(record_type: str, ref: str, station_id: str, beat_id: str) -> Doc:
    now, actor = utc_now(), citizen_actor(ref)
    return {
        "_id": uuid.uuid4().hex,
        "type": record_type,
        "schema_version": CURRENT_VERSIONS[record_type],
        "station_id": station_id,
        "beat_id": beat_id,
        "created_by": actor,
        "created_at": now,
        "updated_by": actor,
        "updated_at": now,
    }


def complaint(ref: str, station_id: str, beat_id: str, answers: dict[str, Any]) -> Doc:
    doc = envelope("complaint", ref, station_id, beat_id)
    doc["_id"] = f"{efiled_key(datetime.fromisoformat(doc['created_at']))}-{uuid.uuid4().hex}"
    complainant = {"name": answers["name"], "phone": answers["phone"]}
    doc.update(
        complainant={**complainant, "address": answers["address"]},
        category=answers["category"],
        description=answers["description"],
        incident={"time": answers["time"].isoformat(), "place": answers["place"]},
        status="registered",
        action_log=[{"at": doc["created_at"], "by": doc["created_by"], "action": FILED_ONLINE}],
    )
    photo = answers.get("photo")
    if photo:
        content_type, data = photo
        name = "photo.jpg" if content_type == "image/jpeg" else "photo.png"
        doc["_attachments"] = {
            name: {"content_type": content_type, "data": base64.b64encode(data).decode()}
        }
    return doc


def signature_deadline(doc: Doc) -> datetime:
    return datetime.fromisoformat(doc["created_at"]) + timedelta(days=SIGNATURE_DAYS)


def awaits_signature(doc: Doc) -> bool:
    """Filed online and not yet signed at the station (whatever the deadline)."""
    log = doc.get("action_log") or []
    return (
        doc.get("type") == "complaint"
        and any(entry.get("action") == FILED_ONLINE for entry in log)
        and not any(entry.get("action") == SIGNED_AT_STATION for entry in log)
    )


def appointment(
    ref: str, station_id: str, beat_id: str, doc_id: str, answers: dict[str, Any]
) -> Doc:
    doc = envelope("appointment", ref, station_id, beat_id)
    doc.update(
        _id=doc_id,
        citizen={"name": answers["name"], "phone": answers["phone"]},
        officer_id=answers["officer_id"],
        slot=answers["slot"].isoformat(),
        purpose=answers["purpose"],
        status="requested",
    )
    doc["with"] = answers["with"]
    return doc


def announced_visitor(ref: str, station_id: str, beat_id: str, answers: dict[str, Any]) -> Doc:
    """A visit the citizen announced: in the register, not yet checked in."""
    doc = envelope("visitor_entry", ref, station_id, beat_id)
    doc.update(
        visitor={"name": answers["name"], "phone": answers["phone"]},
        purpose=answers["purpose"],
        whom_to_meet=answers["whom"],
        expected_at=answers["when"].isoformat(),
    )
    return doc
