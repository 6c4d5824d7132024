"""No record text in the clear on disk: database, WAL, key and settings files, temp
files; and nothing there that another account on the machine can read."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from field_client.replica import FieldReplica
from sync.sqlite import SQLiteDatabase
from tests.at_rest import loose_modes, markers, temp_files_inside
from tests.field_client.support import (
    PASSPHRASE,
    complaint,
    files_under,
    marker_hits,
    visit,
    visitor,
)


def _markers() -> dict[str, str]:
    return markers(
        complaint_en="QZXCOMPLAINT",
        complaint_hi="गुप्तशिकायत",
        visitor_en="QZXVISITOR",
        visitor_hi="गुप्तआगंतुक",
        visit_en="QZXVISIT",
        visit_hi="गुप्तसत्यापन",
        edit_en="QZXEDITED",
        edit_hi="गुप्तसंशोधन",
        photo_en="QZXPHOTO",
        photo_hi="गुप्तचित्र",
    )


def test_the_scan_finds_markers_in_plain_files(tmp_path: Path) -> None:
    # The scan itself must be able to fail: plain UTF-8 and UTF-16 text is found.
    markers = _markers()
    (tmp_path / "a.txt").write_text(markers["complaint_hi"], encoding="utf-8")
    (tmp_path / "b.txt").write_text(markers["visit_en"], encoding="utf-16")
    assert sorted(marker_hits(tmp_path, markers)) == [
        ("a.txt", "complaint_hi"),
        ("b.txt", "visit_en"),
    ]


async def test_the_scan_finds_markers_in_an_unencrypted_store(tmp_path: Path) -> None:
    # Control: the same kind of record in the plain embedded store is found.
    markers = _markers()
    plain = await SQLiteDatabase.open(tmp_path / "plain.sqlite3")
    try:
        await plain.put({"_id": "x", **complaint(markers["complaint_hi"])})
        assert {name for _, name in marker_hits(tmp_path, markers)} == {"complaint_hi"}
    finally:
        await plain.close()


async def test_no_marker_text_on_disk_after_records_sync_and_edits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    temp_files_inside(tmp_path, monkeypatch)
    m = _markers()
    device = await FieldReplica.create(
        tmp_path / "device",
        PASSPHRASE,
        officer_id="si.sharma",
        station_id="kotwali",
        beat_id="beat-3",
    )
    hub = await FieldReplica.create(
        tmp_path / "hub",
        PASSPHRASE,
        officer_id="so.verma",
        station_id="kotwali",
        beat_id="beat-3",
        role="station_officer",
    )
    try:
        c_id, _ = await device.save_record(
            complaint(f"{m['complaint_en']} और {m['complaint_hi']} को देखा गया।")
        )
        v_id, _ = await device.save_record(visitor(f"{m['visitor_en']} {m['visitor_hi']}"))
        photo = f"JFIF {m['photo_en']} {m['photo_hi']}".encode()
        p_id, _ = await device.save_record(
            visit(f"{m['visit_en']} — {m['visit_hi']}"),
            photos={"house.jpg": ("image/jpeg", photo)},
        )
        await device.sync(hub.db)
        old = await device.get_record(c_id)
        await device.save_record({**old, "description": f"{m['edit_en']} {m['edit_hi']}"})
        theirs = await hub.get_record(v_id)
        await hub.save_record({**theirs, "purpose": f"{m['edit_hi']} at the desk"})
        await device.sync(hub.db)
        # Both replicas really hold the text (the test would be empty otherwise).
        assert m["edit_hi"] in (await hub.get_record(c_id))["description"]
        assert m["edit_hi"] in (await device.get_record(v_id))["purpose"]
        assert m["visit_hi"] in str(await hub.list_records("verification_visit"))
        photo_at_hub = await hub.db.get(p_id, attachments=True)
        assert base64.b64decode(photo_at_hub["_attachments"]["house.jpg"]["data"]) == photo
        status = await device.status()
        assert status.pending_records == 0
        assert any(p.name.endswith("-wal") for p in files_under(tmp_path))
        assert marker_hits(tmp_path, m) == []  # while open: database, WAL, shm
        # Owner-only, whatever the umask: replica.sqlite3 and its WAL were 0644.
        assert loose_modes(tmp_path / "device") == loose_modes(tmp_path / "hub") == []
    finally:
        await device.close()
        await hub.close()
    assert marker_hits(tmp_path, m) == []  # after close (WAL checkpointed into the database)
