"""``beatsync import``: a station register moved into the encrypted replica.

Through the real CLI on real SQLite files: JSON Lines and JSON arrays, stdin
with ``--type``, bad lines refused with line / field / reason while the good
ones are stored, ``--errors FILE``, ``--dry-run``, re-runs that store
nothing twice, records sealed at rest, and a journal entry per record whose
chain verifies. ``FieldReplica.save_records`` is also driven directly across
several batches.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import Result

from field_client.replica import FieldReplica
from sync import journal, signing
from sync.database import Doc
from tests.field_client.support import (
    PASSPHRASE,
    beatsync,
    beatsync_json,
    complaint,
    init_offline,
    marker_hits,
    visit,
    visitor,
)

_HEX_ID = re.compile(r"[0-9a-f]{32}")


def _jsonl(path: Path, lines: list[Any]) -> Path:
    """One line per item: a record, or a string written as it is (bad or blank lines)."""
    path.write_bytes(
        b"".join((x.encode() if isinstance(x, str) else orjson.dumps(x)) + b"\n" for x in lines)
    )
    return path


def _stored(home: Path) -> tuple[list[Doc], list[Doc], FieldReplica]:
    """Records and journal entries on the device (the replica is closed again)."""

    async def read() -> tuple[list[Doc], list[Doc], FieldReplica]:
        async with await FieldReplica.open(home, PASSPHRASE) as replica:
            return await replica.list_records(), await replica.journal(), replica

    return asyncio.run(read())


def _check_journal(records: list[Doc], entries: list[Doc], replica: FieldReplica) -> None:
    """One signed "create" entry per record, naming its rev, and an intact chain."""
    key = signing.public_key_from_b64(replica.public_key_b64)
    assert journal.verify_chain(entries) == []
    assert sorted((e["record_id"], e["rev"]) for e in entries) == sorted(
        (r["_id"], r["_rev"]) for r in records
    )
    assert {e["action"] for e in entries} == {"create"}
    assert all(signing.verify(doc, key) for doc in (*records, *entries))


def _said(result: Result) -> str:
    """stdout with rich's line wrapping undone."""
    return " ".join(result.stdout.split())


def _report(home: Path, *args: str) -> Any:
    """``beatsync --json import ...`` that refused something: its JSON report."""
    result = beatsync(home, "--json", "import", *args)
    assert result.exit_code == 1, result.output
    return orjson.loads(result.stdout)


def _three(tag: str) -> list[dict[str, Any]]:
    return [complaint(f"Complaint {tag}"), visitor(f"Purpose {tag}"), visit(f"Findings {tag}")]


def _texts(records: list[Doc]) -> set[str]:
    fields = {"complaint": "description", "visitor_entry": "purpose"}
    return {r[fields.get(r["type"], "findings")] for r in records}


@pytest.mark.parametrize("layout", ["jsonl", "array"])
def test_every_record_is_stored_signed_and_journalled(tmp_path: Path, layout: str) -> None:
    home, source = tmp_path / "device", _three("one") + _three("two")
    init_offline(home)
    path = tmp_path / f"register.{layout}"
    if layout == "jsonl":
        _jsonl(path, source)
    else:  # pretty-printed, as exports usually are
        path.write_bytes(orjson.dumps(source, option=orjson.OPT_INDENT_2))

    result = beatsync(home, "import", str(path))

    assert result.exit_code == 0, result.output
    assert "6 record(s) imported; already imported: 0; refused: 0" in _said(result)
    records, entries, replica = _stored(home)
    assert _texts(records) == _texts(source)
    assert all(_HEX_ID.fullmatch(r["_id"]) for r in records)
    assert len({r["_id"] for r in records}) == 6
    for record in records:  # the envelope a saved record gets
        assert (record["station_id"], record["beat_id"]) == ("kotwali", "beat-3")
        assert record["updated_by"] == "si.sharma"
    _check_journal(records, entries, replica)


def test_stdin_with_type_for_records_that_have_none(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    untyped = [{k: v for k, v in visitor(f"Purpose {i}").items() if k != "type"} for i in range(3)]
    lines = b"".join(orjson.dumps(r) + b"\n" for r in untyped).decode()

    result = beatsync(home, "--json", "import", "-", input=lines)
    assert result.exit_code == 1
    report = orjson.loads(result.stdout)
    assert [(e["line"], e["field"]) for e in report["errors"]] == [(n, "type") for n in (1, 2, 3)]
    assert "--type" in report["errors"][0]["reason"]
    assert _stored(home)[0] == []

    report = beatsync_json(home, "import", "--type", "visitor_entry", "-", input=lines)
    assert (report["imported"], report["refused"], report["errors"]) == (3, 0, [])
    records, entries, replica = _stored(home)
    assert {r["type"] for r in records} == {"visitor_entry"}
    assert _texts(records) == {"Purpose 0", "Purpose 1", "Purpose 2"}
    _check_journal(records, entries, replica)


def test_bad_lines_are_refused_with_line_field_and_reason_and_the_rest_stored(
    tmp_path: Path,
) -> None:
    home = tmp_path / "device"
    init_offline(home)
    bad_phone = complaint("Bad phone")
    bad_phone["complainant"]["phone"] = "12345"
    path = _jsonl(
        tmp_path / "register.jsonl",
        [
            complaint("Good complaint"),
            bad_phone,
            '{"type": "complaint", "description": ',
            "",
            "[1, 2]",
            visitor("Good visitor"),
            {**visitor("Other station"), "station_id": "gandhi-maidan"},
        ],
    )
    errors = tmp_path / "refused.jsonl"

    result = beatsync(home, "import", "--errors", str(errors), str(path))

    assert result.exit_code == 1
    assert "2 record(s) imported; already imported: 0; refused: 4" in _said(result)
    rows = [orjson.loads(line) for line in errors.read_bytes().splitlines()]
    assert [(r["line"], r["field"]) for r in rows] == [
        (2, "complainant.phone"),
        (3, ""),
        (5, ""),
        (7, "station_id"),
    ]
    assert rows[0]["reason"] == "must be a 10-digit Indian mobile number"
    assert rows[1]["reason"].startswith("not valid JSON")
    assert rows[2]["reason"] == "a record must be a JSON object {...}"
    assert rows[3]["reason"] == "must be this device's station, kotwali"
    assert "│ 2    │ complainant.phone │" in result.stdout  # the table on screen
    records, entries, replica = _stored(home)
    assert _texts(records) == {"Good complaint", "Good visitor"}
    _check_journal(records, entries, replica)


def test_the_screen_shows_twenty_refusals_and_the_errors_file_all(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    path = _jsonl(tmp_path / "register.jsonl", ["not json"] * 25 + [visitor("The good one")])
    errors = tmp_path / "refused.jsonl"

    result = beatsync(home, "import", "--errors", str(errors), str(path))

    assert result.exit_code == 1
    assert "... and 5 more (all are in" in _said(result)
    shown = {int(n) for n in re.findall(r"^│ (\d+) ", result.stdout, flags=re.MULTILINE)}
    assert shown == set(range(1, 21))
    assert [orjson.loads(x)["line"] for x in errors.read_bytes().splitlines()] == list(range(1, 26))
    assert _texts(_stored(home)[0]) == {"The good one"}


def test_a_broken_json_array_names_the_line_and_stores_nothing(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    path = tmp_path / "register.json"
    path.write_text(f"[\n  {orjson.dumps(visitor()).decode()},\n  {{broken\n]\n", encoding="utf-8")

    result = beatsync(home, "import", str(path))

    assert result.exit_code == 1
    assert "line 3: not valid JSON" in result.stderr
    assert "Nothing was imported" in result.stderr
    assert _stored(home)[:2] == ([], [])


def test_a_refusal_in_a_json_array_names_the_line_its_record_starts_on(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    bad = {**visitor("Bad"), "whom_to_meet": ""}
    path = tmp_path / "register.json"
    text = orjson.dumps([visitor("Good"), bad], option=orjson.OPT_INDENT_2).decode()
    path.write_text(text, encoding="utf-8")
    starts = [n for n, line in enumerate(text.split("\n"), start=1) if line == "  {"]
    assert len(starts) == 2
    assert starts[1] > 10

    report = _report(home, str(path))

    assert [(e["line"], e["field"]) for e in report["errors"]] == [(starts[1], "whom_to_meet")]
    assert report["imported"] == 1


def test_a_file_that_is_not_utf8_is_refused_whole(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    path = tmp_path / "register.csv"
    path.write_bytes("name,phone\nराम,98765\n".encode("utf-16"))

    result = beatsync(home, "import", str(path))

    assert result.exit_code == 1
    assert "register.csv: the file is not UTF-8 text" in " ".join(result.stderr.split())
    assert _stored(home)[:2] == ([], [])


def test_dry_run_checks_everything_and_stores_nothing(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    bad = {**visitor("Bad"), "whom_to_meet": ""}
    path = _jsonl(tmp_path / "register.jsonl", [*_three("dry"), bad])

    dry = beatsync(home, "import", "--dry-run", str(path))

    assert dry.exit_code == 1
    assert "3 record(s) would be imported (dry run: nothing was stored)" in _said(dry)
    assert "whom_to_meet" in _said(dry)
    assert _stored(home)[:2] == ([], [])
    assert beatsync_json(home, "status")["pending_records"] == 0

    beatsync(home, "import", str(path))
    again = beatsync_json(home, "import", "--dry-run", str(_jsonl(path, _three("dry2"))))
    assert (again["imported"], again["dry_run"]) == (3, True)
    assert len(_stored(home)[0]) == 3  # only the real import's


def test_running_the_same_import_again_stores_nothing_new(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    good = _three("again")
    bad = {**complaint("Fixed later"), "category": "no-such-category"}
    path = _jsonl(tmp_path / "register.jsonl", [*good, good[0], bad])

    first = _report(home, str(path))
    assert (first["imported"], first["already_imported"], first["refused"]) == (3, 1, 1)
    records, entries, _ = _stored(home)

    second = _report(home, str(path))
    assert (second["imported"], second["already_imported"], second["refused"]) == (0, 4, 1)
    assert _stored(home)[:2] == (records, entries)  # the very same revisions, no new entry

    bad["category"] = "theft"  # the desk fixes the refused line and runs it again
    fixed = beatsync_json(home, "import", str(_jsonl(path, [*good, good[0], bad])))
    assert (fixed["imported"], fixed["already_imported"], fixed["refused"]) == (1, 4, 0)
    records, entries, replica = _stored(home)
    assert _texts(records) == _texts([*good, bad])
    _check_journal(records, entries, replica)


def test_imported_records_are_sealed_at_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    device = tmp_path / "device"  # the scanned tree: the source file stays outside it
    scratch = device / "tmp"
    scratch.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    home = device / "home"
    init_offline(home)
    tag = uuid.uuid4().hex[:8].upper()
    markers = {
        "complaint": f"QZXIMPORTED{tag}",
        "visitor": f"गुप्तआयात{tag}",
        "refused": f"QZXREFUSED{tag}",
    }
    bad = {**complaint(markers["refused"]), "category": "no-such-category"}
    path = _jsonl(
        tmp_path / "register.jsonl",
        [complaint(markers["complaint"]), visitor(markers["visitor"]), bad],
    )

    result = beatsync(home, "import", "--errors", str(device / "refused.jsonl"), str(path))

    assert result.exit_code == 1
    assert markers["visitor"] in str(_stored(home)[0])  # really stored, and readable
    in_source = [("register.jsonl", name) for name in sorted(markers)]
    assert sorted(marker_hits(tmp_path, markers)) == in_source  # the scan does find them
    assert marker_hits(device, markers) == []  # database, WAL, errors file, temp files


async def test_save_records_batches_refusals_and_skips(replica: FieldReplica) -> None:
    records = [
        {**complaint("One"), "_id": "a" * 32},
        {**visitor("Two"), "_id": "b" * 32},
        {**visitor("Three"), "_id": "c" * 32, "purpose": ""},
        {**visitor("Two again"), "_id": "b" * 32},
        {**visit("Five"), "_id": "d" * 32},
    ]
    done: list[int] = []

    report = await replica.save_records(
        records, batch_size=2, skip_existing=True, on_progress=done.append
    )

    assert done == [2, 4, 5]
    assert [(i, doc_id) for i, doc_id, _ in report.saved] == [
        (0, "a" * 32),
        (1, "b" * 32),
        (4, "d" * 32),
    ]
    assert report.existing == [(3, "b" * 32)]
    [(index, error)] = report.refused
    assert (index, [e.path for e in error.errors]) == (2, ["purpose"])
    # The chain goes on across batches and into the next single save.
    await replica.save_record(complaint("After the import"))
    entries = await replica.journal()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert journal.verify_chain(entries) == []

    # A record deleted since it was imported stays deleted: an import never resurrects.
    one = await replica.db.get("a" * 32)
    await replica.db.put({**one, "_deleted": True})
    again = await replica.save_records(records, batch_size=2, skip_existing=True)
    assert (again.saved, len(again.existing), len(again.refused)) == ([], 4, 1)
    assert len(await replica.journal()) == 4
    assert "a" * 32 not in {r["_id"] for r in await replica.list_records()}
