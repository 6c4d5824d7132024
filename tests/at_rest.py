"""What lies on disk: marker text in the clear, and files or folders others can read.

Shared by the at-rest tests of the device, the station hub and the gateway.
"""

from __future__ import annotations

import json
import stat
import tempfile
import uuid
from pathlib import Path

import pytest

__all__ = ["files_under", "loose_modes", "marker_hits", "markers"]


def files_under(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file())


def _forms(marker: str) -> list[bytes]:
    """Every way the text could be written: UTF-8, UTF-16 both orders, JSON-escaped."""
    return [
        marker.encode("utf-8"),
        marker.encode("utf-16-le"),
        marker.encode("utf-16-be"),
        json.dumps(marker).strip('"').encode("ascii"),
    ]


def marker_hits(root: Path, markers: dict[str, str]) -> list[tuple[str, str]]:
    """``(file, marker name)`` for every marker text found in any file under ``root``."""
    found = []
    for path in files_under(root):
        data = path.read_bytes()
        for name, marker in markers.items():
            if any(form in data for form in _forms(marker)):
                found.append((str(path.relative_to(root)), name))
    return found


def loose_modes(root: Path) -> list[tuple[str, str]]:
    """``(path, mode)`` of every folder under ``root`` (itself included) that is not
    0700 and every file that is not 0600."""
    loose = []
    for path in [root, *sorted(root.rglob("*"))]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        wanted = 0o700 if path.is_dir() else 0o600
        if mode != wanted:
            loose.append((str(path.relative_to(root)), oct(mode)))
    return loose


def markers(**prefixes: str) -> dict[str, str]:
    """Marker texts to record and then look for: each prefix (Latin or Devanagari)
    with one random tag, so no other test's text can be mistaken for them."""
    tag = uuid.uuid4().hex[:8].upper()
    return {name: f"{prefix}{tag}" for name, prefix in prefixes.items()}


def temp_files_inside(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point TMPDIR (where SQLite and Python put temporary files) into ``root``,
    the scanned tree, so a scan also sees what lay in temporary files."""
    scratch = root / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    return scratch
