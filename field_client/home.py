"""The files of a replica in its home folder, and what is done to them as files:
wiping (crypto-shredding first) and changing the passphrase."""

from __future__ import annotations

import contextlib
from pathlib import Path

from field_client.settings import remove_settings

__all__ = [
    "DB_FILE",
    "KEY_FILE",
    "SETTINGS_FILE",
    "change_passphrase",
    "remove_database_files",
    "replica_paths",
    "wipe_replica",
]

DB_FILE = "replica.sqlite3"
KEY_FILE = "keys.json"
SETTINGS_FILE = "settings.json"

# SQLite's companions of DB_FILE: removed with it on wipe.
_DB_COMPANIONS = ("-wal", "-shm", "-journal")


def replica_paths(home: Path) -> tuple[Path, Path, Path]:
    """``(database, key file, settings file)`` of the replica in ``home``."""
    return home / DB_FILE, home / KEY_FILE, home / SETTINGS_FILE


def remove_database_files(db_path: Path) -> None:
    for path in (db_path, *(db_path.with_name(db_path.name + s) for s in _DB_COMPANIONS)):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def wipe_replica(home: Path) -> None:
    """Destroy the key material first (crypto-shredding), then the files.

    Once the key file is gone the database is noise even if its blocks
    survive on flash storage; no passphrase opens it again. Needs no
    passphrase: a device handed in or revoked must be wipeable as it is.
    """
    from field_client import keys  # cryptography: only when the keys are touched

    db_path, key_path, settings_path = replica_paths(Path(home))
    keys.destroy_keyfile(key_path)
    remove_settings(settings_path)
    remove_database_files(db_path)


def change_passphrase(home: Path, old: str, new: str) -> None:
    """Rewrap the data key; records are not re-encrypted. Wrong ``old``: nothing changes."""
    from field_client import keys

    keys.change_passphrase(replica_paths(Path(home))[1], old, new)
