"""Parsing and validating the documents of a write, before anything is looked up.

As in CouchDB 3, a malformed document (bad ``_id``, ``_rev``, ``_revisions``,
special member or attachment) fails the whole ``bulk_docs`` request with a
400 before anything is written (``couch_doc:from_json_obj_validate`` parses
the whole body first). This module turns raw JSON documents into checked
:class:`Edit` values and per-document results back into errors; it does no I/O.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from sync import revtree
from sync.attachments import Inline, Stub, parse_attachments
from sync.database import Doc
from sync.errors import (
    BadRequest,
    CouchError,
    InvalidRev,
    error_from_result,
)

__all__ = [
    "LOCAL_PREFIX",
    "Edit",
    "check_doc_id",
    "check_members",
    "dumps",
    "failure",
    "local_rev",
    "parse_batch",
    "parse_edit",
    "raise_for",
]

# The top-level `_` members CouchDB accepts in a document (couch_doc:transfer_fields).
_SPECIAL_MEMBERS = frozenset(
    {
        "_id",
        "_rev",
        "_deleted",
        "_revisions",
        "_attachments",
        "_conflicts",
        "_deleted_conflicts",
        "_local_seq",
        "_revs_info",
    }
)
LOCAL_PREFIX = "_local/"
_LOCAL_REV = re.compile(r"0-([0-9]+)")


def check_doc_id(doc_id: object) -> str:
    """``doc_id`` if CouchDB 3 would accept it as a document id."""
    # CouchDB 3 answers these with 400 `illegal_docid` (couch_doc:validate_docid).
    if not isinstance(doc_id, str):
        raise BadRequest("Document id must be a string", error="illegal_docid")
    if not doc_id:
        raise BadRequest("Document id must not be empty", error="illegal_docid")
    if doc_id.startswith("_") and not doc_id.startswith(("_design/", LOCAL_PREFIX)):
        raise BadRequest(
            "Only reserved document ids may start with underscore.", error="illegal_docid"
        )
    if doc_id in ("_design/", LOCAL_PREFIX):
        raise BadRequest("Document id must not be empty", error="illegal_docid")
    try:
        doc_id.encode()
    except UnicodeEncodeError:
        raise BadRequest("Document id must be valid UTF-8", error="illegal_docid") from None
    return doc_id


def check_members(doc: Mapping[str, Any]) -> None:
    """Reject top-level ``_`` members CouchDB does not know, and a non-boolean ``_deleted``."""
    for key in doc:
        if not isinstance(key, str):
            raise BadRequest("Document keys must be strings", error="doc_validation")
        if key.startswith("_") and key not in _SPECIAL_MEMBERS:
            raise BadRequest(f"Bad special document member: {key}", error="doc_validation")
    deleted = doc.get("_deleted", False)
    if not isinstance(deleted, bool):
        raise BadRequest("Bad special document member: _deleted", error="doc_validation")


def local_rev(rev: object) -> int:
    """The counter N of a local document's ``"0-N"`` rev."""
    match = _LOCAL_REV.fullmatch(rev) if isinstance(rev, str) else None
    if match is None:
        raise InvalidRev(f"Invalid rev format: {rev!r}")
    return int(match.group(1))


def dumps(value: Any) -> bytes:
    """``value`` as JSON bytes; a value JSON cannot hold is the client's 400."""
    try:
        return orjson.dumps(value)
    except TypeError as exc:
        raise BadRequest(f"Document is not valid JSON: {exc}", error="doc_validation") from None


@dataclass(frozen=True, slots=True)
class Edit:
    """One document of a write, checked for shape (nothing looked up yet)."""

    doc: Doc
    doc_id: str
    rev: str | None
    deleted: bool
    path: list[str]  # new_edits=False: the rev and its ancestors, newest first
    attachments: dict[str, Inline | Stub]


def parse_edit(doc: object, new_edits: bool) -> Edit:
    """One document of a write, checked for shape; raises the 400 CouchDB would."""
    if not isinstance(doc, dict):
        raise BadRequest("Each document must be a JSON object", error="doc_validation")
    check_members(doc)
    doc_id = doc.get("_id")
    if doc_id is None and new_edits:
        doc_id = uuid.uuid4().hex  # POST without an id: CouchDB picks a random one
    doc_id = check_doc_id(doc_id)
    rev = doc.get("_rev")
    path: list[str] = []
    if doc_id.startswith(LOCAL_PREFIX):
        if rev is not None:
            local_rev(rev)
        return Edit(doc, doc_id, rev, bool(doc.get("_deleted")), path, {})
    if rev is not None:
        revtree.parse_rev(rev)
    if not new_edits:
        revisions = doc.get("_revisions")
        if revisions is not None:
            if not isinstance(revisions, dict):
                raise InvalidRev("_revisions must be a JSON object")
            path = revtree.path_from_revisions(revisions)
            if rev is not None and rev != path[0]:
                raise InvalidRev(f"_rev {rev} is not the newest of _revisions")
            rev = path[0]
        elif rev is None:
            # CouchDB 3's words (apache/couchdb#3819): a 400 for the whole request.
            raise BadRequest(
                "When `new_edits: false`, the document needs `_rev` or `_revisions` information"
            )
        else:
            path = [rev]
    atts = doc.get("_attachments")
    parsed = parse_attachments(atts) if atts is not None else {}
    return Edit(doc, doc_id, rev, bool(doc.get("_deleted")), path, parsed)


def parse_batch(docs: object, new_edits: bool) -> list[Edit]:
    """Every document of a ``_bulk_docs`` body, all checked before any is written."""
    if isinstance(docs, str | bytes | Mapping) or not isinstance(docs, Sequence):
        raise BadRequest("docs must be a JSON array of objects")
    return [parse_edit(doc, new_edits) for doc in docs]


def failure(doc_id: str, exc: CouchError) -> Doc:
    """The per-document ``{"id", "error", "reason"}`` answer of ``_bulk_docs``."""
    return {"id": doc_id, "error": exc.error_name, "reason": exc.reason}


def raise_for(result: Doc) -> None:
    """Raise the error a single-document write (``PUT``) answers with, if any."""
    if "error" in result:
        raise error_from_result(result)
