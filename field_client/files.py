"""Small files beside the replica (key file, settings): written atomically, shredded on wipe.

A power cut while the key file is being rewritten must leave either the old
file or the new one, never half of each, or the officer's data is lost: so
every write goes to a temporary file in the same directory, is fsynced, and
renamed over the old one (rename is atomic on POSIX), and the directory is
fsynced so the rename itself survives.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path

__all__ = ["atomic_write", "shred"]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` (mode 0600) so a crash leaves the old or the new file."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _fsync_dir(path.parent)


def shred(path: Path) -> None:
    """Overwrite ``path`` with random bytes, fsync, then delete it; missing is fine.

    On flash storage the old blocks may survive the overwrite (wear levelling),
    which is why the replica's safety rests on crypto-shredding: what is
    destroyed here is only the wrapped key, useless without the passphrase,
    and the data key inside it is never written anywhere else.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with open(path, "r+b") as out:
        out.write(secrets.token_bytes(max(size, 1)))
        out.flush()
        os.fsync(out.fileno())
    path.unlink()
    _fsync_dir(path.parent)
