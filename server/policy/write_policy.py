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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import schemas
from schemas.identity import CITIZEN, Role, is_citizen_actor
from server.policy.access import DbScope
from server.policy.parents import edited_rev
from server.policy.request_identities import Identities
from server.policy.signatures import Signature, check_signature
from server.state.models import Officer
from sync import journal, signing
from sync.database import Doc
from sync.errors import BadRequest, CouchError, Forbidden
from sync.revtree import parse_rev, path_from_revisions

__all__ = [
    "DOC_ID",
    "Verdict",
    "check_record_id",
    "check_revision",
    "check_structure",
    "forbidden_result",
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
    signature: Signature


# Kept on tombstones so a beat-scoped `_changes` (a selector on beat_id) still
# shows the deletion to the record's beat: a bare PouchDB `remove()` sends none.
_SCOPE_FIELDS = ("station_id", "beat_id")


def _scoped_tombstone(doc: Doc, old: Doc | None) -> Doc:
    if old is None or signing.signer_of(doc) is not None:
        return doc  # a signed body is stored exactly as signed
    return {**{k: old[k] for k in _SCOPE_FIELDS if k in old}, **doc}


def _check_station(doc: Doc, scope: DbScope) -> None:
    if doc.get("station_id") != scope.station.id:
        raise Forbidden(f"station_id must be {scope.station.id!r} in this database.")


def _check_deletion(doc: Doc, old: Doc | None, scope: DbScope, author: Author) -> None:
    if "station_id" in doc:  # a bare tombstone names none
        _check_station(doc, scope)
    if old is None or old.get("_deleted"):
        return  # nothing this station holds is being removed
    if not scope.visible(old):
        raise Forbidden("This record belongs to another beat.")
    if old.get("type") == journal.JOURNAL_TYPE:
        raise Forbidden(_JOURNAL_APPEND_ONLY)
    if author.signed and any(doc.get(f) != old.get(f) for f in _SCOPE_FIELDS):
        # A signed body is stored as signed, so the gateway cannot add them.
        raise Forbidden(
            f"A signed deletion must carry the record's station_id {old.get('station_id')!r}"
            f" and beat_id {old.get('beat_id')!r}, so the devices of that beat see it."
        )
    if author.officer.role in _SUPERVISORS:
        return
    if old.get("created_by") == author.officer.id and "status" not in old:
        return
    if (
        old.get("type") == "appointment"
        and author.role == CITIZEN
        and old.get("created_by") == author.officer.id
    ):
        # The citizen who booked a slot frees it by cancelling: the slot's
        # document goes, the booking lives on, cancelled, under a new id
        # (server.portal.booking), so the slot can be booked again.
        return
    raise Forbidden("Only a station officer may delete this record.")


def _check_recreation(doc: Doc, tombstone: Doc) -> None:
    """An id keeps its station and beat after deletion: re-creating it elsewhere
    would move the record's history into another beat's feed."""
    for field in _SCOPE_FIELDS:
        if tombstone.get(field) is not None and doc.get(field) != tombstone[field]:
            raise Forbidden(
                f"{doc['_id']} was a record of {field} {tombstone[field]!r}, since deleted;"
                " a new record takes a new id."
            )


def _check_authorship(doc: Doc, live_old: Doc | None, author: Author) -> None:
    """A new revision names who made it: the signing device's officer, or the
    officer who sent it unsigned. Fields that name someone else are refused."""
    who = author.officer.id
    named = {"updated_by": doc.get("updated_by")}
    if live_old is None:
        named["created_by"] = doc.get("created_by")
    for field, value in named.items():
        if value is not None and value != who:
            raise Forbidden(f"{field} must be {who!r}, who made this revision, not {value!r}.")
    before = live_old.get("action_log", []) if live_old is not None else []
    after = doc.get("action_log", [])
    if isinstance(before, list) and isinstance(after, list):
        for index, entry in enumerate(after[len(before) :], start=len(before)):
            by = entry.get("by") if isinstance(entry, dict) else None
            if by != who:
                raise Forbidden(
                    f"action_log.{index}.by must be {who!r}, who added the entry, not {by!r}."
                )


def _check_record(doc: Doc, old: Doc | None, scope: DbScope, author: Author) -> None:
    schemas.validate(doc)
    _check_station(doc, scope)
    live_old = old if old is not None and not old.get("_deleted") else None
    if old is not None and live_old is None:
        _check_recreation(doc, old)
    if not scope.visible(doc) or (old is not None and not scope.visible(old)):
        raise Forbidden(f"You may only write records of beat {scope.beat_id!r}.")
    if live_old is not None:
        if journal.JOURNAL_TYPE in (live_old.get("type"), doc.get("type")):
            raise Forbidden(_JOURNAL_APPEND_ONLY)
        schemas.check_immutable(live_old, doc)
    _check_authorship(doc, live_old, author)
    record_type = doc["type"]
    if "status" in doc and record_type in schemas.ALLOWED_TRANSITIONS:
        old_status = live_old.get("status") if live_old is not None else None
        schemas.check_transition(record_type, old_status, doc["status"], author.role)


@dataclass(frozen=True, slots=True)
class Author:
    """Who made a revision: the officer of the signing device, or the caller."""

    officer: Officer
    signed: bool

    @property
    def role(self) -> str:
        """The lifecycle role: the portal writes for a citizen under a
        ``citizen:<ref>`` identity, which has the citizen's rights only."""
        return CITIZEN if is_citizen_actor(self.officer.id) else self.officer.role.value


async def _author(signature: Signature, scope: DbScope, identities: Identities) -> Author:
    if signature.device is None:
        return Author(scope.principal.officer, signed=False)
    if signature.device.officer_id == scope.principal.officer.id:
        return Author(scope.principal.officer, signed=True)
    officer = await identities.get_officer(signature.device.officer_id)
    if officer is None or officer.revoked:
        raise Forbidden(
            f"Signed by device {signature.device.id!r} of officer"
            f" {signature.device.officer_id!r}, who is no longer enrolled."
        )
    return Author(officer, signed=True)


async def check_revision(
    doc: Doc,
    old: Doc | None,
    scope: DbScope,
    identities: Identities,
    *,
    new_edits: bool,
    refuse_unsigned: bool,
) -> Verdict:
    """Accept ``doc`` (a :func:`check_structure` result) editing ``old`` (its
    :func:`~server.policy.parents.parent_bodies` entry) or raise ``Forbidden``.

    The rules apply to the revision's author (a station hub relays its beat
    officers' signed edits: they are judged as the beat officer's)."""
    signature = await check_signature(
        doc,
        edited_rev(doc, new_edits=new_edits),
        scope,
        identities,
        refuse_unsigned=refuse_unsigned,
    )
    author = await _author(signature, scope, identities)
    if doc.get("_deleted"):
        _check_deletion(doc, old, scope, author)
        return Verdict(_scoped_tombstone(doc, old), signature)
    _check_record(doc, old, scope, author)
    return Verdict(doc, signature)


def forbidden_result(doc: Mapping[str, Any], exc: CouchError) -> Doc:
    """CouchDB's per-document error entry in a ``_bulk_docs`` answer (``forbidden``,
    ``conflict``: whatever ``exc`` names)."""
    return {"id": doc.get("_id"), "error": exc.error_name, "reason": exc.reason}
