"""Records and helpers the field client tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from field_client import forms
from field_client.records import now_stamp

__all__ = ["PASSPHRASE", "complaint", "files_under", "visit", "visitor"]

PASSPHRASE = "correct horse battery"


def complaint(
    text: str = "The phone was snatched near the bus stand.", **changes: Any
) -> dict[str, Any]:
    record = forms.complaint(
        name="राम कुमार सिंह",
        phone="9876543210",
        address="मकान नं. 14, कंकड़बाग, पटना",
        category="theft",
        description=text,
        place="मीठापुर बस स्टैंड",
        incident_time="2026-11-28T18:30:00+05:30",
        gps={"lat": 25.6, "lon": 85.14},
        officer_id="si.sharma",
        at=now_stamp(),
    )
    return {**record, **changes}


def visitor(purpose: str = "To meet the SHO about a land dispute") -> dict[str, Any]:
    return forms.visitor_in(
        name="Anjali Verma",
        phone="8765432109",
        purpose=purpose,
        whom_to_meet="SHO",
        id_type="aadhaar",
        id_last4="1234",
        at=now_stamp(),
    )


def visit(findings: str = "The applicant lives here with his family.") -> dict[str, Any]:
    return forms.visit(
        kind="passport",
        name="Sunil Yadav",
        father_name="Ram Yadav",
        phone="7654321098",
        address="House 221, Rajendra Nagar, Patna",
        findings=findings,
        recommendation="clear",
        gps=None,
        neighbours=[{"name": "Imran Ansari", "statement": "He has lived here 5 years."}],
        at=now_stamp(),
    )


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())
