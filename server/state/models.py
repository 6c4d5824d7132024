"""The gateway's identity and audit values, shared by the repositories and the handlers.

Plain frozen dataclasses: the SQLite repository builds them today, the
CouchDB-backed one of the next issue builds the same ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas.identity import Role, is_slug

__all__ = [
    "DB_PREFIX",
    "AuditEntry",
    "Beat",
    "Device",
    "NewAuditEntry",
    "Officer",
    "Principal",
    "Station",
    "station_db_name",
    "station_of_db",
]

# The cross-team contract: station and beat ids are slugs
# (schemas.identity); a station's database is `station-<station_id>`.
DB_PREFIX = "station-"


def station_db_name(station_id: str) -> str:
    return f"{DB_PREFIX}{station_id}"


def station_of_db(db_name: str) -> str | None:
    """The station id a database name stands for, or ``None`` for any other name."""
    if not db_name.startswith(DB_PREFIX):
        return None
    station_id = db_name[len(DB_PREFIX) :]
    return station_id if is_slug(station_id) else None


@dataclass(frozen=True, slots=True)
class Station:
    id: str
    name: str
    # Per-station policy: beat officers replicate only their own beat's records.
    beat_scoped: bool = False


@dataclass(frozen=True, slots=True)
class Beat:
    station_id: str
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Officer:
    id: str
    name: str
    role: Role
    station_id: str | None
    beat_id: str | None
    password_hash: str
    revoked: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "officer_id": self.id,
            "name": self.name,
            "role": self.role.value,
            "station_id": self.station_id,
            "beat_id": self.beat_id,
            "revoked": self.revoked,
        }


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    officer_id: str
    name: str
    public_key: str
    enrolled_at: str
    revoked: bool = False
    last_seen: str | None = None
    last_db: str | None = None
    last_seq: Any = None
    last_checkpoint_at: str | None = None
    checkpoint_writes: int = 0  # `_local` (replication checkpoint) writes
    # What the device said it still had to push (X-BeatSync-Pending), and when.
    pending: int | None = None
    pending_at: str | None = None

    def public(self) -> dict[str, Any]:
        return {
            "device_id": self.id,
            "officer_id": self.officer_id,
            "name": self.name,
            "enrolled_at": self.enrolled_at,
            "revoked": self.revoked,
            "last_seen": self.last_seen,
            "db": self.last_db,
            "last_seq": self.last_seq,
            "last_checkpoint_at": self.last_checkpoint_at,
            "checkpoint_writes": self.checkpoint_writes,
            "pending": self.pending,
            "pending_at": self.pending_at,
        }


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an officer, through one of their devices or with their password."""

    officer: Officer
    device: Device | None = None

    @property
    def role(self) -> Role:
        return self.officer.role

    def public(self) -> dict[str, Any]:
        return {
            **self.officer.public(),
            "device_id": self.device.id if self.device else None,
            "auth": "device" if self.device else "password",
            "db": station_db_name(self.officer.station_id) if self.officer.station_id else None,
        }


@dataclass(frozen=True, slots=True)
class NewAuditEntry:
    """One accepted write, as the write path hands it to the audit log."""

    db: str
    doc_id: str
    rev: str
    officer_id: str
    device_id: str | None
    record_type: str | None
    deleted: bool
    signed: str  # "verified" (device signature checked) or "unsigned"
    signer: str | None = None  # the device whose signature was verified
    # The accepted body (attachments as stubs): a later replicated edit of this
    # revision is judged against it after the store has compacted it away.
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    seq: int
    at: str
    db: str
    doc_id: str
    rev: str
    officer_id: str
    device_id: str | None
    record_type: str | None
    deleted: bool
    signed: str  # "verified" (device signature checked) or "unsigned"
    signer: str | None = None  # the device whose signature was verified

    def public(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "db": self.db,
            "doc_id": self.doc_id,
            "rev": self.rev,
            "officer_id": self.officer_id,
            "device_id": self.device_id,
            "record_type": self.record_type,
            "deleted": self.deleted,
            "signed": self.signed,
            "signer": self.signer,
        }


def audit_fields(entry: NewAuditEntry, at: str) -> dict[str, Any]:
    """The fields of ``entry`` stored and chained (see :mod:`server.state.audit_chain`)."""
    return {
        "at": at,
        "db": entry.db,
        "doc_id": entry.doc_id,
        "rev": entry.rev,
        "officer_id": entry.officer_id,
        "device_id": entry.device_id,
        "record_type": entry.record_type,
        "deleted": entry.deleted,
        "signed": entry.signed,
        "signer": entry.signer,
        "body": dict(entry.body) if entry.body is not None else None,
    }
