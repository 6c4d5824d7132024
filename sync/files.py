"""Owner-only data folders (0700) and files (0600) on every machine.

Officers' password hashes, citizens' complaints and key files sit in these
folders; the default umask (022) would leave them readable by every account
on a shared station PC or server. Each store and key file is made private
when it is created, and tightened when an older install left it open.

SQLite creates a database's ``-wal`` and ``-shm`` files with the database
file's own mode (``findCreateFileMode`` in its Unix VFS), so a database file
created 0600 before its first connection keeps its companions 0600 too. That
is done here rather than by changing the umask around ``connect``: the umask
is process-wide, and the store opens its connections in worker threads that
may run side by side.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "private_dir", "private_file", "sqlite_files"]

DIR_MODE = 0o700
FILE_MODE = 0o600
_SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """``path`` as a folder only its owner can enter; the parents it makes are too
    (``mkdir(parents=True)`` would make them with the umask's mode)."""
    missing = []
    ancestor = path
    while not ancestor.exists():
        missing.append(ancestor)
        ancestor = ancestor.parent
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
    os.chmod(path, DIR_MODE)
    return path


def private_file(path: Path) -> Path:
    """``path`` as a file only its owner can read: created empty (0600) if missing."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
    finally:
        os.close(fd)
    return path


def sqlite_files(path: Path) -> Path:
    """Make the SQLite database at ``path`` private before it is connected to:
    the file itself (an empty file is an empty database to SQLite) and any
    ``-wal``/``-shm`` an older run left readable."""
    private_file(path)
    for suffix in _SQLITE_COMPANIONS:
        with contextlib.suppress(FileNotFoundError):
            os.chmod(path.with_name(path.name + suffix), FILE_MODE)
    return path
