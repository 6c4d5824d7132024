"""The gateway's state behind small async repositories.

Identities (stations, beats, officers, devices), the append-only audit log,
and per-device sync status. The SQLite implementation (:mod:`server.state.sqlite`)
keeps them in one file under the data folder; the next issue adds a
CouchDB-backed one so several gateways can share them. Handlers use only
these interfaces.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Collection, Sequence
from typing import Any

from schemas.identity import Role
from server.state.audit_chain import ChainedEntry
from server.state.conflict_queue import ConflictQueue
from server.state.models import AuditEntry, Beat, Device, NewAuditEntry, Officer, Station
from server.state.office_sessions import SessionRepo
from sync.database import Doc
from sync.errors import NotFound

__all__ = [
    "AuditLog",
    "DeviceStatus",
    "DocRev",
    "GatewayState",
    "IdentityRepo",
    "Settings",
]

DocRev = tuple[str, str]  # (doc id, rev)


class IdentityRepo(abc.ABC):
    @abc.abstractmethod
    async def add_station(
        self, station_id: str, name: str, *, beat_scoped: bool = False
    ) -> Station: ...

    @abc.abstractmethod
    async def set_beat_scoped(self, station_id: str, beat_scoped: bool) -> Station: ...

    @abc.abstractmethod
    async def get_station(self, station_id: str) -> Station | None: ...

    @abc.abstractmethod
    async def list_stations(self) -> list[Station]: ...

    @abc.abstractmethod
    async def add_beat(self, station_id: str, beat_id: str, name: str) -> Beat: ...

    @abc.abstractmethod
    async def list_beats(self, station_id: str | None = None) -> list[Beat]: ...

    @abc.abstractmethod
    async def add_officer(
        self,
        officer_id: str,
        name: str,
        role: Role,
        password_hash: str,
        *,
        station_id: str | None = None,
        beat_id: str | None = None,
    ) -> Officer: ...

    @abc.abstractmethod
    async def get_officer(self, officer_id: str) -> Officer | None: ...

    @abc.abstractmethod
    async def list_officers(self, station_id: str | None = None) -> list[Officer]: ...

    @abc.abstractmethod
    async def set_password_hash(self, officer_id: str, password_hash: str) -> None: ...

    @abc.abstractmethod
    async def revoke_officer(self, officer_id: str) -> None:
        """Refuse the officer and every device they enrolled from now on."""

    @abc.abstractmethod
    async def add_device(
        self,
        device_id: str,
        officer_id: str,
        name: str,
        public_key: str,
        token_hash: str,
        *,
        enrolled_at: str | None = None,
    ) -> Device:
        """Enrol a device now, or at ``enrolled_at`` (a hub copying the centre's)."""

    @abc.abstractmethod
    async def device_by_token_hash(self, token_hash: str) -> Device | None: ...

    @abc.abstractmethod
    async def get_device(self, device_id: str) -> Device | None: ...

    @abc.abstractmethod
    async def list_devices(self, officer_id: str | None = None) -> list[Device]: ...

    @abc.abstractmethod
    async def revoke_device(self, device_id: str) -> None: ...

    @abc.abstractmethod
    async def device_token_hash(self, device_id: str) -> str | None:
        """The stored SHA-256 of a device's token, for station hubs that must
        authenticate the station's devices while offline (server/hub/)."""

    async def require_place(self, station_id: str | None, beat_id: str | None = None) -> None:
        """``NotFound`` unless the station (and the beat in it) exist: checked
        before a beat or an officer is added to them."""
        if station_id is not None and await self.get_station(station_id) is None:
            raise NotFound(f"no station {station_id}")
        if beat_id is not None and not any(
            b.id == beat_id for b in await self.list_beats(station_id)
        ):
            raise NotFound(f"no beat {beat_id} in station {station_id}")


class AuditLog(abc.ABC):
    """Append-only: entries are added, never changed or removed."""

    @abc.abstractmethod
    async def append(self, entries: Sequence[NewAuditEntry]) -> None: ...

    @abc.abstractmethod
    async def read(
        self, *, db: str | None = None, since: int = 0, limit: int = 1000
    ) -> list[AuditEntry]: ...

    @abc.abstractmethod
    async def audited(self, db: str, revs: Collection[DocRev]) -> set[DocRev]:
        """Which of ``revs`` (doc id, rev) of ``db`` the log has, in one query."""

    @abc.abstractmethod
    async def bodies(self, db: str, revs: Collection[DocRev]) -> dict[DocRev, Doc]:
        """The bodies the log keeps of those of ``revs`` it has, in one query."""

    @abc.abstractmethod
    async def entries_of(self, db: str, revs: Collection[DocRev]) -> dict[DocRev, AuditEntry]:
        """The first entry of each of ``revs`` the log has (who wrote it, from
        which device, when), in one query."""

    @abc.abstractmethod
    def chain_entries(self) -> AsyncIterator[ChainedEntry]:
        """Every entry as stored, with its chain link, oldest first (for ``audit verify``)."""


class DeviceStatus(abc.ABC):
    @abc.abstractmethod
    async def seen(
        self,
        device_id: str,
        db: str,
        *,
        last_seq: Any = None,
        checkpoint: bool = False,
        pending: int | None = None,
    ) -> None:
        """Record contact: ``last_seq`` is the seq the device has pulled up to,
        ``pending`` how many records it said it still had to push."""


class Settings(abc.ABC):
    """District-wide settings (e.g. ``refuse_unsigned``)."""

    @abc.abstractmethod
    async def get_setting(self, key: str, default: str | None = None) -> str | None: ...

    @abc.abstractmethod
    async def set_setting(self, key: str, value: str) -> None: ...


class GatewayState(IdentityRepo, AuditLog, DeviceStatus, Settings, ConflictQueue, SessionRepo):
    """Everything the gateway keeps besides the records, in one object per
    process: :class:`server.state.sqlite.SQLiteGatewayState` (embedded) or
    :class:`server.couch.state.CouchGatewayState` (``--couchdb``)."""

    @abc.abstractmethod
    async def close(self) -> None: ...
