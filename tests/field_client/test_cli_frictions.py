"""Issue 12, the field CLI's frictions: each test failed on the CLI before its fix."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest
from rich.console import Console

from field_client import render
from tests.field_client.support import PASSPHRASE, beatsync, beatsync_json, complaint, init_offline


def test_a_too_short_passphrase_is_refused_before_it_is_asked_again(tmp_path: Path) -> None:
    home = tmp_path / "device"
    good = "a long enough passphrase"
    result = beatsync(
        home,
        *["init", "--offline", "--officer", "bo-1", "--station", "kotwali", "--beat", "bazaar"],
        input=f"short\n{good}\n{good}\n",
        env={},
    )
    assert result.exit_code == 0, result.output
    # Refused once, at the first entry: the repeat is asked only for the good one.
    assert result.output.count("at least 8 characters") == 1, result.output
    assert result.output.count("Repeat for confirmation") == 1, result.output


def test_lists_page_with_limit_and_all(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    for n in range(3):
        record = orjson.dumps(complaint(f"Complaint number {n} about a theft.")).decode()
        beatsync_json(home, "complaint", "new", "--from-json", "-", input=record)
    assert len(beatsync_json(home, "complaint", "list", "--limit", "2")) == 2
    assert len(beatsync_json(home, "complaint", "list", "--all")) == 3
    shown = beatsync(home, "complaint", "list", "--limit", "2")
    assert shown.exit_code == 0, shown.output
    assert "2 of 3" in shown.output, shown.output


def test_list_times_are_in_the_devices_time_zone_on_one_line(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TZ", "Asia/Kolkata")
    time.tzset()
    try:
        doc = {**complaint(), "_id": "c" * 32, "created_at": "2026-12-04T00:00:00+00:00"}
        console = Console(width=80, record=True)
        console.print(render.record_list("complaint", [doc]))
        text = console.export_text()
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()
    assert "2026-12-04 05:30" in text, text
    assert "+00:00" not in text, text


# -- friction 1: each answer checked as it is given; a wrong passphrase costs nothing --

_COMPLAINT_ANSWERS = [
    "Ram Kumar",
    "98765",  # refused at once: asked again
    "9876543210",
    "Kankarbagh, Patna",
    "theft",
    "Her bag was snatched.",
    "Mithapur bus stand",
    "yesterday",  # refused at once: asked again
    "2026-12-01 10:30",
    "1,2",  # outside India: asked again
    "25.61,85.14",
]


def _lines(*answers: str) -> str:
    return "".join(f"{answer}\n" for answer in answers)


def test_each_answer_is_checked_as_it_is_given_and_asked_again(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    result = beatsync(home, "complaint", "new", input=_lines(*_COMPLAINT_ANSWERS, PASSPHRASE))
    assert result.exit_code == 0, result.output
    out = result.output
    # The phone's message comes before the next question, not after the last one.
    assert out.index("10-digit mobile number") < out.index("Address:"), out
    assert out.index("Give a date and time") < out.index("GPS"), out
    assert "inside India" in out, out
    [saved] = beatsync_json(home, "complaint", "list")
    assert saved["complainant"]["phone"] == "9876543210"
    assert saved["incident"]["gps"] == {"lat": 25.61, "lon": 85.14}
    assert saved["incident"]["time"].startswith("2026-12-01T10:30:00")


def test_a_wrong_flag_is_refused_before_any_question(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    result = beatsync(home, "complaint", "new", "--phone", "98765", input="", env={})
    assert result.exit_code == 1, result.output
    assert "--phone: Give a 10-digit mobile number" in result.output, result.output
    assert "Complainant's name" not in result.output, result.output


def test_a_wrong_passphrase_is_asked_again_and_the_answers_kept(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    answers = _lines(*_COMPLAINT_ANSWERS, "not my passphrase", PASSPHRASE)
    result = beatsync(home, "complaint", "new", input=answers, env={})
    assert result.exit_code == 0, result.output
    assert "Wrong passphrase; try again (2 left)" in result.output, result.output
    [saved] = beatsync_json(home, "complaint", "list")
    assert saved["description"] == "Her bag was snatched."


def test_three_wrong_passphrases_give_up_and_store_nothing(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    answers = _lines(*_COMPLAINT_ANSWERS, "wrong one 1", "wrong one 2", "wrong one 3")
    result = beatsync(home, "complaint", "new", input=answers, env={})
    assert result.exit_code == 1, result.output
    assert result.output.count("Wrong passphrase; try again") == 2, result.output
    assert beatsync_json(home, "complaint", "list") == []


# -- friction 3: every field of the form is asked ---------------------------------


def test_visitor_in_asks_the_id_type_and_its_last_4(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    answers = _lines("Anjali Verma", "", "Land papers", "SHO", "voter_id", "123456", "56ab")
    result = beatsync(home, "visitor", "in", input=answers)
    assert result.exit_code == 0, result.output
    assert "Only the last 4 characters" in result.output, result.output
    [saved] = beatsync_json(home, "visitor", "list")
    assert saved["id_proof"] == {"type": "voter_id", "last4": "56AB"}


def test_visit_record_asks_gps_neighbours_and_photos(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    door = tmp_path / "door.jpg"
    door.write_bytes(b"\xff\xd8\xff\xe0 the front door")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture")
    answers = _lines(
        *("tenant", "Sunil Yadav", "", "", "House 221, Rajendra Nagar", "Lives here."),
        *("clear", "25.61,85.14"),
        *("Imran Ansari", "He has lived here 5 years.", ""),  # then no more neighbours
        *(str(notes), str(door), ""),  # a text file is refused at once
    )
    result = beatsync(home, "visit", "record", input=answers)
    assert result.exit_code == 0, result.output
    assert "notes.txt is not a JPEG or PNG picture" in result.output, result.output
    [saved] = beatsync_json(home, "visit", "list")
    assert saved["gps"] == {"lat": 25.61, "lon": 85.14}
    assert saved["neighbours_statements"] == [
        {"name": "Imran Ansari", "statement": "He has lived here 5 years."}
    ]
    assert saved["photos"] == ["door.jpg"]


# -- friction 6: import in the CLI's names, filled in like a typed-in record -------

_TYPES = ("complaint", "visitor_entry", "verification_visit")


@pytest.mark.parametrize("record_type", _TYPES)
def test_the_example_line_of_each_type_imports_as_it_is(tmp_path: Path, record_type: str) -> None:
    home = tmp_path / "device"
    init_offline(home)
    example = beatsync(home, "import", "--example", record_type)
    assert example.exit_code == 0, example.output
    register = tmp_path / "register.jsonl"
    register.write_text(example.stdout)
    done = beatsync_json(home, "import", str(register))
    assert (done["imported"], done["refused"]) == (1, 0), done
    [stored] = beatsync_json(home, *_LIST[record_type])
    assert stored["created_at"] == orjson.loads(example.stdout)["created_at"]  # its date kept


_LIST = {
    "complaint": ("complaint", "list"),
    "visitor_entry": ("visitor", "list"),
    "verification_visit": ("visit", "list"),
}


def test_import_help_names_every_field_the_cli_asks_for(tmp_path: Path) -> None:
    from field_client.ui.fields import FORMS

    shown = beatsync(tmp_path / "device", "import", "--help").output
    for record_type in _TYPES:
        for spec in FORMS[record_type].fields:
            name = "to_meet" if spec.name == "whom_to_meet" else spec.name
            assert name in shown, (record_type, name)


def test_a_register_row_in_the_clis_names_gets_what_a_typed_in_record_gets(
    tmp_path: Path,
) -> None:
    home = tmp_path / "device"
    init_offline(home)
    rows = [
        {
            "name": "Priya",
            "purpose": "FIR copy",
            "to-meet": "SHO",
            "id-type": "pan",
            "id-last4": "12ab",
        },
        {"name": "Ravi", "purpose": "Passport", "whom_to_meet": "SHO"},
        # The schema's shape with no time in: filled in (it was required).
        {"visitor": {"name": "Geeta"}, "purpose": "Tenant form", "whom_to_meet": "SHO"},
    ]
    register = tmp_path / "visitors.jsonl"
    register.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    done = beatsync_json(home, "import", "--type", "visitor_entry", str(register))
    assert (done["imported"], done["refused"]) == (3, 0), done
    stored = {d["visitor"]["name"]: d for d in beatsync_json(home, "visitor", "list")}
    assert stored["Priya"]["id_proof"] == {"type": "pan", "last4": "12AB"}
    assert all("time_in" in d for d in stored.values())


def test_a_schema_shaped_complaint_needs_no_status_log_or_incident_time(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    row = {
        "type": "complaint",
        "complainant": {"name": "Ram", "address": "Patna"},
        "category": "theft",
        "description": "A bicycle stolen.",
        "incident": {"place": "Gandhi Maidan"},
        "created_at": "2026-10-01T09:00:00+05:30",
    }
    done = beatsync_json(home, "import", "-", input=orjson.dumps(row).decode())
    assert (done["imported"], done["refused"]) == (1, 0), done
    [stored] = beatsync_json(home, "complaint", "list")
    assert (stored["status"], stored["action_log"]) == ("registered", [])
    assert stored["incident"]["time"] == "2026-10-01T09:00:00+05:30"


def test_register_rows_are_refused_in_their_own_terms(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    base = orjson.loads(beatsync(home, "import", "--example", "complaint").stdout)
    rows = [
        {**base, "phone": "98765"},  # a wrong phone, named as the row names it
        {**{k: v for k, v in base.items() if k != "phone"}, "phone_no": "9876543210"},
        {**base, "status": "closed", "description": "An old closed case."},
    ]
    register = tmp_path / "register.jsonl"
    register.write_bytes(b"".join(orjson.dumps(row) + b"\n" for row in rows))
    report = beatsync(home, "--json", "import", str(register))
    assert report.exit_code == 1, report.output
    errors = {e["line"]: e for e in orjson.loads(report.stdout)["errors"]}
    assert errors[1]["field"] == "phone", errors
    assert errors[2]["field"] == "phone_no", errors
    assert "did you mean 'phone'" in errors[2]["reason"], errors
    assert errors[3]["field"] == "status", errors
    assert "already closed cannot be imported on a beat officer's device" in errors[3]["reason"]
    assert "cannot move" not in errors[3]["reason"]
