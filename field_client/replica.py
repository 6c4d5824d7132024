"""``FieldReplica``: the officer's encrypted replica of the station database.

One directory holds it: the SQLite database (every body and attachment sealed
by :class:`~sync.codec.AesGcmCodec`), the key file
(:mod:`field_client.keys`) and the settings file (:mod:`field_client.settings`).
Its ``db`` is a :class:`~sync.database.Database` like any other store, so it
replicates with another replica, the gateway over HTTP or a CouchDB; on top
the replica adds what an officer's device must do: validate before saving, sign every
revision, journal every edit, count what is not yet synced, and destroy its
keys when the district office revokes the device.

Every command but :meth:`FieldReplica.sync` works with no network.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

import schemas
from field_client import keys, refusals
from field_client.decisions import decided_among
from field_client.errors import (
    AlreadyInitialised,
    DeviceRevoked,
    NotEnrolled,
    Offline,
    SyncStopped,
)
from field_client.home import (
    remove_database_files,
    replica_paths,
    wipe_replica,
)
from field_client.records import (
    JOURNAL_PREFIX,
    RECORD_TYPES,
    Photo,
    new_record_id,
    now_stamp,
)
from field_client.remote import Enrolment, connect, enrol, is_revocation, pending_report
from field_client.reports import Conflicted, SaveReport, Status, SyncProgress, SyncReport
from field_client.settings import Settings, load_settings, save_settings
from field_client.signed_edit import signed_edit
from field_client.sync_tally import SyncTally
from field_client.syncing import Failed, two_way
from schemas.identity import is_slug
from sync import journal
from sync.database import Database, Doc
from sync.errors import BadRequest, Conflict, CouchError, NotFound, PeerUnreachable
from sync.files import private_dir
from sync.replication import RetryPolicy, is_transient
from sync.sqlite import SQLiteDatabase

__all__ = ["FIELD_RETRY", "UNASSIGNED", "FieldReplica"]

# Station and beat of a device made before enrolment tells them.
UNASSIGNED = "unassigned"
# An officer without a signal should hear so within seconds, not after the
# replicator's ten-minute default: three quick retries cover a blip.
FIELD_RETRY = RetryPolicy(base_delay=0.5, max_delay=4.0, max_retries=3)


@dataclass(frozen=True, slots=True)
class _Item:
    record: Mapping[str, Any]
    photos: Mapping[str, Photo]
    index: int


def _offline(cause: BaseException) -> Offline:
    """No link at all, or a server that answered with trouble: the officer acts differently."""
    if isinstance(cause, CouchError) and not isinstance(cause, PeerUnreachable):
        return Offline.server_trouble(cause.status, cause.reason)
    return Offline()


class FieldReplica:
    """An unlocked replica; make one with :meth:`create` or :meth:`open`, then ``close``."""

    def __init__(
        self, home: Path, settings: Settings, keyring: keys.Keyring, db: SQLiteDatabase
    ) -> None:
        self.home = home
        self._settings = settings
        self._keyring = keyring
        self.db = db
        self._write_lock = asyncio.Lock()
        self._last_entry: Doc | None = None
        self._last_entry_loaded = False

    # -- life cycle ------------------------------------------------------------

    @classmethod
    async def create(
        cls,
        home: Path,
        passphrase: str,
        *,
        officer_id: str,
        station_id: str,
        beat_id: str,
        role: str = "beat_officer",
        device_id: str | None = None,
        scrypt_n: int = keys.SCRYPT_N,
        signing_key: Ed25519PrivateKey | None = None,
    ) -> FieldReplica:
        """A new replica in ``home`` for an officer, not yet enrolled with any server
        (``signing_key``: the device key an enrolment made before it already registered)."""
        home = Path(home)
        db_path, key_path, settings_path = replica_paths(home)
        if key_path.exists() or settings_path.exists():
            raise AlreadyInitialised()
        settings = Settings(
            officer_id=officer_id,
            device_id=device_id or f"local-{uuid.uuid4().hex[:16]}",
            station_id=station_id,
            beat_id=beat_id,
            db_name=f"station-{station_id}",
            role=role,
        )
        _check_identity(settings)
        private_dir(home)
        remove_database_files(db_path)  # leftovers of a wiped replica hold nothing usable
        keyring = keys.create_keyfile(
            key_path, passphrase, scrypt_n=scrypt_n, signing_key=signing_key
        )
        save_settings(settings_path, settings)
        return await cls._opened(home, settings, keyring)

    @classmethod
    async def open(cls, home: Path, passphrase: str) -> FieldReplica:
        """Unlock the replica in ``home``: ``WrongPassphrase`` or ``NoReplica`` otherwise."""
        home = Path(home)
        _, key_path, settings_path = replica_paths(home)
        keyring = keys.unlock(key_path, passphrase)
        return await cls._opened(home, load_settings(settings_path), keyring)

    @classmethod
    async def _opened(cls, home: Path, settings: Settings, keyring: keys.Keyring) -> FieldReplica:
        private_dir(home)  # a folder an older version left 0755
        db = await SQLiteDatabase.open(
            replica_paths(home)[0], name=settings.db_name, codec=keyring.codec
        )
        return cls(home, settings, keyring, db)

    async def close(self) -> None:
        await self.db.close()

    async def __aenter__(self) -> FieldReplica:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def settings(self) -> Settings:
        return self._settings

    @property
    def public_key_b64(self) -> str:
        return self._keyring.public_key_b64

    def _save_settings(self, settings: Settings) -> None:
        save_settings(replica_paths(self.home)[2], settings)
        self._settings = settings

    async def enrol(self, server_url: str, *, password: str, device_name: str) -> None:
        """Register this device's key with the gateway and remember its token (sealed).

        Enrolling again (a new token after one expired) gives a new device id
        whose journal chain starts afresh; the old id's entries stay valid.
        """
        if self._settings.server_url is None and await self._has_journal():
            # Entries signed under the local device id would not verify at the centre.
            raise BadRequest("Enrol the device before recording anything on it.")
        answer = await enrol(
            server_url,
            officer_id=self._settings.officer_id,
            password=password,
            device_name=device_name,
            public_key=self.public_key_b64,
        )
        self.adopt(server_url, answer)

    def adopt(self, server_url: str, answer: Enrolment) -> None:
        """Remember an enrolment of this device's key (made by :meth:`enrol`, or by
        ``init`` before the replica existed, to check the password first)."""
        if answer.public_key != self.public_key_b64:
            raise BadRequest("That enrolment is of another device's key.")
        enrolled = self._settings.server_url is not None
        settings = self._settings.replace(
            server_url=server_url.rstrip("/"),
            server_uuid=answer.server_uuid,
            device_id=answer.device_id,
            officer_id=answer.officer_id,
            station_id=answer.station_id,
            # A station officer's device records for the beat chosen at init.
            beat_id=answer.beat_id or self._settings.beat_id,
            role=answer.role,
            db_name=answer.db,
            sealed_token=self._keyring.seal_secret("token", answer.token),
        )
        if settings.beat_id == UNASSIGNED:
            raise BadRequest("Your account has no beat: give the beat this device records for.")
        if enrolled and settings.station_id != self._settings.station_id:
            raise BadRequest(
                f"This device holds station {self._settings.station_id}'s records;"
                f" wipe it before enrolling it for station {settings.station_id}."
            )
        _check_identity(settings)
        self._save_settings(settings)
        self._last_entry, self._last_entry_loaded = None, False  # the new id's chain

    # -- records ---------------------------------------------------------------

    async def save_record(
        self, record: Mapping[str, Any], *, photos: Mapping[str, Photo] | None = None
    ) -> tuple[str, str]:
        """Validate, sign and store a record revision with its journal entry: ``(id, rev)``.

        A record without ``_id`` is new and gets its id here, once. One with
        ``_rev`` is an edit of that revision, which must be a current leaf
        (``Conflict`` otherwise, as CouchDB). Invalid records raise
        ``schemas.RecordInvalid`` naming each field; nothing is stored then.
        ``photos`` (``{name: (content_type, bytes)}``, verification visits)
        become attachments, sealed like the body, and are listed in ``photos``.
        """
        outcome = await self._save([_Item(record, photos or {}, 0)])
        for _, error in outcome.refused:
            raise error
        [(_, doc_id, rev)] = outcome.saved
        return doc_id, rev

    async def save_records(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        batch_size: int = 500,
        skip_existing: bool = False,
        dry_run: bool = False,
        on_progress: Callable[[int], None] | None = None,
    ) -> SaveReport:
        """:meth:`save_record` for many (an import), ``batch_size`` at a time.

        Each batch's records and their journal entries go in ONE ``bulk_docs``
        transaction. An invalid record does not stop the others: it is listed
        in ``SaveReport.refused`` (by its position in ``records``) with every
        field and reason, and nothing of it is stored. With ``skip_existing``
        a record whose ``_id`` is already in the replica (or earlier in
        ``records``) is not written again but listed in ``existing``: that is
        what makes an import safe to re-run. ``dry_run`` checks everything
        and writes nothing. ``on_progress(done)`` follows each batch. Any
        other error (a ``Conflict`` without ``skip_existing``, a store
        failure) stops at its batch: the batches before it are stored.
        """
        if batch_size < 1:
            raise BadRequest("batch_size must be at least 1")
        report = SaveReport()
        seen: set[str] | None = set() if skip_existing else None
        batch: list[_Item] = []
        for index, record in enumerate(records):
            batch.append(_Item(record, {}, index))
            if len(batch) == batch_size:
                report.add(await self._save(batch, skip_seen=seen, write=not dry_run))
                batch = []
                if on_progress is not None:
                    on_progress(index + 1)
        if batch:
            report.add(await self._save(batch, skip_seen=seen, write=not dry_run))
            if on_progress is not None:
                on_progress(batch[-1].index + 1)
        return report

    async def _existing(self, ids: Sequence[str]) -> set[str]:
        """Which of ``ids`` the replica holds, deleted ones included (never resurrected)."""
        if not ids:
            return set()
        rows = (await self.db.all_docs(keys=list(ids)))["rows"]
        return {row["id"] for row in rows if "value" in row}

    async def _unseen(
        self, items: Sequence[_Item], seen: set[str], outcome: SaveReport
    ) -> list[_Item]:
        """``items`` whose id is neither in ``seen`` nor in the replica; the rest go
        to ``outcome.existing``. Their ids join ``seen`` (a repeat later is skipped)."""
        ids = [item.record.get("_id") for item in items]
        existing = await self._existing([i for i in ids if isinstance(i, str) and i not in seen])
        fresh = []
        for item, doc_id in zip(items, ids, strict=True):
            if isinstance(doc_id, str) and (doc_id in existing or doc_id in seen):
                outcome.existing.append((item.index, doc_id))
                continue
            fresh.append(item)
            if isinstance(doc_id, str):
                seen.add(doc_id)
        return fresh

    async def _save(
        self,
        items: Sequence[_Item],
        *,
        skip_seen: set[str] | None = None,
        write: bool = True,
    ) -> SaveReport:
        """Edits and journal entries of ``items`` in one transaction; invalid ones refused.

        With ``skip_seen`` (ids saved by earlier batches), an item whose id is
        in it or already in the replica is skipped, not edited; the ids saved
        now are added to it.
        """
        async with self._write_lock:
            outcome = SaveReport()
            known_absent = skip_seen is not None
            if skip_seen is not None:
                items = await self._unseen(items, skip_seen, outcome)
            at = now_stamp()
            prev = await self._previous_entry()
            docs: list[Doc] = []
            seen: set[str] = set()
            for item in items:
                record = item.record
                doc_id = record.get("_id") or new_record_id()
                if not isinstance(doc_id, str) or doc_id.startswith("_") or doc_id in seen:
                    raise BadRequest(
                        "A record id is a string that does not start with '_', once per batch."
                    )
                seen.add(doc_id)
                # A new id made here, or one just checked under this lock, exists nowhere yet.
                absent = "_rev" not in record and ("_id" not in record or known_absent)
                try:
                    signed, entry = await self._edit(
                        doc_id, record, item.photos, prev, at, absent=absent
                    )
                except schemas.RecordInvalid as exc:
                    outcome.refused.append((item.index, exc))
                    continue
                docs += [signed, entry]
                outcome.saved.append((item.index, doc_id, signed["_rev"]))
                prev = entry
            if not write or not docs:
                return outcome
            # new_edits=false writes exactly these revs and never refuses a doc
            # for a conflict, so records and journal entries are all-or-nothing
            # (one transaction); parents were checked to be leaves, under the lock.
            failures = await self.db.bulk_docs(docs, new_edits=False)
            if failures:
                raise CouchError(f"Nothing was stored: {failures[0].get('reason')}")
            self._last_entry = prev
            return outcome

    async def _edit(
        self,
        doc_id: str,
        record: Mapping[str, Any],
        photos: Mapping[str, Photo],
        prev: Doc | None,
        at: str,
        *,
        absent: bool,
    ) -> tuple[Doc, Doc]:
        """The signed record revision and its signed journal entry, ready to write.

        ``absent``: the id is known to be new, so there is nothing to look up.
        """
        old = None if absent else await self._leaf(doc_id, record.get("_rev"))
        return signed_edit(
            doc_id,
            record,
            old,
            photos,
            prev,
            at,
            settings=self._settings,
            signing_key=self._keyring.signing_key,
        )

    async def _leaf(self, doc_id: str, parent: Any) -> Doc | None:
        """The body being edited (``None`` for a new record), after checking ``parent``."""
        try:
            leaves: list[Doc] = [
                row["ok"] for row in await self.db.open_revs(doc_id, "all") if "ok" in row
            ]
        except NotFound:
            leaves = []
        live = [leaf for leaf in leaves if not leaf.get("_deleted")]
        if parent is None:
            if live:
                raise Conflict("This record already exists; edit it with its current revision.")
            return None
        for leaf in live:
            if leaf["_rev"] == parent:
                return leaf
        raise Conflict(
            "This record changed since you opened it (or the revision is unknown);"
            " show it again and redo the edit."
        )

    async def _previous_entry(self) -> Doc | None:
        if not self._last_entry_loaded:
            rows = await self._journal_rows(self._settings.device_id)
            self._last_entry = await self.db.get(rows[-1]["id"]) if rows else None
            self._last_entry_loaded = True
        return self._last_entry

    async def _journal_rows(self, device_id: str | None = None) -> list[Doc]:
        prefix = JOURNAL_PREFIX if device_id is None else journal.entry_id(device_id, 0)[:-10]
        result = await self.db.all_docs(startkey=prefix, endkey=prefix + "\ufff0")
        return list(result["rows"])

    async def _has_journal(self) -> bool:
        return bool(await self._journal_rows())

    async def get_record(self, record_id: str) -> Doc:
        """The current revision, with ``_conflicts`` when other devices edited it too."""
        doc = await self.db.get(record_id, conflicts=True)
        if doc.get("type") not in RECORD_TYPES:
            raise NotFound("missing")
        return doc

    async def list_records(self, record_type: str | None = None) -> list[Doc]:
        """Records of ``record_type`` (every type when ``None``), oldest first."""
        result = await self.db.all_docs(include_docs=True)
        docs = [
            row["doc"]
            for row in result["rows"]
            if isinstance(row.get("doc"), dict)
            and row["doc"].get("type") in RECORD_TYPES
            and (record_type is None or row["doc"]["type"] == record_type)
        ]
        return sorted(docs, key=lambda d: (str(d.get("created_at")), d["_id"]))

    async def journal(self) -> list[Doc]:
        """Every journal entry this replica holds (all devices), by device then seq."""
        result = await self.db.all_docs(
            startkey=JOURNAL_PREFIX, endkey=JOURNAL_PREFIX + "\ufff0", include_docs=True
        )
        return [row["doc"] for row in result["rows"] if isinstance(row.get("doc"), dict)]

    # -- status and sync -------------------------------------------------------

    async def _pending(self) -> list[str]:
        """Ids of the records changed here since the last point known to be on the
        server (journal entries left out: each travels with its record)."""
        pending = await self.db.changes(since=self._settings.synced_seq)
        return [row["id"] for row in pending["results"] if not journal.is_entry_id(row["id"])]

    async def _scan(self) -> tuple[dict[str, int], list[Conflicted]]:
        """Records per type, and the records in conflict (one pass over every record)."""
        everything = await self.db.changes(include_docs=True, conflicts=True)
        counts = dict.fromkeys(RECORD_TYPES, 0)
        conflicts = []
        for row in everything["results"]:
            doc = row.get("doc") or {}
            if doc.get("type") in counts and not row.get("deleted"):
                counts[doc["type"]] += 1
            if doc.get("_conflicts"):
                conflicts.append(
                    Conflicted(doc["_id"], doc.get("type"), doc["_rev"], tuple(doc["_conflicts"]))
                )
        return counts, conflicts

    async def conflicts(self) -> list[Conflicted]:
        """The records edited on two devices whose conflict is not decided yet."""
        return (await self._scan())[1]

    async def status(self) -> Status:
        s = self._settings
        pending = await self.db.changes(since=s.synced_seq)
        journal_rows = sum(1 for row in pending["results"] if journal.is_entry_id(row["id"]))
        counts, conflicts = await self._scan()
        return Status(
            officer_id=s.officer_id,
            device_id=s.device_id,
            station_id=s.station_id,
            beat_id=s.beat_id,
            server_url=s.server_url,
            records=counts,
            pending_records=len(pending["results"]) - journal_rows,
            pending_journal=journal_rows,
            last_sync_at=s.last_sync_at,
            conflicts=tuple(conflicts),
            refused=await refusals.recall(self.db),
        )

    def remote(self, *, report: Mapping[str, str] | None = None) -> Database:
        """The station database on the enrolled gateway (opens no connection yet);
        ``report`` goes with every request (:func:`field_client.remote.pending_report`)."""
        s = self._settings
        if not s.server_url or not s.sealed_token:
            raise NotEnrolled()
        token = self._keyring.open_secret("token", s.sealed_token)
        return connect(s.server_url, s.db_name, token, report=report)

    async def sync(
        self,
        remote: Database | None = None,
        *,
        on_progress: Callable[[SyncProgress], None] | None = None,
        retry: RetryPolicy = FIELD_RETRY,
    ) -> SyncReport:
        """Push and pull with ``remote`` (default: the enrolled gateway), in one
        sync session when the server offers it (:mod:`field_client.syncing`).

        No network: ``Offline``, nothing lost. The gateway says this device is
        revoked: the replica wipes itself and raises ``DeviceRevoked``.
        ``on_progress`` follows both directions in records. A sync cut short
        still moves what it sent out of ``status``'s waiting count.
        """
        own = remote is None
        waiting = await self._pending()
        # The gateway hears what this device still has to push: the records
        # changed since the last sync, less those sent as the push goes (the
        # office's "has this device uploaded everything?").
        report = pending_report(len(waiting)) if own else None
        target = self.remote(report=report) if remote is None else remote
        start_seq = (await self.db.info())["update_seq"]
        tally = SyncTally(len(waiting), start_seq, on_progress, report)
        try:
            done = await two_way(
                self.db,
                target,
                retry=retry,
                on_progress=tally.update,
                known_session=own and self._settings.server_session,
            )
        except Failed as stopped:
            failure = stopped.failure
            if is_revocation(failure):
                await self.wipe()
                raise DeviceRevoked() from None
            await self._advance(tally)
            if failure.cause is not None and is_transient(failure.cause):
                raise _offline(failure.cause) from failure
            raise SyncStopped.of(failure, server=stopped.server) from failure
        except BaseException:
            await self._advance(tally)
            raise
        finally:
            if own:
                await target.close()
        tally.pushed_all = not done.pushed_refused
        await self._advance(tally)
        at = now_stamp()
        refused = (*done.pushed_refused, *done.pulled_refused)
        await refusals.remember(self.db, refused, at)
        settings = self._settings.replace(server_session=done.session) if own else self._settings
        if not done.pushed_refused:
            settings = settings.replace(last_sync_at=at)
        if settings != self._settings:
            self._save_settings(settings)
        return SyncReport(
            pushed=tally.sent,
            pulled=tally.received,
            refused=refused,
            at=at,
            decided=await decided_among(self.db, tally.pulled_ids),
        )

    async def _advance(self, tally: SyncTally) -> None:
        """Move ``synced_seq`` past what is now on the server (:meth:`SyncTally.synced_seq`)."""
        seq = await tally.synced_seq(self.db, self._settings.synced_seq)
        if seq != self._settings.synced_seq:
            self._save_settings(self._settings.replace(synced_seq=seq))

    async def wipe(self) -> None:
        """Close and crypto-shred this replica (see :func:`wipe_replica`)."""
        await self.close()
        wipe_replica(self.home)


def _check_identity(settings: Settings) -> None:
    for name in ("station_id", "beat_id"):
        value = getattr(settings, name)
        if not is_slug(value):
            raise BadRequest(
                f"{name} must be a short id of lowercase letters, digits and dashes, "
                "starting with a letter"
            )
