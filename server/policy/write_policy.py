"""What the gateway checks in every written revision, before the store sees it.

Two layers, as CouchDB has them:

* :func:`check_structure` is CouchDB's own document parsing: a malformed
  ``_id``/``_rev``/``_revisions`` or an unknown ``_`` member fails the whole
  request with 400 (``couch_doc:from_json_obj``), nothing stored.
* :func:`check_revision` is our ``validate_doc_update``: schema, station,
  beat, immutable fields, status transitions, deletion rights and the device
  signature. A failure refuses only that document, with CouchDB's per-doc
  ``{"id", "error": "forbidden", "reason"}``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import schemas
from schemas.identity import Role
from server.policy.access import DbScope
from server.state.interface import IdentityRepo
from sync import journal, signing
from sync.database import Database, Doc
from sync.errors import BadRequest, CouchError, Forbidden
from sync.revtree import parse_rev, path_from_revisions

__all__ = [
    "DOC_ID",
    "ArchivedBodies",
    "Verdict",
    "archived_body",
    "check_record_id",
    "check_revision",
    "check_structure",
    "forbidden_result",
    "parent_bodies",
]

# Random uuid4 hex ids, journal ids (journal-<device>-<seq>) and PouchDB's
# generated ids all fit; leading "_" (reserved), "/", "..", spaces and control
# characters do not, so no id can play tricks with paths or URLs.
DOC_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")
_WRITABLE_META = frozenset({"_id", "_rev", "_deleted", "_revisions", "_attachments"})
# Read-only members a client may echo back from a GET; CouchDB drops them on write.
_IGNORED_META = frozenset({"_conflicts", "_deleted_conflicts", "_revs_info", "_local_seq"})
# The journal is the evidence of what happened offline: entries are only ever added.
_JOURNAL_APPEND_ONLY = "Journal entries are append-only: they cannot be edited or deleted."
_SUPERVISORS = frozenset({Role.STATION_OFFICER, Role.CENTRAL_OFFICE, Role.ADMIN})


def check_record_id(doc_id: object) -> str:
    """``doc_id`` if the gateway accepts it for a record (stricter than CouchDB: see ``DOC_ID``)."""
    if not isinstance(doc_id, str) or not DOC_ID.match(doc_id) or ".." in doc_id:
        raise BadRequest(
            "Document ids are 1-200 letters, digits, '.', '_', ':' or '-', not starting"
            " with '_' or '.'.",
            error="illegal_docid",
        )
    return doc_id


def check_structure(doc: object, *, new_edits: bool) -> Doc:
    """The doc with ignorable members dropped, or ``BadRequest`` for a malformed one."""
    if not isinstance(doc, dict):
        raise BadRequest("Document must be a JSON object")
    clean = {k: v for k, v in doc.items() if k not in _IGNORED_META}
    for key in clean:
        if key.startswith("_") and key not in _WRITABLE_META:
            raise BadRequest(f"Bad special document member: {key}", error="doc_validation")
    if "_id" not in clean and new_edits:
        clean["_id"] = uuid.uuid4().hex
    check_record_id(clean.get("_id"))
    if "_rev" in clean:
        parse_rev(clean["_rev"])
    elif not new_edits:
        raise BadRequest(f"Document {clean['_id']} has no _rev (new_edits=false needs one)")
    if "_deleted" in clean and not isinstance(clean["_deleted"], bool):
        raise BadRequest("_deleted must be true or false", error="doc_validation")
    if "_attachments" in clean and not isinstance(clean["_attachments"], dict):
        raise BadRequest("_attachments must be an object", error="doc_validation")
    if "_revisions" in clean:
        if not isinstance(clean["_revisions"], dict):
            raise BadRequest("_revisions must be an object", error="doc_validation")
        path = path_from_revisions(clean["_revisions"])
        if "_rev" in clean and path[0] != clean["_rev"]:
            raise BadRequest("_revisions does not start with _rev", error="doc_validation")
    return clean


@dataclass(frozen=True, slots=True)
class Verdict:
    """An accepted revision: what to store, and how its signature stood (for the audit log)."""

    doc: Doc
    signed: str  # "verified" | "unsigned"


# Kept on tombstones so a beat-scoped `_changes` (a selector on beat_id) still
# shows the deletion to the record's beat: a bare PouchDB `remove()` sends none.
_SCOPE_FIELDS = ("station_id", "beat_id")


def _scoped_tombstone(doc: Doc, old: Doc | None) -> Doc:
    if old is None or signing.signer_of(doc) is not None:
        return doc  # a signed body is stored exactly as signed
    return {**{k: old[k] for k in _SCOPE_FIELDS if k in old}, **doc}


def _ancestors(doc: Doc, *, new_edits: bool) -> list[str]:
    """The revs this revision may edit, nearest first: the given ``_rev``
    (new_edits) or, for a replicated revision, its ancestors in ``_revisions``."""
    if new_edits:
        return [doc["_rev"]] if "_rev" in doc else []
    if "_revisions" in doc:
        return path_from_revisions(doc["_revisions"])[1:]
    return []


_Key = tuple[str, str | None]  # (doc id, rev); rev None asks for the current winner


async def _fetch(store: Database, keys: Sequence[_Key]) -> dict[_Key, Doc]:
    """The stored bodies of ``keys`` in ONE ``_bulk_get``: over the CouchDB
    backend each store call is a round trip, so a batch must not cost one per doc."""
    if not keys:
        return {}
    answers = await store.bulk_get(
        [{"id": doc_id} if rev is None else {"id": doc_id, "rev": rev} for doc_id, rev in keys],
        revs=False,
    )
    found: dict[_Key, Doc] = {}
    for key, answer in zip(keys, answers, strict=True):
        bodies = [entry["ok"] for entry in answer.get("docs", []) if "ok" in entry]
        if not bodies:
            continue
        if key[1] is None and bodies[0].get("_deleted"):
            continue  # a deleted winner is no current body (GET answers 404 for it)
        found[key] = bodies[0]
    return found


ArchivedBodies = Callable[[Collection[tuple[str, str]]], Awaitable[dict[tuple[str, str], Doc]]]


async def parent_bodies(
    store: Database,
    docs: Sequence[Doc],
    *,
    new_edits: bool,
    stored: Collection[tuple[str, str]] = (),
    archived: ArchivedBodies | None = None,
) -> list[Doc | None]:
    """For each revision (a :func:`check_structure` result), in order, the body
    it edits: the nearest of its ancestors the store has or, once the store has
    compacted the ancestor away, ``archived`` keeps (the body the gateway
    accepted, kept beside its audit entry). So a replicated edit is judged
    against the revision it was made from, not against a concurrent edit that
    became the winner meanwhile.

    A replicated revision with no known ancestor is judged against the current
    winner, if there is one (an independent branch must not rewrite who created
    the record either), unless it is in ``stored`` (the store has it: the
    winner is itself or its descendant, not what it edited).

    One ``_bulk_get`` for the whole batch; then one archive lookup for edits of
    compacted revisions, and one more ``_bulk_get`` only for replicated edits
    whose every ancestor is unknown (rare: a stemmed or purged history)."""
    ancestors = [_ancestors(doc, new_edits=new_edits) for doc in docs]
    to_winner = [not new_edits and (doc["_id"], doc.get("_rev")) not in stored for doc in docs]
    wanted: dict[_Key, None] = {}
    for doc, revs, winner in zip(docs, ancestors, to_winner, strict=True):
        wanted.update(dict.fromkeys((doc["_id"], rev) for rev in revs))
        if not revs and winner:
            wanted[(doc["_id"], None)] = None
    found = await _fetch(store, list(wanted))
    compacted = {
        (doc["_id"], rev)
        for doc, revs in zip(docs, ancestors, strict=True)
        if not any((doc["_id"], r) in found for r in revs)
        for rev in revs
    }
    if compacted and archived is not None:
        for key, body in (await archived(compacted)).items():
            found[key] = body
    late = [
        (doc["_id"], None)
        for doc, revs, winner in zip(docs, ancestors, to_winner, strict=True)
        if revs and winner and not any((doc["_id"], rev) in found for rev in revs)
    ]
    found.update(await _fetch(store, list(dict.fromkeys(late))))
    parents: list[Doc | None] = []
    for doc, revs, winner in zip(docs, ancestors, to_winner, strict=True):
        nearest = next((found[(doc["_id"], r)] for r in revs if (doc["_id"], r) in found), None)
        if nearest is None and winner:
            nearest = found.get((doc["_id"], None))
        parents.append(nearest)
    return parents


async def _check_signature(
    doc: Doc, scope: DbScope, identities: IdentityRepo, refuse_unsigned: bool
) -> str:
    signer = signing.signer_of(doc)
    if signer is None:
        if scope.principal.device is not None:
            raise Forbidden(
                "Unsigned revision: a write through an enrolled device must carry the"
                " device's Ed25519 signature."
            )
        if refuse_unsigned:
            raise Forbidden(
                "This district refuses unsigned writes; sync through an enrolled device."
            )
        return "unsigned"
    device = await identities.get_device(signer)
    if device is None or device.revoked:
        raise Forbidden(f"Signed by device {signer!r}, which is not an enrolled device.")
    try:
        key = signing.public_key_from_b64(device.public_key)
    except ValueError:
        raise Forbidden(f"Device {signer!r} has no usable public key.") from None
    if not signing.verify(doc, key):
        raise Forbidden(f"The signature does not verify with device {signer!r}'s registered key.")
    if doc.get("type") == journal.JOURNAL_TYPE and doc.get("device_id") != signer:
        # Each chain is one device's own: no device may add to another's.
        raise Forbidden(f"A journal entry of device {doc.get('device_id')!r} signed by {signer!r}.")
    return "verified"


def _check_deletion(old: Doc | None, scope: DbScope) -> None:
    if old is None or old.get("_deleted"):
        return  # nothing this station holds is being removed
    role, officer = scope.principal.role, scope.principal.officer
    if not scope.visible(old):
        raise Forbidden("This record belongs to another beat.")
    if old.get("type") == journal.JOURNAL_TYPE:
        raise Forbidden(_JOURNAL_APPEND_ONLY)
    if role in _SUPERVISORS:
        return
    if old.get("created_by") == officer.id and "status" not in old:
        return
    raise Forbidden("Only a station officer may delete this record.")


def _check_record(doc: Doc, old: Doc | None, scope: DbScope) -> None:
    schemas.validate(doc)
    if doc.get("station_id") != scope.station.id:
        raise Forbidden(f"station_id must be {scope.station.id!r} in this database.")
    if not scope.visible(doc) or (old is not None and not scope.visible(old)):
        raise Forbidden(f"You may only write records of beat {scope.beat_id!r}.")
    live_old = old if old is not None and not old.get("_deleted") else None
    if live_old is not None:
        if journal.JOURNAL_TYPE in (live_old.get("type"), doc.get("type")):
            raise Forbidden(_JOURNAL_APPEND_ONLY)
        schemas.check_immutable(live_old, doc)
    record_type = doc["type"]
    if "status" in doc and record_type in schemas.ALLOWED_TRANSITIONS:
        old_status = live_old.get("status") if live_old is not None else None
        schemas.check_transition(record_type, old_status, doc["status"], scope.principal.role.value)


async def check_revision(
    doc: Doc,
    old: Doc | None,
    scope: DbScope,
    identities: IdentityRepo,
    *,
    refuse_unsigned: bool,
) -> Verdict:
    """Accept ``doc`` (a :func:`check_structure` result) editing ``old`` (its
    :func:`parent_bodies` entry) or raise ``Forbidden``."""
    if doc.get("_deleted"):
        if "station_id" in doc and doc["station_id"] != scope.station.id:
            raise Forbidden(f"station_id must be {scope.station.id!r} in this database.")
        _check_deletion(old, scope)
    else:
        _check_record(doc, old, scope)
    signed = await _check_signature(doc, scope, identities, refuse_unsigned)
    return Verdict(_scoped_tombstone(doc, old) if doc.get("_deleted") else doc, signed)


def archived_body(doc: Doc, rev: str) -> Doc:
    """What the gateway keeps of an accepted revision ``rev`` to judge later
    edits of it: the body without its history, attachments as stubs (the
    store keeps their data; a later edit's checks need none of it)."""
    kept = {k: v for k, v in doc.items() if k != "_revisions"} | {"_rev": rev}
    if isinstance(doc.get("_attachments"), dict):
        kept["_attachments"] = {
            name: {k: v for k, v in att.items() if k not in ("data", "follows")} | {"stub": True}
            for name, att in doc["_attachments"].items()
            if isinstance(att, dict)
        }
    return kept


def forbidden_result(doc: Mapping[str, Any], exc: CouchError) -> Doc:
    """CouchDB's per-document error entry in a ``_bulk_docs`` answer."""
    return {"id": doc.get("_id"), "error": exc.error_name, "reason": exc.reason}
