"""The gateway's state as CouchDB documents, so gateways stay stateless.

Implements every repository of :mod:`server.state.interface` over three databases that
``beatsync-server couch bootstrap`` creates:

* ``beatsync-identities``: ``station:<id>``, ``beat:<station>:<beat>``,
  ``officer:<id>``, ``device:<id>``, ``token:<sha256>`` (a copy of the device
  under its token hash, so a bearer lookup is one GET by id, no view; a
  revocation updates the copy first) and ``setting:<key>``.
* ``beatsync-audit``: one document per accepted revision, never updated: ids
  are ``<seq:016d>-<gateway>-<n>``, unique across gateways, sorted by seq.
  A ``validate_doc_update`` (installed by bootstrap) refuses any update or
  deletion, so CouchDB itself keeps the log append-only.
* ``beatsync-device-status``: ``status:<device_id>``, kept apart because it
  changes on every sync while identities change rarely.
* ``beatsync-conflicts``: the office's conflict queue (:mod:`server.couch.conflict_docs`).
* the office's sessions, in the identities database (:mod:`server.couch.session_docs`).

Several gateways share these: every request reads the officer and device
documents afresh, so a revocation made through any gateway or the CLI takes
effect on the very next request everywhere. Read-modify-write updates retry
on 409 like any CouchDB client racing another writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator, Collection, Sequence
from pathlib import Path
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from schemas.identity import Role
from server.config import GatewayConfig
from server.couch.audit_docs import audit_doc, audit_entry, chained_entry
from server.couch.backend import CouchServer, redact
from server.couch.conflict_docs import CONFLICTS_DB, CouchConflicts
from server.couch.docs import create_doc, get_or_none, list_prefixed, update_doc
from server.couch.session_docs import CouchOfficeSessions
from server.state.audit_chain import (
    KEY_FILE,
    AuditSigner,
    ChainedEntry,
    ChainHead,
    LazyChain,
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
from server.state.timestamps import utc_now
from sync.database import Database, Doc
from sync.errors import BadRequest, Conflict, NotFound, ServiceUnavailable

__all__ = [
    "AUDIT_DB",
    "AUDIT_INDEX",
    "CONFLICTS_DB",
    "DEVICE_STATUS_DB",
    "DISTRICT_DB",
    "IDENTITIES_DB",
    "CouchGatewayState",
]

IDENTITIES_DB: Final = "beatsync-identities"
AUDIT_DB: Final = "beatsync-audit"
DEVICE_STATUS_DB: Final = "beatsync-device-status"
# Every station replicated into one database, for the office's reports.
DISTRICT_DB: Final = "beatsync-district"
# The Mango index (name and fields) that serves one station's audit entries.
AUDIT_INDEX: Final = ("audit-by-db-seq", ["db", "seq"])
# Device status is written at every checkpoint, and otherwise at most this
# often: a `_changes` poll must not cost two CouchDB round trips each time.
_SEEN_INTERVAL_S: Final = 30.0
_PAGE: Final = 500
# Audit entries read to check one batch: a doc has one per accepted revision.
_AUDITED_LIMIT: Final = 1_000_000
# How long a device looked up for a signature check is reused: a revocation
# made through another gateway stops its signatures within this time (its own
# requests are refused at once: authentication reads the device afresh).
_DEVICE_CACHE_S: Final = 2.0
_CACHE_MAX: Final = 10_000
# How long a starting gateway waits for CouchDB before giving up.
STARTUP_WAIT_S: Final = 30.0


class CouchGatewayState(CouchConflicts, CouchOfficeSessions, GatewayState):
    """Identities, audit log, device status and settings in CouchDB."""

    def __init__(
        self, server: CouchServer, *, owns_server: bool = True, audit_key: Path | None = None
    ) -> None:
        """``audit_key``: the file of the gateway's audit signing key (made on first
        use); without one, a key for this process only (tests, tools)."""
        self._server = server
        self._owns_server = owns_server
        self._ids: Database = server.database(IDENTITIES_DB)
        self._audit: Database = server.database(AUDIT_DB)
        self._status: Database = server.database(DEVICE_STATUS_DB)
        self._conflicts: Database = server.database(CONFLICTS_DB)
        # Per process: audit ids never collide across gateways.
        self._gateway_tag = secrets.token_hex(4)
        self._last_audit_seq = 0
        self._seen_written: dict[str, float] = {}  # device -> when its status was written
        self._pending_seq: dict[str, Any] = {}  # device -> seq pulled, not yet written
        # device -> (records it said it had to push, when), not yet written
        self._pending_push: dict[str, tuple[int, str]] = {}
        self._device_cache: dict[str, tuple[float, Device | None]] = {}
        self._audit_key = audit_key
        self._chain = LazyChain(self._open_chain)
        self._append_lock = asyncio.Lock()

    @classmethod
    async def open(
        cls, config: GatewayConfig, *, startup_wait_s: float = STARTUP_WAIT_S
    ) -> CouchGatewayState:
        """The state in the CouchDB at ``config.couchdb_url``, once CouchDB answers.

        Waits up to ``startup_wait_s`` for CouchDB (a gateway and its cluster
        often start together), then fails with a message naming the URL
        without its credentials. Once running, outages become 503s instead.
        """
        assert config.couchdb_url is not None
        server = CouchServer.from_url(config.couchdb_url, timeout_s=config.couchdb_timeout_s)
        state = cls(server, audit_key=config.data_dir / KEY_FILE)
        deadline = time.monotonic() + startup_wait_s
        delay = 0.25
        while True:
            try:
                if await state.get_setting("server_uuid") is None:
                    raise ServiceUnavailable("run `beatsync-server couch bootstrap` first")
                return state
            except ServiceUnavailable as exc:
                if time.monotonic() + delay > deadline:
                    await state.close()
                    raise ServiceUnavailable(
                        f"CouchDB at {redact(server.base_url)} is not ready for the gateway"
                        f" (down, refusing its credentials, or not bootstrapped): {exc.reason}"
                    ) from None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    @property
    def _sessions_db(self) -> Database:
        return self._ids

    @property
    def _conflicts_db(self) -> Database:
        return self._conflicts

    @property
    def server(self) -> CouchServer:
        """The cluster connection, shared with the station stores."""
        return self._server

    async def close(self) -> None:
        if self._owns_server:
            await self._server.close()

    # -- stations and beats ---------------------------------------------------------

    @staticmethod
    def _station(doc: Doc) -> Station:
        return Station(doc["_id"].split(":", 1)[1], doc["name"], bool(doc.get("beat_scoped")))

    async def add_station(
        self, station_id: str, name: str, *, beat_scoped: bool = False
    ) -> Station:
        await create_doc(
            self._ids,
            {
                "_id": f"station:{station_id}",
                "kind": "station",
                "name": name,
                "beat_scoped": beat_scoped,
                "created_at": utc_now(),
            },
        )
        return Station(station_id, name, beat_scoped)

    async def set_beat_scoped(self, station_id: str, beat_scoped: bool) -> Station:
        doc = await update_doc(
            self._ids, f"station:{station_id}", lambda d: {**d, "beat_scoped": beat_scoped}
        )
        return self._station(doc)

    async def get_station(self, station_id: str) -> Station | None:
        doc = await get_or_none(self._ids, f"station:{station_id}")
        return self._station(doc) if doc else None

    async def list_stations(self) -> list[Station]:
        return [self._station(d) for d in await list_prefixed(self._ids, "station:")]

    async def add_beat(self, station_id: str, beat_id: str, name: str) -> Beat:
        await self.require_place(station_id)
        await create_doc(
            self._ids,
            {
                "_id": f"beat:{station_id}:{beat_id}",
                "kind": "beat",
                "station_id": station_id,
                "name": name,
            },
        )
        return Beat(station_id, beat_id, name)

    async def list_beats(self, station_id: str | None = None) -> list[Beat]:
        prefix = f"beat:{station_id}:" if station_id else "beat:"
        return [
            Beat(d["station_id"], d["_id"].rsplit(":", 1)[1], d["name"])
            for d in await list_prefixed(self._ids, prefix)
        ]

    # -- officers ---------------------------------------------------------------------

    @staticmethod
    def _officer(doc: Doc) -> Officer:
        return Officer(
            doc["_id"].split(":", 1)[1],
            doc["name"],
            Role(doc["role"]),
            doc.get("station_id"),
            doc.get("beat_id"),
            doc["password_hash"],
            bool(doc.get("revoked")),
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
        await create_doc(
            self._ids,
            {
                "_id": f"officer:{officer_id}",
                "kind": "officer",
                "name": name,
                "role": role.value,
                "station_id": station_id,
                "beat_id": beat_id,
                "password_hash": password_hash,
                "revoked": False,
                "created_at": utc_now(),
            },
        )
        return Officer(officer_id, name, role, station_id, beat_id, password_hash)

    async def get_officer(self, officer_id: str) -> Officer | None:
        doc = await get_or_none(self._ids, f"officer:{officer_id}")
        return self._officer(doc) if doc else None

    async def list_officers(self, station_id: str | None = None) -> list[Officer]:
        officers = [self._officer(d) for d in await list_prefixed(self._ids, "officer:")]
        return [o for o in officers if station_id is None or o.station_id == station_id]

    async def set_password_hash(self, officer_id: str, password_hash: str) -> None:
        await update_doc(
            self._ids, f"officer:{officer_id}", lambda d: {**d, "password_hash": password_hash}
        )

    async def revoke_officer(self, officer_id: str) -> None:
        await update_doc(self._ids, f"officer:{officer_id}", lambda d: {**d, "revoked": True})

    # -- devices ------------------------------------------------------------------------

    @staticmethod
    def _device(doc: Doc, status: Doc | None = None) -> Device:
        status = status or {}
        return Device(
            doc.get("device_id") or doc["_id"].split(":", 1)[1],
            doc["officer_id"],
            doc["name"],
            doc["public_key"],
            doc["enrolled_at"],
            bool(doc.get("revoked")),
            status.get("last_seen"),
            status.get("last_db"),
            status.get("last_seq"),
            status.get("last_checkpoint_at"),
            int(status.get("checkpoint_writes", 0)),
            status.get("pending"),
            status.get("pending_at"),
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
        record = {
            "officer_id": officer_id,
            "name": name,
            "public_key": public_key,
            "enrolled_at": now,
            "revoked": False,
        }
        # The token document first, and a full copy of the device: every request
        # authenticates with ONE read by token, and no device document is ever
        # reachable by a token that another device already holds.
        await create_doc(
            self._ids,
            {"_id": f"token:{token_hash}", "kind": "token", "device_id": device_id, **record},
        )
        await create_doc(
            self._ids,
            {"_id": f"device:{device_id}", "kind": "device", "token_hash": token_hash, **record},
        )
        return Device(device_id, officer_id, name, public_key, now)

    async def device_by_token_hash(self, token_hash: str) -> Device | None:
        doc = await get_or_none(self._ids, f"token:{token_hash}")
        return self._device(doc) if doc is not None else None

    async def device_token_hash(self, device_id: str) -> str | None:
        doc = await get_or_none(self._ids, f"device:{device_id}")
        return str(doc["token_hash"]) if doc else None

    async def get_device(self, device_id: str) -> Device | None:
        # The write path asks this for every signed revision, nearly always about
        # the same device: a batch of 100 would cost 200 CouchDB round trips.
        # Authentication never uses this (it reads the device by token afresh).
        now = time.monotonic()
        cached = self._device_cache.get(device_id)
        if cached is not None and cached[0] > now:
            return cached[1]
        doc, status = await asyncio.gather(
            get_or_none(self._ids, f"device:{device_id}"),
            get_or_none(self._status, f"status:{device_id}"),
        )
        device = self._device(doc, status) if doc is not None else None
        if len(self._device_cache) > _CACHE_MAX:
            self._device_cache.clear()
        self._device_cache[device_id] = (now + _DEVICE_CACHE_S, device)
        return device

    async def list_devices(self, officer_id: str | None = None) -> list[Device]:
        status_docs = await list_prefixed(self._status, "status:")
        statuses = {d["_id"].split(":", 1)[1]: d for d in status_docs}
        devices = [
            self._device(d, statuses.get(d["_id"].split(":", 1)[1]))
            for d in await list_prefixed(self._ids, "device:")
            if officer_id is None or d.get("officer_id") == officer_id
        ]
        return sorted(devices, key=lambda d: (d.enrolled_at, d.id))

    async def revoke_device(self, device_id: str) -> None:
        self._device_cache.pop(device_id, None)
        token_hash = await self.device_token_hash(device_id)
        if token_hash is None:
            raise NotFound(f"no device {device_id}")
        stamp = utc_now()

        def revoke(doc: Doc) -> Doc:
            return {**doc, "revoked": True, "revoked_at": doc.get("revoked_at") or stamp}

        # The token copy first: it is what authentication reads.
        await update_doc(self._ids, f"token:{token_hash}", revoke)
        await update_doc(self._ids, f"device:{device_id}", revoke)

    # -- device status --------------------------------------------------------------------

    async def seen(
        self,
        device_id: str,
        db: str,
        *,
        last_seq: Any = None,
        checkpoint: bool = False,
        pending: int | None = None,
    ) -> None:
        now = time.monotonic()
        if last_seq is not None:
            self._pending_seq[device_id] = last_seq
        if pending is not None:
            self._pending_push[device_id] = (pending, utc_now())
        written_at = self._seen_written.get(device_id)
        # A checkpoint (the end of a replicator's batch, and of every run) always
        # writes; otherwise at most every _SEEN_INTERVAL_S, carrying the latest
        # seq: an initial pull of 100 batches must not cost 200 more round trips.
        if not checkpoint and written_at is not None and now - written_at < _SEEN_INTERVAL_S:
            return
        seq = self._pending_seq.pop(device_id, None)
        push = self._pending_push.pop(device_id, None)
        stamp = utc_now()

        def change(doc: Doc) -> Doc:
            doc.update(last_seen=stamp, last_db=db)
            if seq is not None:
                doc["last_seq"] = seq
            if push is not None:
                doc["pending"], doc["pending_at"] = push
            if checkpoint:
                doc["last_checkpoint_at"] = stamp
                doc["checkpoint_writes"] = int(doc.get("checkpoint_writes", 0)) + 1
            return doc

        self._seen_written[device_id] = now
        await update_doc(self._status, f"status:{device_id}", change, create={})

    # -- audit --------------------------------------------------------------------------------

    def _next_seq(self) -> int:
        # Microseconds since the epoch, strictly increasing in this process:
        # below 2**53, so JavaScript clients read it exactly.
        self._last_audit_seq = max(time.time_ns() // 1000, self._last_audit_seq + 1)
        return self._last_audit_seq

    async def _open_chain(self) -> ChainHead:
        """This process's chain (several gateways write the one audit database)."""
        signer = (
            AuditSigner.load_or_create(self._audit_key)
            if self._audit_key is not None
            else AuditSigner(Ed25519PrivateKey.generate())
        )
        await self.set_setting(*signer.published_key())
        return ChainHead(signer, f"{signer.fingerprint}.{self._gateway_tag}", None)

    async def append(self, entries: Sequence[NewAuditEntry]) -> None:
        if not entries:
            return
        now = utc_now()
        chain = await self._chain.get()
        # Linked and written one batch at a time: a batch that fails to be
        # written must not leave the next one pointing at it.
        async with self._append_lock:
            head = chain.head
            docs = []
            for n, entry in enumerate(entries):
                seq = self._next_seq()
                fields = audit_fields(entry, now)
                doc_id = f"{seq:016d}-{self._gateway_tag}-{n}"
                docs.append(audit_doc(doc_id, seq, fields, chain.link(fields)))
            try:
                failed = [r for r in await self._audit.bulk_docs(docs) if "error" in r]
            except BaseException:
                chain.head = head
                raise
            if failed:
                chain.head = head
                # Fresh unique ids cannot conflict; anything refused is a real fault
                # the operator must see, not something to drop silently.
                raise Conflict(f"audit entries refused by CouchDB: {failed[:3]}")

    async def chain_entries(self) -> AsyncIterator[ChainedEntry]:
        since: Any = 0
        while True:
            # style=all_docs lists every leaf: more than one live leaf is a fork
            # (a new_edits=false branch pushed beside the entry).
            page = await self._audit.changes(
                since=since, include_docs=True, style="all_docs", limit=_PAGE
            )
            for row in page["results"]:
                doc = row.get("doc")
                if row.get("deleted") or not isinstance(doc, dict) or doc.get("kind") != "audit":
                    continue
                yield chained_entry(doc, forked=len(row.get("changes", [])) > 1)
            if len(page["results"]) < _PAGE:
                return
            since = page["last_seq"]

    async def read(
        self, *, db: str | None = None, since: int = 0, limit: int = 1000
    ) -> list[AuditEntry]:
        if db is not None:
            # One station's entries through the Mango index bootstrap makes
            # (AUDIT_INDEX), instead of scanning the whole district's log.
            query = {
                "selector": {"db": db, "seq": {"$gt": since}},
                "sort": [{"db": "asc"}, {"seq": "asc"}],
                "limit": limit,
            }
            with contextlib.suppress(BadRequest):  # no index yet: scan instead
                docs = await self._server.find(AUDIT_DB, query)
                return [audit_entry(d) for d in docs if d.get("kind") == "audit"]
        found: list[AuditEntry] = []
        startkey = f"{since + 1:016d}"
        while len(found) < limit:
            page = await self._audit.all_docs(
                startkey=startkey, endkey="9\ufff0", include_docs=True, limit=_PAGE
            )
            rows = page["rows"]
            for row in rows:
                doc = row.get("doc")
                if not isinstance(doc, dict) or doc.get("kind") != "audit":
                    continue  # the append-only design document
                if db is None or doc["db"] == db:
                    found.append(audit_entry(doc))
            if len(rows) < _PAGE:
                break
            startkey = rows[-1]["id"] + "\u0000"
        return found[:limit]

    async def audited(self, db: str, revs: Collection[DocRev]) -> set[DocRev]:
        wanted = set(revs)
        ids = sorted({doc_id for doc_id, _ in wanted})
        if not ids:
            return set()
        # One Mango query; `db` equality lets CouchDB use AUDIT_INDEX. Mango's
        # default limit is 25, so ask for every entry a doc of the batch has.
        query = {
            "selector": {"db": db, "doc_id": {"$in": ids}},
            "fields": ["doc_id", "rev"],
            "limit": _AUDITED_LIMIT,
        }
        docs = await self._server.find(AUDIT_DB, query)
        return {(d["doc_id"], d["rev"]) for d in docs} & wanted

    async def bodies(self, db: str, revs: Collection[DocRev]) -> dict[DocRev, Doc]:
        ids = sorted({doc_id for doc_id, _ in revs})
        if not ids:
            return {}
        query = {
            "selector": {"db": db, "doc_id": {"$in": ids}, "body": {"$exists": True}},
            "fields": ["doc_id", "rev", "body"],
            "limit": _AUDITED_LIMIT,
        }
        wanted = set(revs)
        return {
            key: d["body"]
            for d in await self._server.find(AUDIT_DB, query)
            if (key := (d["doc_id"], d["rev"])) in wanted
        }

    async def entries_of(self, db: str, revs: Collection[DocRev]) -> dict[DocRev, AuditEntry]:
        ids = sorted({doc_id for doc_id, _ in revs})
        if not ids:
            return {}
        query = {"selector": {"db": db, "doc_id": {"$in": ids}}, "limit": _AUDITED_LIMIT}
        wanted, found = set(revs), {}
        for doc in sorted(await self._server.find(AUDIT_DB, query), key=lambda d: d["seq"]):
            if (key := (doc["doc_id"], doc["rev"])) in wanted and key not in found:
                found[key] = audit_entry(doc)
        return found

    # -- settings --------------------------------------------------------------------------------

    async def get_setting(self, key: str, default: str | None = None) -> str | None:
        doc = await get_or_none(self._ids, f"setting:{key}")
        return str(doc["value"]) if doc else default

    async def set_setting(self, key: str, value: str) -> None:
        await update_doc(
            self._ids,
            f"setting:{key}",
            lambda d: {**d, "value": value},
            create={"kind": "setting"},
        )
