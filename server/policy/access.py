"""Who may touch which station database, and how much of it they see.

An officer reads and writes only their own station's database; a central
office account reads (and, to resolve conflicts, writes) every station; an
admin manages identities and reads no records. Under a station's
``beat_scoped`` policy a beat officer sees only their own beat's records.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.identity import Role
from server.state.interface import IdentityRepo
from server.state.models import Principal, Station, station_of_db
from sync.errors import Forbidden, NotFound, Unauthorized

__all__ = ["DbScope", "require_principal", "require_role", "resolve_scope"]


@dataclass(frozen=True, slots=True)
class DbScope:
    """What one caller may do in one station database."""

    principal: Principal
    station: Station
    db_name: str
    # Set when the caller sees only one beat's records.
    beat_id: str | None = None

    def visible(self, doc: Mapping[str, Any]) -> bool:
        return self.beat_id is None or doc.get("beat_id") == self.beat_id

    @property
    def local_owner(self) -> str:
        """Whose ``_local`` documents (replication checkpoints) the caller reads and
        writes: its device's, or, with a password, the officer's. Another
        credential's checkpoint is out of reach: raising its ``source_last_seq``
        would make that device skip every record written since."""
        device = self.principal.device
        return f"device-{device.id}" if device else f"officer-{self.principal.officer.id}"


def require_principal(principal: Principal | None) -> Principal:
    if principal is None:
        raise Unauthorized("Authentication required: a device token or an officer's password.")
    return principal


def require_role(principal: Principal | None, *roles: Role) -> Principal:
    who = require_principal(principal)
    if who.role not in roles:
        raise Forbidden(f"Only {', '.join(r.value for r in roles)} may do this.")
    return who


async def resolve_scope(
    principal: Principal | None, db_name: str, identities: IdentityRepo
) -> DbScope:
    who = require_principal(principal)
    station_id = station_of_db(db_name)
    officer = who.officer
    if officer.role is Role.ADMIN:
        raise Forbidden("Admin accounts manage identities and read no records.")
    if officer.role is not Role.CENTRAL_OFFICE and (
        station_id is None or station_id != officer.station_id
    ):
        # Same answer whether or not the database exists: nothing leaks.
        raise Forbidden("You may only access your own station's database.")
    station = await identities.get_station(station_id) if station_id else None
    if station is None:
        raise NotFound("Database does not exist.")
    beat_id = officer.beat_id if officer.role is Role.BEAT_OFFICER and station.beat_scoped else None
    return DbScope(who, station, db_name, beat_id)
