"""The replica's settings file: who this device is and where it syncs. No record data.

Kept as JSON beside the database so ``status`` works without opening
anything; the only secret in it (the device's bearer token) is sealed with
the data key, so the file is safe to read but useless to copy.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from field_client.errors import NoReplica
from field_client.files import atomic_write, shred

__all__ = ["Settings", "load_settings", "remove_settings", "save_settings"]


@dataclass(frozen=True, slots=True)
class Settings:
    officer_id: str
    device_id: str
    station_id: str
    beat_id: str
    db_name: str
    role: str = "beat_officer"
    server_url: str | None = None
    server_uuid: str | None = None
    sealed_token: str | None = None
    # Everything this replica held up to this local update seq is on the
    # server (pushed, or pulled from it): the base of "pending changes".
    synced_seq: int = 0
    last_sync_at: str | None = None
    # The server offered BeatSync's sync session: skip asking (GET /) each sync.
    server_session: bool = False

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def load_settings(path: Path) -> Settings:
    try:
        data = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise NoReplica() from None
    known = {f.name for f in dataclasses.fields(Settings)}
    # Unknown keys (a newer version wrote them) are ignored rather than fatal.
    return Settings(**{key: value for key, value in data.items() if key in known})


def save_settings(path: Path, settings: Settings) -> None:
    atomic_write(path, orjson.dumps(dataclasses.asdict(settings), option=orjson.OPT_INDENT_2))


def remove_settings(path: Path) -> None:
    shred(path)
