"""Audit entries as documents of the CouchDB audit database, and back."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from server.state.audit_chain import CHAINED_FIELDS, ChainedEntry, ChainLink
from server.state.models import AuditEntry
from sync.database import Doc

__all__ = ["audit_doc", "audit_entry", "chained_entry"]


def audit_doc(doc_id: str, seq: int, fields: Mapping[str, Any], link: ChainLink) -> Doc:
    """The document of one entry: its chained fields (no ``body`` key when it has
    none), its sequence number and its chain link."""
    kept = {k: v for k, v in fields.items() if not (k == "body" and v is None)}
    return {
        "_id": doc_id,
        "kind": "audit",
        "seq": seq,
        **kept,
        "chain": link.chain,
        "prev": link.prev,
        "hash": link.hash,
        "sig": link.sig,
    }


def chained_entry(doc: Doc, *, forked: bool) -> ChainedEntry:
    fields = {name: doc.get(name) for name in CHAINED_FIELDS}
    has_link = all(isinstance(doc.get(k), str) for k in ("chain", "hash", "sig"))
    link = ChainLink(doc["chain"], doc.get("prev"), doc["hash"], doc["sig"]) if has_link else None
    order = doc.get("seq")
    return ChainedEntry(
        doc["_id"], order if isinstance(order, int) else 0, fields, link, forked=forked
    )


def audit_entry(doc: Doc) -> AuditEntry:
    return AuditEntry(
        int(doc["seq"]),
        doc["at"],
        doc["db"],
        doc["doc_id"],
        doc["rev"],
        doc["officer_id"],
        doc.get("device_id"),
        doc.get("record_type"),
        bool(doc.get("deleted")),
        doc["signed"],
        doc.get("signer"),
    )
