"""The officer's workflow end to end through the real ``beatsync`` CLI.

Offline set-up, each record type by flags, prompts and JSON, lists, a refused
record, sync with a CouchDB peer (pouchdb-server), edits on both sides, the
conflict in ``status``, no network, lock and wipe.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from field_client.cli import EXIT_OFFLINE, cli
from sync.http import HttpDatabase
from tests import peers
from tests.field_client.support import ENV, beatsync, beatsync_json, init_offline
from tests.peers import CouchPeer


def test_help_everywhere() -> None:
    commands = [
        [],
        ["init"],
        ["complaint"],
        ["complaint", "new"],
        ["complaint", "update"],
        ["complaint", "show"],
        ["complaint", "list"],
        ["visitor"],
        ["visitor", "in"],
        ["visitor", "out"],
        ["visitor", "list"],
        ["visit"],
        ["visit", "record"],
        ["visit", "list"],
        ["import"],
        ["status"],
        ["sync"],
        ["lock"],
        ["wipe"],
        ["passphrase"],
    ]
    for command in commands:
        result = CliRunner().invoke(cli, [*command, "--help"])
        assert result.exit_code == 0, command
        assert "Usage: " in result.stdout


def test_offline_records_of_every_type_by_flags_prompts_andbeatsync_json(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    saved = beatsync_json(
        home,
        "complaint",
        "new",
        "--name",
        "सीता देवी",
        "--phone",
        "9876543210",
        "--address",
        "Boring Road, Patna",
        "--category",
        "theft",
        "--description",
        "Her bicycle was stolen.",
        "--place",
        "Boring Road crossing",
    )
    assert saved["ok"] is True
    # Missing flags are asked for, every field of the form (Enter skips an optional one).
    prompted = beatsync(
        home, "visitor", "in", input="Anjali Verma\n\nTenant papers\nSHO\naadhaar\n1234\n"
    )
    assert prompted.exit_code == 0, prompted.output
    visit = {
        "kind": "tenant",
        "subject": {"name": "Imran Ansari"},
        "address": "Patna City",
        "visit_time": "2026-11-28T11:00:00+05:30",
        "findings": "Lives here.",
        "neighbours_statements": [],
        "recommendation": "clear",
        "photos": [],
    }
    photo = tmp_path / "gate.jpg"
    photo.write_bytes(b"\xff\xd8\xff a photo of the gate")
    beatsync_json(
        home,
        "visit",
        "record",
        "--from-json",
        "-",
        "--photo",
        str(photo),
        input=orjson.dumps(visit).decode(),
    )

    [c] = beatsync_json(home, "complaint", "list")
    assert (c["_id"], c["complainant"]["name"], c["status"]) == (
        saved["id"],
        "सीता देवी",
        "registered",
    )
    [v] = beatsync_json(home, "visitor", "list", "--inside")
    assert v["purpose"] == "Tenant papers"
    assert "phone" not in v["visitor"]
    [shown_visit] = beatsync_json(home, "visit", "list")
    assert shown_visit["photos"] == ["gate.jpg"]
    assert shown_visit["_attachments"]["gate.jpg"]["content_type"] == "image/jpeg"
    table = beatsync(home, "complaint", "list")
    assert saved["id"][:8] in table.stdout

    beatsync_json(home, "visitor", "out", v["_id"][:8])
    assert beatsync_json(home, "visitor", "list", "--inside") == []
    updated = beatsync_json(
        home,
        "complaint",
        "update",
        saved["id"][:8],
        "--status",
        "assigned",
        "--note",
        "Called the complainant.",
    )
    shown = beatsync_json(home, "complaint", "show", saved["id"][:8])
    assert (shown["_rev"], shown["status"], shown["assigned_officer"]) == (
        updated["rev"],
        "assigned",
        "si.sharma",
    )
    assert [a["action"] for a in shown["action_log"]] == ["registered", "assigned"]
    status = beatsync_json(home, "status")
    assert status["pending_records"] == 3
    assert status["records"] == {"complaint": 1, "visitor_entry": 1, "verification_visit": 1}


def test_invalid_record_is_refused_with_field_and_reason(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    result = beatsync(
        home,
        "complaint",
        "new",
        "--name",
        "X",
        "--phone",
        "12345",
        "--address",
        "Patna",
        "--category",
        "theft",
        "--description",
        "d",
        "--place",
        "p",
    )
    assert result.exit_code == 1
    # The flag is named, with the message the officer's app shows beside the field.
    assert "--phone: Give a 10-digit mobile number" in result.stderr
    assert beatsync_json(home, "complaint", "list") == []
    as_json = beatsync(home, "--json", "visit", "record", "--from-json", "-", input="{}")
    assert as_json.exit_code == 1
    assert "kind" in orjson.loads(as_json.stdout)["error"]


def test_wrong_passphrase_and_missing_replica_are_clear(tmp_path: Path) -> None:
    home = tmp_path / "device"
    assert "beatsync init" in beatsync(home, "status").stderr
    init_offline(home)
    wrong = beatsync(home, "status", env={"BEATSYNC_PASSPHRASE": "wrong passphrase"})
    assert wrong.exit_code == 1
    assert "passphrase is wrong" in wrong.stderr


@pytest.mark.pouchdb
def test_sync_with_a_couchdb_peer_edits_on_both_sides_and_the_conflict_in_status(
    tmp_path: Path, couch_peer: CouchPeer, unique_db_name: str
) -> None:
    peers.require(bool(couch_peer.url), "pouchdb-server")
    home, url = tmp_path / "device", f"{couch_peer.url}/{unique_db_name}"
    asyncio.run(_create(url))
    init_offline(home)
    saved = beatsync_json(
        home,
        "complaint",
        "new",
        "--name",
        "Rakesh Paswan",
        "--address",
        "Patna",
        "--category",
        "assault",
        "--description",
        "A fight at the market.",
        "--place",
        "Bakarganj bazaar",
    )
    beatsync(home, "visitor", "in", "--name", "Priya", "--purpose", "FIR copy", "--to-meet", "SHO")
    synced = beatsync(home, "sync", "--url", url)
    assert synced.exit_code == 0, synced.output
    assert "sent 2, received 0 record(s)" in synced.stdout  # records, as status counts them
    assert asyncio.run(_doc_count(url)) == 4  # 2 records + 2 journal entries

    asyncio.run(_edit_on_server(url, saved["id"]))
    edited = beatsync(home, "complaint", "update", saved["id"][:8], "--note", "Both sides edit.")
    assert edited.exit_code == 0, edited.output
    assert beatsync(home, "sync", "--url", url).exit_code == 0
    status = beatsync_json(home, "status")
    assert status["pending_records"] == 0
    [conflict] = status["conflicts"]
    assert conflict["record_id"] == saved["id"]
    assert "CONFLICT" in beatsync(home, "complaint", "show", saved["id"][:8]).stdout
    assert "Conflict" in beatsync(home, "status").stdout


def test_no_network_says_so_keeps_everything_and_exits_non_zero(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    beatsync_json(
        home, "visitor", "in", "--name", "Priya", "--purpose", "FIR copy", "--to-meet", "SHO"
    )
    url = f"http://127.0.0.1:{peers.free_port()}/station-kotwali"
    result = beatsync(home, "sync", "--url", url)
    assert result.exit_code == EXIT_OFFLINE
    assert "No connection" in result.stderr
    assert "beatsync sync" in result.stderr
    assert beatsync_json(home, "status")["pending_records"] == 1
    assert len(beatsync_json(home, "visitor", "list")) == 1


@pytest.mark.pouchdb
def test_sync_with_a_missing_database_says_what_to_do(
    tmp_path: Path, couch_peer: CouchPeer, unique_db_name: str
) -> None:
    home = tmp_path / "device"
    init_offline(home)
    result = beatsync(home, "sync", "--url", f"{couch_peer.url}/{unique_db_name}")
    assert result.exit_code == 1
    assert "does not exist" in result.stderr
    assert "Traceback" not in result.output


def test_unenrolled_device_cannot_sync_with_the_server(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    result = beatsync(home, "sync")
    assert result.exit_code == 1
    assert "enrol" in result.stderr


def test_lock_passphrase_change_and_wipe(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    beatsync_json(
        home, "visitor", "in", "--name", "Priya", "--purpose", "FIR copy", "--to-meet", "SHO"
    )
    assert "unset BEATSYNC_PASSPHRASE" in beatsync(home, "lock").stdout
    changed = beatsync(home, "passphrase", env={**ENV, "BEATSYNC_NEW_PASSPHRASE": "new secret 123"})
    assert changed.exit_code == 0, changed.output
    assert beatsync(home, "status").exit_code == 1  # old passphrase no longer opens
    new_env = {"BEATSYNC_PASSPHRASE": "new secret 123"}
    assert beatsync(home, "status", env=new_env).exit_code == 0
    refused = beatsync(home, "wipe", input="n\n")
    assert refused.exit_code == 1
    assert beatsync(home, "status", env=new_env).exit_code == 0
    assert beatsync(home, "wipe", "--yes").exit_code == 0
    gone = beatsync(home, "status", env=new_env)
    assert gone.exit_code == 1
    assert "beatsync init" in gone.stderr


async def _create(url: str) -> None:
    async with HttpDatabase(url) as db:
        await db.create()


async def _doc_count(url: str) -> int:
    async with HttpDatabase(url) as db:
        return int((await db.info())["doc_count"])


async def _edit_on_server(url: str, doc_id: str) -> None:
    async with HttpDatabase(url) as db:
        doc = await db.get(doc_id)
        await db.put({**doc, "description": "Edited at the district office."})


UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing answers there


def _assert_unreachable_enrol_message(text: str) -> None:
    said = " ".join(text.split())
    assert "Error: Could not reach the BeatSync server at http://127.0.0.1:9 to enrol" in said
    assert "Check that the server address is right, that this device has a network" in said
    assert "the central server is running" in said
    assert "Traceback" not in text


def test_enrol_at_an_unreachable_server_says_what_to_check(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    env = {**ENV, "BEATSYNC_PASSWORD": "demo-pass-123"}
    result = beatsync(home, "enrol", "--server", UNREACHABLE, env=env)
    assert result.exit_code == EXIT_OFFLINE, result.output
    assert isinstance(result.exception, SystemExit)  # handled, not a crash
    _assert_unreachable_enrol_message(result.stderr)
    assert beatsync_json(home, "status")["server_url"] is None  # nothing changed


def test_init_at_an_unreachable_server_says_what_to_check_and_keeps_nothing(
    tmp_path: Path,
) -> None:
    home = tmp_path / "device"
    env = {**ENV, "BEATSYNC_PASSWORD": "demo-pass-123"}
    result = beatsync(home, "init", "--officer", "bo-1", "--server", UNREACHABLE, env=env)
    assert result.exit_code == EXIT_OFFLINE, result.output
    _assert_unreachable_enrol_message(result.stderr)
    assert (
        not home.exists() or list(home.iterdir()) == []
    )  # no half set-up device: init can run again


def test_enrol_at_an_unreachable_server_prints_no_traceback(tmp_path: Path) -> None:
    home = tmp_path / "device"
    init_offline(home)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "field_client",
            "--home",
            str(home),
            "enrol",
            "--server",
            UNREACHABLE,
        ],
        env={**os.environ, **ENV, "BEATSYNC_PASSWORD": "demo-pass-123"},
        capture_output=True,
        text=True,
        timeout=60,
        cwd=Path(__file__).resolve().parents[2],
        check=False,
    )
    assert result.returncode == EXIT_OFFLINE, result.stderr
    _assert_unreachable_enrol_message(result.stderr)
    assert "Traceback" not in result.stdout
