"""Records and helpers the field client tests share."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner, Result

from field_client import forms
from field_client.cli import cli
from field_client.records import now_stamp
from field_client.replica import UNASSIGNED, FieldReplica
from tests.at_rest import files_under, marker_hits

__all__ = [
    "ENV",
    "PASSPHRASE",
    "beatsync",
    "beatsync_json",
    "complaint",
    "files_under",
    "init_offline",
    "marker_hits",
    "unenrolled_replica",
    "visit",
    "visitor",
]

PASSPHRASE = "correct horse battery"
ENV = {"BEATSYNC_PASSPHRASE": PASSPHRASE}


def beatsync(home: Path, *args: str, input: str | None = None, env: dict[str, str] = ENV) -> Result:
    """The real ``beatsync`` CLI on the device in ``home``."""
    return CliRunner().invoke(cli, ["--home", str(home), *args], input=input, env=env)


def beatsync_json(home: Path, *args: str, input: str | None = None) -> Any:
    """``beatsync --json ...``, which must succeed: its parsed output."""
    result = beatsync(home, "--json", *args, input=input)
    assert result.exit_code == 0, result.output
    return orjson.loads(result.stdout)


async def unenrolled_replica(home: Path, officer_id: str = "si.sharma") -> FieldReplica:
    """An officer's new device, its station and beat to come from enrolment."""
    return await FieldReplica.create(
        home, PASSPHRASE, officer_id=officer_id, station_id=UNASSIGNED, beat_id=UNASSIGNED
    )


def init_offline(home: Path) -> None:
    """An officer's device set up with no server: si.sharma, station kotwali, beat-3."""
    result = beatsync(
        home,
        "init",
        "--offline",
        "--officer",
        "si.sharma",
        "--station",
        "kotwali",
        "--beat",
        "beat-3",
    )
    assert result.exit_code == 0, result.output
    assert "Ready" in result.stdout


def complaint(
    text: str = "The phone was snatched near the bus stand.",
    *,
    name: str = "राम कुमार सिंह",
    officer_id: str = "si.sharma",
    **changes: Any,
) -> dict[str, Any]:
    record = forms.complaint(
        name=name,
        phone="9876543210",
        address="मकान नं. 14, कंकड़बाग, पटना",
        category="theft",
        description=text,
        place="मीठापुर बस स्टैंड",
        incident_time="2026-11-28T18:30:00+05:30",
        gps={"lat": 25.6, "lon": 85.14},
        officer_id=officer_id,
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
