"""The office's conflict desk: list, show and resolve what the merge queued.

The API is described in :mod:`server.conflicts`; handlers (the office web
app) parse, call one of these methods with the caller's principal, and
render. Everything a caller may not see is ``Forbidden`` before anything
is read; bad choices are ``BadRequest`` before anything is written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Final

from schemas.identity import Role
from schemas.immutable import IMMUTABLE_FIELDS
from schemas.merge import (
    CONFLICT_RESOLVED,
    RULES,
    Leaf,
    MergeResult,
    differing,
    merge_leaves,
    with_choices,
)
from server.conflicts.leaves import (
    Conflicted,
    leaf_revs_of,
    read_conflicted,
    replacement_docs,
)
from server.conflicts.runner import QueueListener, close_if_settled, tell_listeners
from server.conflicts.views import (
    ConflictCounts,
    ConflictPage,
    ConflictView,
    FieldDiff,
    LeafView,
    MergeStats,
    Resolution,
)
from server.policy.access import DbScope, require_role, resolve_scope
from server.policy.writes import WriteDeps, raise_for_result, write_docs
from server.state.conflict_queue import ConflictStatus, QueuedConflict
from server.state.interface import GatewayState
from server.state.models import Principal, station_db_name
from server.state.stations import StationDatabases
from server.state.timestamps import utc_now
from sync.database import Doc
from sync.errors import BadRequest, Conflict, Forbidden, NotFound

__all__ = ["MAX_PAGE", "MAX_REASON", "RESOLVED_ACTION", "ConflictDesk"]

MAX_PAGE: Final = 200
# The reason goes into the record's log as a note (long_text allows 20,000);
# a paragraph is what an officer writes, and what a slow link carries back.
MAX_REASON: Final = 2000
RESOLVED_ACTION: Final = CONFLICT_RESOLVED  # one word for the desk and the devices
_STATUSES: Final[Mapping[str, ConflictStatus]] = {
    "open": "open",
    "resolved": "resolved",
    "superseded": "superseded",
}
_DESK_ROLES: Final = (Role.CENTRAL_OFFICE, Role.STATION_OFFICER)


def _now_local() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class ConflictDesk:
    def __init__(
        self,
        state: GatewayState,
        stores: StationDatabases,
        stats: MergeStats | None = None,
        listeners: Sequence[QueueListener] = (),
        *,
        clock: Callable[[], str] = _now_local,
    ) -> None:
        self._state = state
        self._stores = stores
        # The merge runner's listeners: told of a resolution as of a queueing.
        self._listeners = listeners
        self.stats = stats if stats is not None else MergeStats()
        self._clock = clock

    # -- who sees what -------------------------------------------------------------

    def _stations_of(self, principal: Principal | None, station_id: str | None) -> str | None:
        """The station filter the caller may use: an SHO's own, always."""
        who = require_role(principal, *_DESK_ROLES)
        if who.role is Role.CENTRAL_OFFICE:
            return station_id
        if station_id is not None and station_id != who.officer.station_id:
            raise Forbidden("You may only see your own station's conflicts.")
        return who.officer.station_id

    async def _scope(self, principal: Principal | None, station_id: str) -> DbScope:
        require_role(principal, *_DESK_ROLES)
        return await resolve_scope(principal, station_db_name(station_id), self._state)

    # -- the API -------------------------------------------------------------------

    async def list(
        self,
        principal: Principal | None,
        *,
        station_id: str | None = None,
        status: str = "open",
        limit: int = 50,
        after: str | None = None,
    ) -> ConflictPage:
        station = self._stations_of(principal, station_id)
        checked = _STATUSES.get(status)
        if checked is None:
            raise BadRequest(f"status must be one of {', '.join(_STATUSES)}")
        if not 1 <= limit <= MAX_PAGE:
            raise BadRequest(f"limit must be between 1 and {MAX_PAGE}")
        try:
            items = await self._state.list_conflicts(
                status=checked, station_id=station, after=after, limit=limit + 1
            )
        except ValueError as exc:
            raise BadRequest(str(exc)) from None
        more = len(items) > limit
        items = items[:limit]
        return ConflictPage(items, items[-1].key if more else None)

    async def get(self, principal: Principal | None, station_id: str, doc_id: str) -> ConflictView:
        scope = await self._scope(principal, station_id)
        entry, record = await self._open(scope, station_id, doc_id)
        result = merge_leaves(record.leaves, record.base)
        audit = await self._state.entries_of(scope.db_name, {(doc_id, r) for r in record.revs})
        leaves = []
        for leaf in record.leaves:
            who = audit.get((doc_id, leaf.rev))
            leaves.append(
                LeafView(
                    rev=leaf.rev,
                    body=dict(leaf.body),
                    winner=leaf.rev == result.parent,
                    officer_id=who.officer_id if who else None,
                    device_id=who.device_id if who else None,
                    at=who.at if who else None,
                    signed=who.signed if who else None,
                    signer=who.signer if who else None,
                    edited_by=_text(leaf.body.get("updated_by")),
                    edited_at=_text(leaf.body.get("updated_at")),
                )
            )
        return ConflictView(entry, leaves, _diffs(record.leaves, result), result.body)

    async def resolve(
        self,
        principal: Principal | None,
        station_id: str,
        doc_id: str,
        *,
        reason: str,
        choose: str | None = None,
        fields: Mapping[str, str] | None = None,
        expect_leaves: Sequence[str] | None = None,
    ) -> Resolution:
        scope = await self._scope(principal, station_id)
        note = reason.strip() if isinstance(reason, str) else ""
        if not note:
            raise BadRequest("A resolution needs a reason: say why this version is right.")
        if len(note) > MAX_REASON:
            raise BadRequest(f"The reason is longer than {MAX_REASON} characters.")
        entry, record = await self._open(scope, station_id, doc_id)
        if expect_leaves is not None and sorted(expect_leaves) != list(record.revs):
            raise Conflict("The record changed since you opened it; look at it again.")
        result = merge_leaves(record.leaves, record.base)
        choices = _choices(record, result, choose, fields or {})
        body, parent = self._resolved_body(scope, record, result, choices, note)
        docs = replacement_docs(doc_id, parent, body, record.leaves)
        judged = {(doc_id, docs[0]["_rev"]): _joined_parent(record, parent, result)}
        deps = WriteDeps(identities=self._state, audit=self._state, refuse_unsigned=False)
        # refuse_unsigned=False: the district refuses unsigned writes from
        # clients that could sign (devices, stock CouchDB clients); the desk is
        # the gateway's own code acting for an officer it authenticated.
        for failure in await write_docs(
            scope,
            await self._stores.get(station_id),
            deps,
            docs,
            new_edits=False,
            judged_against=judged,
        ):
            raise_for_result(failure)
        officer = scope.principal.officer.id
        closed = entry.closed("resolved", utc_now(), by=officer, reason=note, rev=docs[0]["_rev"])
        # Told after the entry is closed, by the one call that closed it: a
        # resolution tried again finds it closed (NotFound above), and of two
        # at once (a double click) the second tells nobody.
        if await self._state.close_conflict(closed):
            self.stats.resolved += 1
            await tell_listeners(self._listeners, closed, record, docs[0])
        return Resolution(doc_id, docs[0]["_rev"], tuple(d["_rev"] for d in docs[1:]))

    async def counts(self, station_id: str | None = None) -> ConflictCounts:
        return ConflictCounts(
            open=await self._state.count_conflicts(station_id=station_id),
            merged=self.stats.merged,
            queued=self.stats.queued,
            resolved=self.stats.resolved,
        )

    # -- helpers -------------------------------------------------------------------

    async def _open(
        self, scope: DbScope, station_id: str, doc_id: str
    ) -> tuple[QueuedConflict, Conflicted]:
        entry = await self._state.open_conflict(station_id, doc_id)
        if entry is None:
            raise NotFound(f"{doc_id} is not in the conflict queue of {station_id}.")
        store = await self._stores.get(station_id)
        found = await read_conflicted(
            store, self._state, scope.db_name, await leaf_revs_of(store, doc_id)
        )
        if not found:
            await close_if_settled(self._state, station_id, doc_id)
            raise Conflict(f"{doc_id} is no longer in conflict: someone resolved it already.")
        return entry, found[0]

    def _resolved_body(
        self,
        scope: DbScope,
        record: Conflicted,
        result: MergeResult,
        choices: Mapping[str, str],
        note: str,
    ) -> tuple[dict[str, Any], str]:
        body = with_choices(result.body, record.leaves, choices, keep=_unions(record).__contains__)
        parent = _parent_of(result, choices)
        if parent != result.parent:
            chosen = next(leaf for leaf in record.leaves if leaf.rev == parent)
            body.pop("_attachments", None)
            if "_attachments" in chosen.body:
                body["_attachments"] = chosen.body["_attachments"]
        now, officer = self._clock(), scope.principal.officer.id
        body.update(updated_at=now, updated_by=officer)
        if isinstance(body.get("action_log"), list):
            body["action_log"] = [
                *body["action_log"],
                {"at": now, "by": officer, "action": RESOLVED_ACTION, "note": note},
            ]
        return body, parent


def _parent_of(result: MergeResult, choices: Mapping[str, str]) -> str:
    """The leaf the resolution goes on. Attachments cannot be carried to
    another branch as stubs, and who made a record and when
    (:data:`schemas.immutable.IMMUTABLE_FIELDS`) no revision may change: so
    the resolution extends the leaf they were chosen from (a double booking
    given to the booking that lost CouchDB's pick, say)."""
    anchors = {choices[name] for name in ("_attachments", *IMMUTABLE_FIELDS) if name in choices}
    if len(anchors) > 1:
        raise BadRequest(
            "Choose the photos and who made the record, and when, from the same version."
        )
    return anchors.pop() if anchors else result.parent


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _diffs(leaves: Sequence[Leaf], result: MergeResult) -> list[FieldDiff]:
    undecided = set(result.unmergeable)
    diffs = [
        FieldDiff(path, values, path not in undecided) for path, values in differing(leaves).items()
    ]
    if "_attachments" in undecided:
        diffs.append(
            FieldDiff(
                "_attachments",
                {leaf.rev: leaf.body.get("_attachments") for leaf in leaves},
                False,
            )
        )
    return diffs


def _choices(
    record: Conflicted, result: MergeResult, choose: str | None, fields: Mapping[str, str]
) -> dict[str, str]:
    revs = set(record.revs)
    paths = set(differing(record.leaves)) | ({"_attachments"} & set(result.unmergeable))
    if choose is not None and choose not in revs:
        raise BadRequest(f"{choose!r} is not one of the versions: {', '.join(sorted(revs))}")
    choices = dict.fromkeys(sorted(paths), choose) if choose is not None else {}
    for path, rev in fields.items():
        if path not in paths:
            raise BadRequest(f"{path!r} is not a field the versions differ on.")
        if rev not in revs:
            raise BadRequest(f"{rev!r} is not one of the versions of {path!r}.")
        choices[path] = rev
    missing = [p for p in result.unmergeable if p not in choices]
    if missing:
        raise BadRequest(f"Choose a version for {', '.join(missing)}: they cannot be merged.")
    return {path: rev for path, rev in choices.items() if rev is not None}


def _joined_parent(record: Conflicted, parent: str, result: MergeResult) -> Doc:
    """What the resolution is judged against: its parent leaf, with the log of
    every leaf (their entries are theirs, not the resolver's, and were
    accepted when their leaves were)."""
    base = next(leaf for leaf in record.leaves if leaf.rev == parent)
    joined: Doc = {**base.body, "_id": record.doc_id, "_rev": parent}
    for name in _unions(record):
        if name in result.body:
            joined[name] = result.body[name]
    return joined


def _unions(record: Conflicted) -> frozenset[str]:
    record_type = record.leaves[0].body.get("type")
    rules = RULES.get(record_type) if isinstance(record_type, str) else None
    return rules.unions if rules else frozenset()
