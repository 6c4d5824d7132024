"""One write path for ``_bulk_docs``, ``PUT`` and ``DELETE``: check, store, audit.

Structure errors fail the whole request (400) before anything is stored.
Each remaining document is checked by :mod:`server.policy.write_policy`; refused ones
get per-doc ``forbidden`` entries and the rest go to the store in ONE
``bulk_docs`` call (one transaction), and the answers are merged back in the
request's order. Every accepted revision is appended to the audit log.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.policy.access import DbScope
from server.policy.parents import archived_body, parent_bodies
from server.policy.request_identities import RequestIdentities
from server.policy.write_policy import (
    Verdict,
    check_revision,
    check_structure,
    forbidden_result,
)
from server.state.interface import AuditLog, DocRev, IdentityRepo
from server.state.models import NewAuditEntry
from sync.database import Database, Doc
from sync.errors import Conflict, Forbidden, error_from_result

__all__ = ["WriteDeps", "audited_revs_diff", "raise_for_result", "write_docs"]


@dataclass(frozen=True, slots=True)
class WriteDeps:
    identities: IdentityRepo
    audit: AuditLog
    refuse_unsigned: bool


async def write_docs(
    scope: DbScope,
    store: Database,
    deps: WriteDeps,
    docs: Sequence[Any],
    *,
    new_edits: bool,
    judged_against: Mapping[DocRev, Doc] | None = None,
) -> list[Doc]:
    """CouchDB's ``_bulk_docs`` answer for ``docs`` written by ``scope``'s caller.

    ``judged_against`` replaces, for the revisions it names (id, rev), the
    parent body the policy judges them against. The office's conflict
    resolution needs it: it joins several leaves, so the entries of the
    other leaves' logs are not its author's new entries
    (:mod:`server.conflicts.desk`)."""
    clean = [check_structure(doc, new_edits=new_edits) for doc in docs]
    results: list[Doc | None] = [None] * len(clean)
    accepted: list[tuple[int, Doc, Verdict]] = []
    known = set() if new_edits else await _known_revs(store, clean)
    # A replicated revision the store already has: CouchDB ignores it, and so do
    # we, unless the audit log lacks it (the gateway stopped between the store's
    # commit and the audit append): then the re-send is checked and audited.
    unaudited = known - await deps.audit.audited(scope.db_name, known) if known else set()
    to_check = [
        (index, doc)
        for index, doc in enumerate(clean)
        if (key := (doc["_id"], doc.get("_rev"))) not in known or key in unaudited
    ]
    late_audit: list[NewAuditEntry] = []
    identities = RequestIdentities(deps.identities)  # each signer looked up once
    parents = await parent_bodies(
        store,
        [doc for _, doc in to_check],
        new_edits=new_edits,
        stored=unaudited,
        archived=functools.partial(deps.audit.bodies, scope.db_name),
    )
    if judged_against:
        parents = [
            judged_against.get((doc["_id"], str(doc.get("_rev"))), old)
            if (doc["_id"], str(doc.get("_rev"))) in judged_against
            else old
            for (_, doc), old in zip(to_check, parents, strict=True)
        ]
    for (index, doc), old in zip(to_check, parents, strict=True):
        stored_already = (doc["_id"], doc.get("_rev")) in unaudited
        if new_edits and old is None and "_rev" in doc:
            # CouchDB's 409 for an edit of a rev that is not a current leaf, given
            # here so no backend is asked to store one (an unknown rev of any
            # generation would otherwise reach it).
            results[index] = forbidden_result(doc, Conflict())
            continue
        try:
            verdict = await check_revision(
                doc,
                old,
                scope,
                identities,
                new_edits=new_edits,
                refuse_unsigned=deps.refuse_unsigned,
            )
        except Forbidden as exc:
            if not stored_already:  # a stored one stays ignored, as CouchDB does
                results[index] = forbidden_result(doc, exc)
        else:
            if stored_already:
                late_audit.append(_audit_entry(scope, doc, doc["_rev"], verdict))
            else:
                accepted.append((index, doc, verdict))
    stored = (
        await store.bulk_docs([verdict.doc for _, _, verdict in accepted], new_edits=new_edits)
        if accepted
        else []
    )
    audit = late_audit
    if new_edits:
        for (index, doc, verdict), answer in zip(accepted, stored, strict=True):
            results[index] = answer
            if answer.get("ok"):
                audit.append(_audit_entry(scope, doc, answer["rev"], verdict))
    else:
        # new_edits=false answers list only failures (CouchDB returns [] on success).
        failed = {r.get("id"): r for r in stored}
        for index, doc, verdict in accepted:
            if doc["_id"] in failed:
                results[index] = failed[doc["_id"]]
            else:
                audit.append(_audit_entry(scope, doc, doc["_rev"], verdict))
    await deps.audit.append(audit)
    if new_edits:
        return [r for r in results if r is not None]
    return [r for r in results if r is not None and "error" in r]


async def audited_revs_diff(
    scope: DbScope, store: Database, audit: AuditLog, revs: Mapping[str, Sequence[str]]
) -> dict[str, Doc]:
    """``_revs_diff`` as the write path needs it: a revision the store has but
    the audit log lacks (the gateway died between the store's commit and the
    audit append; over CouchDB the two cannot share a transaction) is reported
    missing, so the next sync re-sends it and :func:`write_docs` audits it."""
    diff = await store.revs_diff(revs)
    present = {
        (doc_id, rev)
        for doc_id, doc_revs in revs.items()
        for rev in doc_revs
        if rev not in diff.get(doc_id, {}).get("missing", [])
    }
    if not present:
        return diff
    for doc_id, rev in sorted(present - await audit.audited(scope.db_name, present)):
        entry = diff.setdefault(doc_id, {"missing": []})
        entry["missing"].append(rev)
    return diff


async def _known_revs(store: Database, docs: Sequence[Doc]) -> set[DocRev]:
    wanted: dict[str, list[str]] = {}
    for doc in docs:
        wanted.setdefault(doc["_id"], []).append(doc["_rev"])
    missing = await store.revs_diff(wanted)
    return {
        (doc_id, rev)
        for doc_id, revs in wanted.items()
        for rev in revs
        if rev not in missing.get(doc_id, {}).get("missing", [])
    }


def _audit_entry(scope: DbScope, doc: Doc, rev: str, verdict: Verdict) -> NewAuditEntry:
    device = scope.principal.device
    return NewAuditEntry(
        db=scope.db_name,
        doc_id=doc["_id"],
        rev=rev,
        officer_id=scope.principal.officer.id,
        device_id=device.id if device else None,
        record_type=doc.get("type"),
        deleted=bool(doc.get("_deleted")),
        signed=verdict.signature.status,
        signer=verdict.signature.device.id if verdict.signature.device else None,
        body=archived_body(verdict.doc, rev),
    )


def raise_for_result(result: Doc) -> None:
    """Turn a one-document ``_bulk_docs`` entry into the error CouchDB's ``PUT`` answers."""
    if "error" in result:
        raise error_from_result(result)
