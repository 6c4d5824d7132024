"""The gateway's state in one SQLite file (``gateway.sqlite`` under the data folder).

Implements every repository of :mod:`server.state.interface` on one aiosqlite
connection. WAL mode and a busy timeout let the admin CLI (another process)
change identities while the gateway runs; the gateway reads officer and
device rows on every request, so a revocation made by the CLI takes effect on
the very next request.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import orjson

from schemas.identity import Role
from server.state.audit_chain import (
    CHAINED_FIELDS,
    KEY_FILE,
    AuditSigner,
    ChainedEntry,
    ChainHead,
    ChainLink,
    LazyChain,
    head_setting,
)
from server.state.interface import DocRev, GatewayState
from server.state.models import (
    AuditEntry,
    Beat,
    Device,
    NewAuditEntry,
    Officer,
    Station,
    audit_fields,
)
from server.state.sqlite_conflicts import CONFLICTS_MIGRATION, SQLiteConflicts
from server.state.sqlite_sessions import SESSIONS_MIGRATION, SQLiteSessions
from server.state.timestamps import utc_now
from sync.codec import BodyCodec, PlainCodec, body_aad
from sync.database import Doc
from sync.errors import Conflict, NotFound
from sync.sqlite.schema import open_connection

__all__ = ["SCHEMA_VERSION", "SQLiteGatewayState"]

# Columns of an audit row that hold a chained field as is (``deleted`` is an
# integer in SQLite, ``body`` JSON text).
_STORED_FIELDS = tuple(name for name in CHAINED_FIELDS if name not in ("deleted", "body"))


def _audit_aad(db: str, doc_id: str, rev: str) -> bytes:
    """An audited body is bound to its entry's database, document and revision."""
    return b"audit\0" + db.encode() + b"\0" + body_aad(doc_id, rev)


# Entries read per statement while verifying the chain.
_CHAIN_PAGE = 2000


# Versioned migrations: index i upgrades schema version i to i + 1.
_MIGRATIONS: list[str] = [
    """
    CREATE TABLE stations (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, beat_scoped INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL);
    CREATE TABLE beats (
        station_id TEXT NOT NULL REFERENCES stations(id), id TEXT NOT NULL, name TEXT NOT NULL,
        PRIMARY KEY (station_id, id));
    CREATE TABLE officers (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
        station_id TEXT REFERENCES stations(id), beat_id TEXT,
        password_hash TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL);
    CREATE TABLE devices (
        id TEXT PRIMARY KEY, officer_id TEXT NOT NULL REFERENCES officers(id),
        name TEXT NOT NULL, public_key TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE,
        enrolled_at TEXT NOT NULL, revoked INTEGER NOT NULL DEFAULT 0, revoked_at TEXT,
        last_seen TEXT, last_db TEXT, last_seq TEXT, last_checkpoint_at TEXT);
    CREATE TABLE audit (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, db TEXT NOT NULL,
        doc_id TEXT NOT NULL, rev TEXT NOT NULL, officer_id TEXT NOT NULL, device_id TEXT,
        record_type TEXT, deleted INTEGER NOT NULL, signed TEXT NOT NULL);
    CREATE INDEX audit_by_db ON audit (db, seq);
    -- The audit log is append-only, enforced by the database itself.
    CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
        BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
    CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
    # 2: the accepted body beside each entry (NULL for entries written before),
    # and an index for looking entries up by document.
    """
    ALTER TABLE audit ADD COLUMN body TEXT;
    CREATE INDEX audit_by_doc ON audit (db, doc_id, rev);
    """,
    # 3: the device whose signature was verified (NULL: unsigned, or written before).
    """
    ALTER TABLE audit ADD COLUMN signer TEXT;
    """,
    # 4: how many checkpoint (`_local`) writes each device made.
    """
    ALTER TABLE devices ADD COLUMN checkpoint_writes INTEGER NOT NULL DEFAULT 0;
    """,
    # 5: the hash chain of the audit log (see server.state.audit_chain).
    """
    ALTER TABLE audit ADD COLUMN chain TEXT;
    ALTER TABLE audit ADD COLUMN prev TEXT;
    ALTER TABLE audit ADD COLUMN hash TEXT;
    ALTER TABLE audit ADD COLUMN sig TEXT;
    CREATE INDEX audit_by_chain ON audit (chain, seq);
    """,
    # 6: the office's conflict queue.
    CONFLICTS_MIGRATION,
    # 7: the office's sessions (by token hash), so they outlive a restart.
    SESSIONS_MIGRATION,
    # 8: what each device said it still had to push at its last contact.
    """
    ALTER TABLE devices ADD COLUMN pending INTEGER;
    ALTER TABLE devices ADD COLUMN pending_at TEXT;
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)


def _audit_row(r: aiosqlite.Row) -> AuditEntry:
    return AuditEntry(
        r["seq"],
        r["at"],
        r["db"],
        r["doc_id"],
        r["rev"],
        r["officer_id"],
        r["device_id"],
        r["record_type"],
        bool(r["deleted"]),
        r["signed"],
        r["signer"],
    )


class SQLiteGatewayState(SQLiteConflicts, SQLiteSessions, GatewayState):
    def __init__(
        self, conn: aiosqlite.Connection, *, audit_key: Path, codec: BodyCodec | None = None
    ) -> None:
        self._conn = conn
        self._codec = codec or PlainCodec()
        self._write_lock = asyncio.Lock()
        self._audit_key = audit_key
        self._chain = LazyChain(self._open_chain)

    @classmethod
    async def open(
        cls, path: Path, *, audit_key: Path | None = None, codec: BodyCodec | None = None
    ) -> SQLiteGatewayState:
        """The state in the file at ``path``; ``audit_key`` is the gateway's audit
        signing key (default: ``audit-signing.key`` beside the file, made on first
        use); ``codec`` seals the audited record bodies (the only record text here)."""
        conn = await open_connection(path)
        try:
            conn.row_factory = aiosqlite.Row
            await conn.execute("PRAGMA journal_mode=WAL")
            await conn.execute("PRAGMA busy_timeout=10000")
            await conn.execute("PRAGMA foreign_keys=ON")
            # synchronous=FULL: an acknowledged audit entry survives a power cut.
            await conn.execute("PRAGMA synchronous=FULL")
            state = cls(conn, audit_key=audit_key or path.parent / KEY_FILE, codec=codec)
            await state._migrate()
        except BaseException:
            await conn.close()
            raise
        return state

    async def close(self) -> None:
        await self._conn.close()

    async def _migrate(self) -> None:
        async with self._conn.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        version = int(row[0]) if row else 0
        for index in range(version, SCHEMA_VERSION):
            await self._conn.executescript(
                f"BEGIN; {_MIGRATIONS[index]} PRAGMA user_version = {index + 1}; COMMIT;"
            )

    async def _one(self, sql: str, args: Sequence[Any] = ()) -> aiosqlite.Row | None:
        async with self._conn.execute(sql, args) as cur:
            return await cur.fetchone()

    async def _all(self, sql: str, args: Sequence[Any] = ()) -> list[aiosqlite.Row]:
        async with self._conn.execute(sql, args) as cur:
            return list(await cur.fetchall())

    async def _write(self, sql: str, args: Sequence[Any] = (), *, many: bool = False) -> int:
        # One transaction at a time on the shared connection: without the lock,
        # concurrent requests interleave statements, one's commit or rollback
        # takes another's half-done work with it, and sqlite3 reports misuse
        # when cursors overlap (seen under 500 concurrent devices).
        async with self._write_lock:
            try:
                run = self._conn.executemany if many else self._conn.execute
                async with run(sql, args) as cur:
                    count = cur.rowcount
                await self._conn.commit()
            except aiosqlite.IntegrityError as exc:
                await self._conn.rollback()
                raise Conflict(f"already exists or refers to something unknown: {exc}") from None
        return count

    # -- stations and beats -------------------------------------------------

    async def add_station(
        self, station_id: str, name: str, *, beat_scoped: bool = False
    ) -> Station:
        await self._write(
            "INSERT INTO stations (id, name, beat_scoped, created_at) VALUES (?, ?, ?, ?)",
            (station_id, name, int(beat_scoped), utc_now()),
        )
        return Station(station_id, name, beat_scoped)

    async def set_beat_scoped(self, station_id: str, beat_scoped: bool) -> Station:
        if not await self._write(
            "UPDATE stations SET beat_scoped = ? WHERE id = ?", (int(beat_scoped), station_id)
        ):
            raise NotFound(f"no station {station_id}")
        station = await self.get_station(station_id)
        assert station is not None
        return station

    async def get_station(self, station_id: str) -> Station | None:
        row = await self._one("SELECT * FROM stations WHERE id = ?", (station_id,))
        return Station(row["id"], row["name"], bool(row["beat_scoped"])) if row else None

    async def list_stations(self) -> list[Station]:
        rows = await self._all("SELECT * FROM stations ORDER BY id")
        return [Station(r["id"], r["name"], bool(r["beat_scoped"])) for r in rows]

    async def add_beat(self, station_id: str, beat_id: str, name: str) -> Beat:
        await self.require_place(station_id)
        await self._write(
            "INSERT INTO beats (station_id, id, name) VALUES (?, ?, ?)", (station_id, beat_id, name)
        )
        return Beat(station_id, beat_id, name)

    async def list_beats(self, station_id: str | None = None) -> list[Beat]:
        rows = await self._all(
            "SELECT * FROM beats WHERE ? IS NULL OR station_id = ? ORDER BY station_id, id",
            (station_id, station_id),
        )
        return [Beat(r["station_id"], r["id"], r["name"]) for r in rows]

    # -- officers -------------------------------------------------------------

    @staticmethod
    def _officer(row: aiosqlite.Row) -> Officer:
        return Officer(
            row["id"],
            row["name"],
            Role(row["role"]),
            row["station_id"],
            row["beat_id"],
            row["password_hash"],
            bool(row["revoked"]),
        )

    async def add_officer(
        self,
        officer_id: str,
        name: str,
        role: Role,
        password_hash: str,
        *,
        station_id: str | None = None,
        beat_id: str | None = None,
    ) -> Officer:
        await self.require_place(station_id, beat_id)
        await self._write(
            "INSERT INTO officers (id, name, role, station_id, beat_id, password_hash, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (officer_id, name, role.value, station_id, beat_id, password_hash, utc_now()),
        )
        return Officer(officer_id, name, role, station_id, beat_id, password_hash)

    async def get_officer(self, officer_id: str) -> Officer | None:
        row = await self._one("SELECT * FROM officers WHERE id = ?", (officer_id,))
        return self._officer(row) if row else None

    async def list_officers(self, station_id: str | None = None) -> list[Officer]:
        rows = await self._all(
            "SELECT * FROM officers WHERE ? IS NULL OR station_id = ? ORDER BY id",
            (station_id, station_id),
        )
        return [self._officer(r) for r in rows]

    async def set_password_hash(self, officer_id: str, password_hash: str) -> None:
        if not await self._write(
            "UPDATE officers SET password_hash = ? WHERE id = ?", (password_hash, officer_id)
        ):
            raise NotFound(f"no officer {officer_id}")

    async def revoke_officer(self, officer_id: str) -> None:
        if not await self._write("UPDATE officers SET revoked = 1 WHERE id = ?", (officer_id,)):
            raise NotFound(f"no officer {officer_id}")

    # -- devices ---------------------------------------------------------------

    @staticmethod
    def _device(row: aiosqlite.Row) -> Device:
        return Device(
            row["id"],
            row["officer_id"],
            row["name"],
            row["public_key"],
            row["enrolled_at"],
            bool(row["revoked"]),
            row["last_seen"],
            row["last_db"],
            json.loads(row["last_seq"]) if row["last_seq"] is not None else None,
            row["last_checkpoint_at"],
            row["checkpoint_writes"],
            row["pending"],
            row["pending_at"],
        )

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
        now = enrolled_at or utc_now()
        await self._write(
            "INSERT INTO devices (id, officer_id, name, public_key, token_hash, enrolled_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            (device_id, officer_id, name, public_key, token_hash, now),
        )
        return Device(device_id, officer_id, name, public_key, now)

    async def device_by_token_hash(self, token_hash: str) -> Device | None:
        row = await self._one("SELECT * FROM devices WHERE token_hash = ?", (token_hash,))
        return self._device(row) if row else None

    async def device_token_hash(self, device_id: str) -> str | None:
        row = await self._one("SELECT token_hash FROM devices WHERE id = ?", (device_id,))
        return str(row["token_hash"]) if row else None

    async def get_device(self, device_id: str) -> Device | None:
        row = await self._one("SELECT * FROM devices WHERE id = ?", (device_id,))
        return self._device(row) if row else None

    async def list_devices(self, officer_id: str | None = None) -> list[Device]:
        rows = await self._all(
            "SELECT * FROM devices WHERE ? IS NULL OR officer_id = ? ORDER BY enrolled_at, id",
            (officer_id, officer_id),
        )
        return [self._device(r) for r in rows]

    async def revoke_device(self, device_id: str) -> None:
        if not await self._write(
            "UPDATE devices SET revoked = 1, revoked_at = ? WHERE id = ?", (utc_now(), device_id)
        ):
            raise NotFound(f"no device {device_id}")

    # -- device status -----------------------------------------------------------

    async def seen(
        self,
        device_id: str,
        db: str,
        *,
        last_seq: Any = None,
        checkpoint: bool = False,
        pending: int | None = None,
    ) -> None:
        now = utc_now()
        await self._write(
            "UPDATE devices SET last_seen = ?, last_db = ?,"
            " last_seq = COALESCE(?, last_seq),"
            " last_checkpoint_at = CASE WHEN ? THEN ? ELSE last_checkpoint_at END,"
            " checkpoint_writes = checkpoint_writes + ?,"
            " pending = COALESCE(?, pending),"
            " pending_at = CASE WHEN ? IS NULL THEN pending_at ELSE ? END WHERE id = ?",
            (
                now,
                db,
                json.dumps(last_seq) if last_seq is not None else None,
                int(checkpoint),
                now,
                int(checkpoint),
                pending,
                pending,
                now,
                device_id,
            ),
        )

    # -- audit ---------------------------------------------------------------------

    async def _open_chain(self) -> ChainHead:
        """This gateway's chain, continued from its newest entry (one chain per key)."""
        signer = AuditSigner.load_or_create(self._audit_key)
        await self.set_setting(*signer.published_key())
        row = await self._one(
            "SELECT hash FROM audit WHERE chain = ? ORDER BY seq DESC LIMIT 1",
            (signer.fingerprint,),
        )
        return ChainHead(signer, signer.fingerprint, row["hash"] if row else None)

    async def append(self, entries: Sequence[NewAuditEntry]) -> None:
        if not entries:
            return
        now = utc_now()
        chain = await self._chain.get()
        async with self._write_lock:
            rows = []
            head = chain.head
            for e in entries:
                fields = audit_fields(e, now)
                link = chain.link(fields)
                body = self._seal_body(e.db, e.doc_id, e.rev, e.body)
                rows.append(
                    (
                        *(fields[name] for name in _STORED_FIELDS),
                        int(e.deleted),
                        body,
                        link.chain,
                        link.prev,
                        link.hash,
                        link.sig,
                    )
                )
            try:
                await self._conn.executemany(
                    f"INSERT INTO audit ({', '.join(_STORED_FIELDS)}, deleted, body,"
                    " chain, prev, hash, sig) VALUES"
                    f" ({', '.join('?' * (len(_STORED_FIELDS) + 6))})",
                    rows,
                )
                # The head moves with the entries, in their transaction: deleting
                # the newest entries later leaves a chain shorter than its head.
                await self._conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (head_setting(chain.chain), chain.sealed_head()),
                )
                await self._conn.commit()
            except BaseException:
                chain.head = head  # nothing went in: the chain goes on from before
                await self._conn.rollback()
                raise

    async def chain_entries(self) -> AsyncIterator[ChainedEntry]:
        last = 0
        while True:
            rows = await self._all(
                "SELECT * FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", (last, _CHAIN_PAGE)
            )
            for r in rows:
                fields = {name: r[name] for name in _STORED_FIELDS}
                fields["deleted"] = bool(r["deleted"])
                fields["body"] = self._open_body(r["db"], r["doc_id"], r["rev"], r["body"])
                link = (
                    ChainLink(r["chain"], r["prev"], r["hash"], r["sig"])
                    if r["hash"] is not None
                    else None
                )
                yield ChainedEntry(f"seq {r['seq']}", r["seq"], fields, link)
            if len(rows) < _CHAIN_PAGE:
                return
            last = rows[-1]["seq"]

    async def read(
        self, *, db: str | None = None, since: int = 0, limit: int = 1000
    ) -> list[AuditEntry]:
        rows = await self._all(
            "SELECT * FROM audit WHERE (? IS NULL OR db = ?) AND seq > ? ORDER BY seq LIMIT ?",
            (db, db, since, limit),
        )
        return [_audit_row(r) for r in rows]

    async def _rows_of_docs(
        self, db: str, revs: Collection[DocRev], columns: str, where: str = ""
    ) -> list[tuple[DocRev, aiosqlite.Row]]:
        """The audit rows of ``db`` for ``revs``, oldest first, keyed (id, rev)."""
        wanted = set(revs)
        ids = sorted({doc_id for doc_id, _ in wanted})
        if not ids:
            return []
        # json_each: one statement whatever the batch size (no limit on bound variables).
        rows = await self._all(
            f"SELECT {columns} FROM audit WHERE db = ?{where}"
            " AND doc_id IN (SELECT value FROM json_each(?)) ORDER BY seq",
            (db, json.dumps(ids)),
        )
        return [(key, r) for r in rows if (key := (r["doc_id"], r["rev"])) in wanted]

    async def audited(self, db: str, revs: Collection[DocRev]) -> set[DocRev]:
        return {key for key, _ in await self._rows_of_docs(db, revs, "doc_id, rev")}

    async def bodies(self, db: str, revs: Collection[DocRev]) -> dict[DocRev, Doc]:
        rows = await self._rows_of_docs(db, revs, "doc_id, rev, body", " AND body IS NOT NULL")
        return {key: self._open_body(db, *key, r["body"]) for key, r in rows}

    async def entries_of(self, db: str, revs: Collection[DocRev]) -> dict[DocRev, AuditEntry]:
        found: dict[DocRev, AuditEntry] = {}
        for key, r in await self._rows_of_docs(db, revs, "*"):
            found.setdefault(key, _audit_row(r))
        return found

    # -- audited bodies: sealed like the station stores' ------------------------------

    def _seal_body(
        self, db: str, doc_id: str, rev: str, body: Mapping[str, Any] | None
    ) -> bytes | None:
        if body is None:
            return None
        return self._codec.seal(_audit_aad(db, doc_id, rev), orjson.dumps(dict(body)))

    def _open_body(self, db: str, doc_id: str, rev: str, stored: bytes | str | None) -> Any:
        if stored is None:
            return None
        if isinstance(stored, str):  # written as JSON text before bodies were sealed
            return json.loads(stored)
        return orjson.loads(self._codec.open(_audit_aad(db, doc_id, rev), stored))

    # -- settings ------------------------------------------------------------------

    async def get_setting(self, key: str, default: str | None = None) -> str | None:
        row = await self._one("SELECT value FROM settings WHERE key = ?", (key,))
        return str(row["value"]) if row else default

    async def set_setting(self, key: str, value: str) -> None:
        await self._write(
            "INSERT INTO settings (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
