"""A record's live leaves, their common ancestor, and the revisions that replace them.

Shared by the merge runner and the desk: both read a conflicted record the
same way and write the same shape of ``new_edits=false`` batch (one
revision on the winning leaf, a tombstone on each loser), whose rev ids are
:func:`sync.revid.new_rev` of parent and body. So the same decision made by
two gateways, or a gateway and a hub, is the same revisions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from schemas.merge import Leaf
from server.state.interface import AuditLog
from sync.database import Database, Doc
from sync.revid import new_rev
from sync.revtree import parse_rev, path_from_revisions

__all__ = ["Conflicted", "leaf_revs_of", "read_conflicted", "replacement_docs", "revision_doc"]

# Kept on a tombstone so a beat-scoped `_changes` (a selector on beat_id)
# still shows the deletion to the record's beat, as the write policy does.
_SCOPE_FIELDS = ("station_id", "beat_id")


@dataclass(frozen=True, slots=True)
class Conflicted:
    doc_id: str
    leaves: list[Leaf]  # live leaves, sorted by rev
    base: Doc | None  # the newest common ancestor's body, when anyone kept it

    @property
    def revs(self) -> tuple[str, ...]:
        return tuple(leaf.rev for leaf in self.leaves)


def _common_ancestor(paths: Sequence[Sequence[str]]) -> str | None:
    shared = set(paths[0]).intersection(*paths[1:]) if paths else set()
    return max(shared, key=lambda rev: parse_rev(rev)[0], default=None)


async def read_conflicted(
    store: Database, audit: AuditLog, db_name: str, leaf_revs: Mapping[str, Sequence[str]]
) -> list[Conflicted]:
    """The live leaves of each doc of ``leaf_revs`` ({id: every leaf rev, as a
    ``style=all_docs`` changes row lists them}), for those with two or more
    live ones, in ONE ``_bulk_get``; and their common ancestor's body: from
    the audit log, which keeps every accepted body (the embedded store keeps
    only leaves, CouchDB's compaction drops the rest), else from the store."""
    wanted_revs = [{"id": doc_id, "rev": rev} for doc_id, revs in leaf_revs.items() for rev in revs]
    live: dict[str, list[Doc]] = {}
    for result in await store.bulk_get(wanted_revs, revs=True) if wanted_revs else []:
        for answer in result.get("docs", []):
            doc = answer.get("ok")
            if isinstance(doc, dict) and not doc.get("_deleted"):
                live.setdefault(doc["_id"], []).append(doc)
    found: list[tuple[str, list[Doc], str | None]] = []
    for doc_id, docs in live.items():
        unique = list({doc["_rev"]: doc for doc in docs}.values())
        if len(unique) < 2:
            continue
        paths = [path_from_revisions(doc["_revisions"]) for doc in unique if "_revisions" in doc]
        ancestor = _common_ancestor(paths) if len(paths) == len(unique) else None
        found.append((doc_id, unique, ancestor))
    wanted = {(doc_id, rev) for doc_id, _, rev in found if rev is not None}
    archived = await audit.bodies(db_name, wanted) if wanted else {}
    out = []
    for doc_id, docs, ancestor in found:
        base = archived.get((doc_id, ancestor)) if ancestor else None
        if ancestor and base is None:
            rows = await store.open_revs(doc_id, [ancestor], include_revisions=False)
            base = next((r["ok"] for r in rows if isinstance(r.get("ok"), dict)), None)
        leaves = sorted(
            (Leaf(d["_rev"], {k: v for k, v in d.items() if k != "_revisions"}) for d in docs),
            key=lambda leaf: leaf.rev,
        )
        out.append(Conflicted(doc_id, leaves, base))
    return out


async def leaf_revs_of(store: Database, doc_id: str) -> dict[str, list[str]]:
    """``{doc_id: its leaf revs}`` for :func:`read_conflicted`, from the store."""
    rows = await store.open_revs(doc_id, "all", include_revisions=False)
    return {doc_id: [r["ok"]["_rev"] for r in rows if isinstance(r.get("ok"), dict)]}


def _digests(body: Mapping[str, Any]) -> list[str]:
    attachments = body.get("_attachments")
    if not isinstance(attachments, dict):
        return []
    return sorted(
        str(stub["digest"])
        for stub in attachments.values()
        if isinstance(stub, dict) and "digest" in stub
    )


def revision_doc(doc_id: str, parent: str, body: Mapping[str, Any], *, deleted: bool) -> Doc:
    """A child of ``parent`` as a ``new_edits=false`` document, with its deterministic rev."""
    rev = new_rev(parent, deleted, body, _digests(body))
    fields = {k: v for k, v in body.items() if not k.startswith("_") or k == "_attachments"}
    doc: Doc = {
        **fields,
        "_id": doc_id,
        "_rev": rev,
        "_revisions": {
            "start": parse_rev(rev)[0],
            "ids": [parse_rev(rev)[1], parse_rev(parent)[1]],
        },
    }
    if deleted:
        doc["_deleted"] = True
    return doc


def replacement_docs(
    doc_id: str, parent: str, body: Mapping[str, Any], leaves: Sequence[Leaf]
) -> list[Doc]:
    """The new revision on ``parent`` and a tombstone on every other leaf, for ONE
    ``_bulk_docs``: the record then has a single live leaf."""
    docs = [revision_doc(doc_id, parent, body, deleted=False)]
    for leaf in leaves:
        if leaf.rev != parent:
            scope = {k: leaf.body[k] for k in _SCOPE_FIELDS if k in leaf.body}
            docs.append(revision_doc(doc_id, leaf.rev, scope, deleted=True))
    return docs
