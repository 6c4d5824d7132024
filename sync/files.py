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

Neither function ever opens (and so closes) a descriptor on a file that
exists: POSIX drops *every* fcntl lock a process holds on a file when *any*
descriptor of that file is closed. SQLite's WAL mode keeps a shared lock on
the database file for as long as a connection is open; a close here would
drop it, and the next other process to close a connection (the admin CLI, a
backup, ``sqlite3``) would think itself the last, checkpoint and delete the
``-wal`` under the running server, whose later commits then went to a deleted
file: invisible to every other process, and lost with the process.
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
    """``path`` as a file only its owner can read: created empty (0600) if missing,
    tightened by name if it exists (see the module's note on descriptors)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE)
    except FileExistsError:
        if path.is_symlink():  # what O_NOFOLLOW refused for a new file
            raise OSError(f"{path} is a symbolic link; refusing to use it") from None
        os.chmod(path, FILE_MODE)
    else:
        try:
            os.fchmod(fd, FILE_MODE)  # O_CREAT's mode passes through the umask
        finally:
            os.close(fd)  # a new file: no connection can hold a lock on it yet
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
