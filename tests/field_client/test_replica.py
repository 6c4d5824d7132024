"""FieldReplica on real SQLite files: saving, signing, journalling, passphrases, wipe."""

from __future__ import annotations

import base64
import hashlib
import sqlite3
from pathlib import Path

import pytest

import schemas
from field_client.errors import NoReplica, SealBroken, WrongPassphrase
from field_client.home import DB_FILE, change_passphrase
from field_client.replica import FieldReplica
from sync import journal, signing
from sync.errors import Conflict
from sync.sqlite import SQLiteDatabase
from tests.field_client.support import PASSPHRASE, complaint, files_under, visit, visitor


def _digest_of(home: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in files_under(home)}


async def test_new_record_gets_a_random_id_a_signature_and_a_journal_entry(
    replica: FieldReplica,
) -> None:
    doc_id, rev = await replica.save_record(complaint())
    assert len(doc_id) == 32
    assert int(doc_id, 16) >= 0
    assert rev.startswith("1-")
    stored = await replica.get_record(doc_id)
    assert stored["_rev"] == rev
    assert stored["created_by"] == stored["updated_by"] == "si.sharma"
    assert (stored["station_id"], stored["beat_id"]) == ("kotwali", "beat-3")
    public = signing.public_key_from_b64(replica.public_key_b64)
    assert signing.verify(stored, public)
    assert signing.signer_of(stored) == replica.settings.device_id
    [entry] = await replica.journal()
    assert (entry["record_id"], entry["rev"], entry["parent_rev"], entry["action"]) == (
        doc_id,
        rev,
        None,
        "create",
    )
    assert signing.verify(entry, public)
    schemas.validate(entry)


async def test_every_offline_edit_is_journalled_in_one_unbroken_chain(
    replica: FieldReplica,
) -> None:
    doc_id, rev1 = await replica.save_record(complaint())
    old = await replica.get_record(doc_id)
    _, rev2 = await replica.save_record({**old, "description": "Second version of events."})
    old = await replica.get_record(doc_id)
    _, rev3 = await replica.save_record({**old, "description": "Third version of events."})
    await replica.save_record(visitor())
    entries = await replica.journal()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4]
    assert [(e["rev"], e["parent_rev"]) for e in entries[:3]] == [
        (rev1, None),
        (rev2, rev1),
        (rev3, rev2),
    ]
    assert journal.verify_chain(entries) == []
    # The chain goes on after the replica is closed and unlocked again.
    await replica.close()
    async with await FieldReplica.open(replica.home, PASSPHRASE) as again:
        await again.save_record(visit())
        entries = await again.journal()
    assert [e["seq"] for e in entries] == [1, 2, 3, 4, 5]
    assert journal.verify_chain(entries) == []


async def test_rev_is_the_one_any_store_makes_for_the_same_edit(
    replica: FieldReplica, tmp_path: Path
) -> None:
    # Deterministic revs: the same edit replayed elsewhere is the same revision.
    doc_id, rev = await replica.save_record(complaint())
    stored = await replica.get_record(doc_id)
    plain = await SQLiteDatabase.open(tmp_path / "plain.sqlite3")
    try:
        body = {k: v for k, v in stored.items() if k not in ("_rev", "_conflicts")}
        assert (await plain.put(body))["rev"] == rev
    finally:
        await plain.close()


async def test_invalid_record_is_refused_with_the_field_and_nothing_is_stored(
    replica: FieldReplica,
) -> None:
    bad = complaint()
    bad["complainant"]["phone"] = "12345"
    with pytest.raises(schemas.RecordInvalid) as caught:
        await replica.save_record(bad)
    assert [e.path for e in caught.value.errors] == ["complainant.phone"]
    assert "10-digit" in caught.value.errors[0].message
    assert (await replica.db.info())["doc_count"] == 0


async def test_record_of_another_station_is_refused(replica: FieldReplica) -> None:
    with pytest.raises(schemas.RecordInvalid) as caught:
        await replica.save_record(complaint(station_id="another-station"))
    assert [e.path for e in caught.value.errors] == ["station_id"]
    assert (await replica.db.info())["doc_count"] == 0


async def test_stale_edit_is_a_conflict_and_nothing_is_stored(replica: FieldReplica) -> None:
    doc_id, _ = await replica.save_record(complaint())
    old = await replica.get_record(doc_id)
    await replica.save_record({**old, "description": "Edited once."})
    seq = (await replica.db.info())["update_seq"]
    with pytest.raises(Conflict):
        await replica.save_record({**old, "description": "Edited from a stale copy."})
    assert (await replica.db.info())["update_seq"] == seq
    assert len(await replica.journal()) == 2


async def test_status_may_only_move_as_the_lifecycle_allows(replica: FieldReplica) -> None:
    doc_id, _ = await replica.save_record(complaint())
    old = await replica.get_record(doc_id)
    # A beat officer cannot close a complaint; the station officer does.
    with pytest.raises(schemas.TransitionNotAllowed):
        await replica.save_record({**old, "status": "closed"})
    with pytest.raises(schemas.ImmutableFieldChanged):
        await replica.save_record({**old, "created_by": "someone.else"})


async def test_wrong_passphrase_opens_nothing_and_changes_nothing(replica: FieldReplica) -> None:
    await replica.save_record(complaint())
    await replica.close()
    before = _digest_of(replica.home)
    with pytest.raises(WrongPassphrase):
        await FieldReplica.open(replica.home, "not my passphrase")
    with pytest.raises(WrongPassphrase):
        change_passphrase(replica.home, "not my passphrase", "another passphrase")
    assert _digest_of(replica.home) == before


async def test_passphrase_change_keeps_the_records_without_reencrypting(
    replica: FieldReplica,
) -> None:
    doc_id, _ = await replica.save_record(complaint("Marker text stays readable."))
    await replica.close()
    db_before = (replica.home / DB_FILE).read_bytes()
    change_passphrase(replica.home, PASSPHRASE, "a new long passphrase")
    assert (replica.home / DB_FILE).read_bytes() == db_before
    with pytest.raises(WrongPassphrase):
        await FieldReplica.open(replica.home, PASSPHRASE)
    async with await FieldReplica.open(replica.home, "a new long passphrase") as again:
        assert (await again.get_record(doc_id))["description"] == "Marker text stays readable."


async def test_wipe_shreds_the_keys_so_nothing_opens_again(replica: FieldReplica) -> None:
    await replica.save_record(complaint())
    key_material = (replica.home / "keys.json").read_bytes()
    await replica.wipe()
    with pytest.raises(NoReplica):
        await FieldReplica.open(replica.home, PASSPHRASE)
    # Not a byte of the wrapped key or its salt is left in the folder.
    remaining = b"".join(p.read_bytes() for p in files_under(replica.home))
    assert key_material[-64:] not in remaining
    assert files_under(replica.home) == []


async def test_a_body_moved_onto_another_row_does_not_open(replica: FieldReplica) -> None:
    first, _ = await replica.save_record(complaint("First complaint."))
    second, _ = await replica.save_record(complaint("Second complaint."))
    await replica.close()
    path = replica.home / DB_FILE
    with sqlite3.connect(path) as raw:
        table, body = _body_column(raw)
        rows = dict(raw.execute(f"SELECT doc_id, {body} FROM {table}").fetchall())
        raw.execute(f"UPDATE {table} SET {body} = ? WHERE doc_id = ?", (rows[first], second))
    async with await FieldReplica.open(replica.home, PASSPHRASE) as again:
        assert (await again.get_record(first))["description"] == "First complaint."
        with pytest.raises(SealBroken):
            await again.get_record(second)


def _body_column(raw: sqlite3.Connection) -> tuple[str, str]:
    """The store's table of revision bodies (the store's schema is its own business)."""
    for (table,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
        columns = [row[1] for row in raw.execute(f"PRAGMA table_info({table})")]
        if "doc_id" in columns and "rev" in columns and "body" in columns:
            return table, "body"
    raise AssertionError("no table of revision bodies found")


async def test_photos_are_attachments_kept_across_edits(replica: FieldReplica) -> None:
    photo = b"\xff\xd8\xff\xe0 pretend JPEG bytes"
    doc_id, rev = await replica.save_record(visit(), photos={"door.jpg": ("image/jpeg", photo)})
    stored = await replica.db.get(doc_id, attachments=True)
    assert stored["photos"] == ["door.jpg"]
    assert base64.b64decode(stored["_attachments"]["door.jpg"]["data"]) == photo
    # An edit without new photos keeps the old one (a stub to the parent's).
    old = await replica.get_record(doc_id)
    _, rev2 = await replica.save_record({**old, "findings": "Checked twice."})
    again = await replica.db.get(doc_id, attachments=True)
    assert again["_rev"] == rev2
    assert base64.b64decode(again["_attachments"]["door.jpg"]["data"]) == photo
    assert again["photos"] == ["door.jpg"]
    [first, second] = await replica.journal()
    assert (first["rev"], second["rev"], second["parent_rev"]) == (rev, rev2, rev)
