"""The gateway's merge loop: follow each station database's changes, merge what
the domain allows, queue the rest for the office.

A changes row (``style=all_docs``) lists every leaf of its document; one with
two or more is a candidate. Its live leaves go through
:func:`schemas.merge.merge_leaves`; a mergeable result that the schema
accepts is written, together with the tombstones of the losing leaves, in
the page's ONE ``_bulk_docs?new_edits=false`` (a transaction on the
embedded store), audited as :data:`MERGE_AUTHOR`. The rest is queued.

Where it got to is kept per station database in ``_local/beatsync-merge``
(never replicated), so a restart resumes there; every write it makes is a
deterministic revision, so two gateways following the same database write
the same revisions and a replayed page writes nothing new.

A station hub runs the same runner on its own station database, with
``relayed`` (:data:`Relayed`) set. It has no office queue: what it cannot
merge stays a conflict, which the district queues once the hub relays it.
And it merges only what the district will merge alike: a record whose every
leaf the district already holds (else the devices' signed edits would reach
the district only as ancestors of the merge, their bodies lost there), and
whose common ancestor's body the hub knows (the district merges with it; a
merge without it could differ). So the hub's merge and the district's are
the same revisions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Final

import schemas
from schemas.merge import MergeResult, merge_leaves
from server.conflicts.leaves import Conflicted, read_conflicted, replacement_docs
from server.conflicts.views import MergeReport, MergeStats
from server.policy.parents import archived_body
from server.state.conflict_queue import QueuedConflict
from server.state.interface import GatewayState
from server.state.models import NewAuditEntry, station_db_name
from server.state.stations import StationDatabases
from server.state.timestamps import utc_now
from sync.database import Database, Doc, Seq
from sync.errors import Conflict, CouchError, NotFound
from sync.replication.stopping import Stopped, until_stopped

__all__ = [
    "CHECKPOINT_ID",
    "MERGE_AUTHOR",
    "MergeRunner",
    "QueueListener",
    "Relayed",
    "close_if_settled",
    "tell_listeners",
]

log = logging.getLogger("beatsync.merge")

# The audit log's officer for merges: no person made them, and no officer can
# bear this name (officer ids are slugs, which have no ':').
MERGE_AUTHOR: Final = "beatsync:merge"
CHECKPOINT_ID: Final = "_local/beatsync-merge"
# Changes rows read per page: one open_revs per conflicted row, one
# _bulk_docs and one audit append per page.
PAGE: Final = 500
# How long one long-poll waits for a change before asking again.
LONGPOLL_S: Final = 30.0
# How often the loop looks for stations added while it runs.
STATIONS_EVERY_S: Final = 60.0
# A failing station database is retried after this long (CouchDB down, say).
RETRY_S: Final = 5.0

# Told of each conflict the runner queues (newly, or with other leaves than
# before; the entry ``open``) and of each the office's desk resolves (the
# entry ``resolved``, with the body the resolution wrote as the third
# argument, ``None`` when queued): the portal tells both citizens of a double
# booking when it is queued and when it is decided. Called after the entry
# is stored, so a restart that finds the entry as it stands, or a resolution
# tried again on an entry already closed, calls nobody again.
QueueListener = Callable[[QueuedConflict, Conflicted, Doc | None], Awaitable[None]]

# A station hub's question to the district: of these records ({id: leaf
# revs}), which has the district every leaf of? (An empty set when it cannot
# be asked: offline, nothing is merged at the hub, and all waits.)
Relayed = Callable[[Mapping[str, Sequence[str]]], Awaitable[set[str]]]


class MergeRunner:
    def __init__(
        self,
        state: GatewayState,
        stores: StationDatabases,
        stats: MergeStats | None = None,
        listeners: Sequence[QueueListener] = (),
        *,
        relayed: Relayed | None = None,
    ) -> None:
        self._state = state
        self._stores = stores
        self.stats = stats if stats is not None else MergeStats()
        self._listeners = listeners
        self._relayed = relayed  # set at a station hub (see the module docstring)

    async def merge_station(self, station_id: str) -> MergeReport:
        """Follow the station's changes from the checkpoint to the end, once."""
        store = await self._stores.get(station_id)
        report = MergeReport(station_id)
        checkpoint = await _read_checkpoint(store)
        since: Seq = checkpoint.get("seq", 0)
        while True:
            page = await store.changes(since=since, style="all_docs", limit=PAGE)
            await self._merge_page(station_id, store, page["results"], report)
            if report.deferred:
                # A hub's record not yet at the district: this page is read
                # again next pass (what it merged then writes nothing new).
                return report
            if page["last_seq"] != since:
                since = page["last_seq"]
                checkpoint = await _write_checkpoint(store, checkpoint, since)
            if len(page["results"]) < PAGE:
                return report

    async def _merge_page(
        self, station_id: str, store: Database, rows: Sequence[Doc], report: MergeReport
    ) -> None:
        db = station_db_name(station_id)
        report.checked += len(rows)
        candidates = {
            row["id"]: [change["rev"] for change in row["changes"]]
            for row in rows
            if len(row.get("changes", ())) > 1 and not str(row["id"]).startswith("_design/")
        }
        if candidates and self._relayed is not None:
            ready = await self._relayed(candidates)
            report.deferred += sorted(set(candidates) - ready)
            candidates = {doc_id: revs for doc_id, revs in candidates.items() if doc_id in ready}
        if not candidates:
            return
        conflicted = await read_conflicted(store, self._state, db, candidates)
        hub = self._relayed is not None
        queued = {} if hub else await self._state.open_conflicts(station_id, list(candidates))
        writes: list[Doc] = []
        audit: list[NewAuditEntry] = []
        for record in conflicted:
            if hub and record.base is None:
                report.left.append(record.doc_id)  # the district merges it, with the base
                continue
            result = merge_leaves(record.leaves, record.base)
            fields = result.unmergeable or _schema_problems(record.doc_id, result)
            if fields and hub:
                report.left.append(record.doc_id)  # the district queues it
                continue
            if fields:
                if await self._queue(station_id, record, fields, queued.get(record.doc_id)):
                    report.queued.append(record.doc_id)
                continue
            docs = replacement_docs(record.doc_id, result.parent, result.body, record.leaves)
            writes += docs
            audit += [_audit_entry(db, doc, record) for doc in docs]
            report.merged.append(record.doc_id)
        if writes:
            # Audited first: stopped in between, the next pass finds the same
            # conflict, writes the same revisions and audits them again (the
            # log then names a rev twice), whereas a stored merge left
            # unaudited would be invisible to the next pass.
            await self._state.append(audit)
            failed = await store.bulk_docs(writes, new_edits=False)
            if failed:
                raise Conflict(f"merge revisions refused by the store: {failed[:3]}")
        # Queued records no longer in conflict: merged here, or resolved by a
        # device or another gateway.
        still = {record.doc_id for record in conflicted} - set(report.merged)
        for doc_id, entry in queued.items():
            if doc_id not in still:
                await self._state.close_conflict(entry.closed("superseded", utc_now()))
        self.stats.merged += len({doc["_id"] for doc in writes})

    async def _queue(
        self,
        station_id: str,
        record: Conflicted,
        fields: tuple[str, ...],
        existing: QueuedConflict | None,
    ) -> bool:
        entry = QueuedConflict(
            station_id=station_id,
            doc_id=record.doc_id,
            record_type=_record_type(record),
            leaves=record.revs,
            fields=fields,
            queued_at=utc_now(),
        )
        if existing is not None and (existing.leaves, existing.fields) == (entry.leaves, fields):
            return False  # queued already, as it stands
        changed = await self._state.queue_conflict(entry)
        if changed:
            self.stats.queued += 1
            await tell_listeners(self._listeners, entry, record)
        return changed

    async def run(self, stop: asyncio.Event) -> None:
        """Follow every station until ``stop`` is set (the gateway's background task)."""
        tasks: dict[str, asyncio.Task[None]] = {}
        try:
            while not stop.is_set():
                for station in await self._state.list_stations():
                    if station.id not in tasks or tasks[station.id].done():
                        tasks[station.id] = asyncio.create_task(self.follow(station.id, stop))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), STATIONS_EVERY_S)
        finally:
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)

    async def follow(self, station_id: str, stop: asyncio.Event) -> None:
        """Merge one station as its changes come, until ``stop`` (a hub's job)."""
        while not stop.is_set():
            try:
                report = await self.merge_station(station_id)
                if report.deferred:
                    # Waiting for the relay: ask again after a while, not at once.
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), RETRY_S)
                    continue
                store = await self._stores.get(station_id)
                since = (await _read_checkpoint(store)).get("seq", 0)
                # Wait for the next change (or the timeout, or stop: a hub shuts
                # its jobs down by `stop` alone), then merge from the checkpoint.
                await until_stopped(
                    store.changes(since=since, feed="longpoll", timeout=LONGPOLL_S, limit=1), stop
                )
            except Stopped:
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Whatever failed (CouchDB down, a record the rules choke on),
                # the other stations go on merging and this one tries again.
                log.warning(
                    "merge pass failed",
                    exc_info=not isinstance(exc, CouchError | OSError),
                    extra={"fields": {"station": station_id, "error": str(exc)[:200]}},
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), RETRY_S)


async def tell_listeners(
    listeners: Sequence[QueueListener],
    entry: QueuedConflict,
    record: Conflicted,
    resolved: Doc | None = None,
) -> None:
    """Tell every listener of ``entry`` (queued, or resolved into ``resolved``)."""
    for listener in listeners:
        try:
            await listener(entry, record, resolved)
        except Exception as exc:
            # A listener's failure (the outbox's disk) must not stop merging,
            # nor turn a resolution already written into an error page.
            log.warning(
                "conflict listener failed",
                exc_info=True,
                extra={"fields": {"doc": record.doc_id, "error": str(exc)[:200]}},
            )


async def close_if_settled(state: GatewayState, station_id: str, doc_id: str) -> None:
    """The record's open queue entry, if any, closed as superseded: it is no
    longer in conflict (merged here, or resolved by a device or another gateway)."""
    entry = await state.open_conflict(station_id, doc_id)
    if entry is not None:
        await state.close_conflict(entry.closed("superseded", utc_now()))


def _record_type(record: Conflicted) -> str | None:
    types = {leaf.body.get("type") for leaf in record.leaves}
    value = types.pop() if len(types) == 1 else None
    return value if isinstance(value, str) else None


def _schema_problems(doc_id: str, result: MergeResult) -> tuple[str, ...]:
    """Where the merged body breaks the schema (e.g. converted_to_fir from one
    leaf without the FIR number of another): such a merge is queued instead."""
    try:
        schemas.validate({**result.body, "_id": doc_id})
    except schemas.RecordInvalid as exc:
        return tuple(sorted({error.path or "record" for error in exc.errors}))
    return ()


def _audit_entry(db: str, doc: Doc, record: Conflicted) -> NewAuditEntry:
    return NewAuditEntry(
        db=db,
        doc_id=doc["_id"],
        rev=doc["_rev"],
        officer_id=MERGE_AUTHOR,
        device_id=None,
        record_type=_record_type(record),
        deleted=bool(doc.get("_deleted")),
        signed="unsigned",
        body=archived_body(doc, doc["_rev"]),
    )


async def _read_checkpoint(store: Database) -> Doc:
    try:
        return await store.get_local(CHECKPOINT_ID)
    except NotFound:
        return {"_id": CHECKPOINT_ID}


async def _write_checkpoint(store: Database, checkpoint: Doc, seq: Any) -> Doc:
    try:
        answer = await store.put_local({**checkpoint, "seq": seq})
    except Conflict:
        # Another gateway moved it: start from whichever is theirs next time;
        # merging again what they merged writes nothing new (same revisions).
        return await _read_checkpoint(store)
    return {**checkpoint, "seq": seq, "_rev": answer["rev"]}
