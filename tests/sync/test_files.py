"""Owner-only folders and files (sync.files), and the embedded store's database,
WAL and shared-memory files made 0600 whatever the umask."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sync.files import private_dir, private_file
from sync.sqlite import SQLiteDatabase
from tests.at_rest import loose_modes


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    """The default umask of most systems, which leaves new files readable by all."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_the_check_sees_loose_modes(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "open.txt").write_text("x")
    (root / "sub").mkdir()
    assert loose_modes(root) == [(".", "0o755"), ("open.txt", "0o644"), ("sub", "0o755")]


def test_private_dir_and_file_create_and_tighten(tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir(mode=0o755)
    (root / "old.key").write_bytes(b"secret")
    os.chmod(root / "old.key", 0o644)
    private_dir(root)
    private_file(root / "old.key")
    private_file(private_dir(root / "new" / "deeper") / "fresh")
    assert (root / "old.key").read_bytes() == b"secret"  # tightened, not truncated
    assert loose_modes(root) == []


async def test_a_new_store_and_its_wal_and_shm_are_owner_only(tmp_path: Path) -> None:
    root = private_dir(tmp_path / "data")
    db = await SQLiteDatabase.open(root / "station.sqlite")
    try:
        await db.put({"_id": "a", "text": "x" * 10_000})
        assert {p.name for p in root.iterdir()} >= {"station.sqlite-wal", "station.sqlite-shm"}
        assert loose_modes(root) == []
    finally:
        await db.close()


async def test_a_store_an_older_version_left_readable_is_tightened_at_open(
    tmp_path: Path,
) -> None:
    root = private_dir(tmp_path / "data")
    db = await SQLiteDatabase.open(root / "station.sqlite")
    await db.put({"_id": "a"})
    await db.close()
    os.chmod(root / "station.sqlite", 0o644)
    db = await SQLiteDatabase.open(root / "station.sqlite")
    try:
        await db.put({"_id": "b"})
        assert (await db.get("a"))["_id"] == "a"
        assert loose_modes(root) == []
    finally:
        await db.close()


_READ_COUNT = (
    "import sqlite3, sys\n"
    "conn = sqlite3.connect(sys.argv[1])\n"
    "print(conn.execute('SELECT count(*) FROM docs').fetchone()[0])\n"
    "conn.close()\n"
)


def _count_from_another_process(path: Path) -> int:
    """What a second program on the machine (the admin CLI, a backup) reads, and
    the close that makes SQLite ask whether it is the file's last connection."""
    done = subprocess.run(
        [sys.executable, "-c", _READ_COUNT, str(path)], capture_output=True, check=True, text=True
    )
    return int(done.stdout)


async def test_opening_a_second_connection_keeps_the_first_ones_locks(tmp_path: Path) -> None:
    """A store opened while another on the same file is open (the gateway's
    writer and reader, a station opened twice) used to drop the first's locks,
    and another process closing its connection then deleted the live WAL: the
    server's later commits were visible to no one and lost with the process."""
    path = private_dir(tmp_path / "data") / "station.sqlite"
    first = await SQLiteDatabase.open(path)
    try:
        await first.put({"_id": "a"})
        second = await SQLiteDatabase.open(path)
        await second.close()
        assert _count_from_another_process(path) == 1
        await first.put({"_id": "b"})
        assert (path.parent / "station.sqlite-wal").exists()
        assert _count_from_another_process(path) == 2
    finally:
        await first.close()


def test_private_file_refuses_a_symlink(tmp_path: Path) -> None:
    (tmp_path / "target").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "target")
    with pytest.raises(OSError, match="symbolic link"):
        private_file(tmp_path / "link")
