"""The body each written revision edits, so the write policy judges it
against its own parent.

A replicated revision (``new_edits=false``) names its history in
``_revisions``: it is judged against the nearest ancestor the gateway still
knows, from the store or, once the store has compacted it away, from the body
the audit log kept when that ancestor was accepted. Judging it against the
current winner instead would refuse, forever, two offline edits made from the
same version (two additions to an append-only list always disagree).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Sequence

from sync.database import Database, Doc
from sync.errors import NotFound
from sync.revtree import generation, path_from_revisions

__all__ = ["ArchivedBodies", "archived_body", "edited_rev", "parent_bodies"]


def ancestors(doc: Doc, *, new_edits: bool) -> list[str]:
    """The revs this revision may edit, nearest first: the given ``_rev``
    (new_edits) or, for a replicated revision, its ancestors in ``_revisions``."""
    if new_edits:
        return [doc["_rev"]] if "_rev" in doc else []
    if "_revisions" in doc:
        return path_from_revisions(doc["_revisions"])[1:]
    return []


def edited_rev(doc: Doc, *, new_edits: bool) -> str | None:
    """The revision ``doc`` says it was made from (``None``: a new record), which a
    device signature covers (see :func:`sync.signing.sign`)."""
    revs = ancestors(doc, new_edits=new_edits)
    return revs[0] if revs else None


_Key = tuple[str, str | None]  # (doc id, rev); rev None asks for the current winner


async def _fetch(store: Database, keys: Sequence[_Key], *, leaves: bool = False) -> dict[_Key, Doc]:
    """The stored bodies of ``keys`` in ONE ``_bulk_get``: over the CouchDB
    backend each store call is a round trip, so a batch must not cost one per doc.

    ``leaves``: only revs that are current leaves are found. ``latest=true``
    answers a leaf with itself and an older rev with the leaves after it, so
    the same request tells the two apart (ask it only for revs that exist, see
    :func:`_current_leaves`)."""
    if not keys:
        return {}
    answers = await store.bulk_get(
        [{"id": doc_id} if rev is None else {"id": doc_id, "rev": rev} for doc_id, rev in keys],
        revs=False,
        latest=leaves,
    )
    found: dict[_Key, Doc] = {}
    deleted: list[str] = []
    for key, answer in zip(keys, answers, strict=True):
        entries = answer.get("docs", [])
        bodies = [entry["ok"] for entry in entries if "ok" in entry]
        if leaves and key[1] is not None:
            bodies = [body for body in bodies if body.get("_rev") == key[1]]
        if bodies:
            found[key] = bodies[0]  # for a winner, possibly a tombstone (the embedded store)
        elif key[1] is None and not any(
            entry.get("error", {}).get("reason") == "missing" for entry in entries
        ):
            deleted.append(key[0])
    for doc_id in deleted:
        # CouchDB 3 answers a deleted winner asked for without a rev with the
        # error "deleted" (pouchdb-server with an empty entry); its tombstone is
        # among the leaves (rare: a re-created deleted id).
        tombstone = await _winning_tombstone(store, doc_id)
        if tombstone is not None:
            found[(doc_id, None)] = tombstone
    return found


async def _winning_tombstone(store: Database, doc_id: str) -> Doc | None:
    try:
        answer = await store.open_revs(doc_id, "all")
    except NotFound:
        return None
    leaves: list[Doc] = [row["ok"] for row in answer if "ok" in row]
    if not leaves or not all(leaf.get("_deleted") for leaf in leaves):
        return None
    # CouchDB's winner among deleted leaves: the longest history, then the highest rev.
    return max(leaves, key=lambda leaf: (generation(leaf["_rev"]), leaf["_rev"]))


async def _current_leaves(store: Database, found: dict[_Key, Doc]) -> dict[_Key, Doc]:
    """``found`` without the revs that are not current leaves of their document.

    A new edit must name a current leaf (CouchDB answers 409 otherwise). An
    unknown rev is already absent from ``found``; an older one may still have
    its body (until compaction), so the revs found are asked again with
    ``latest=true``, only those: pouchdb-server 4.2 dies on ``latest=true`` for
    a rev it does not know. Then write_docs refuses the stale edit itself, and
    no backend is asked to store it.
    """
    named = [key for key in found if key[1] is not None]
    leaves = await _fetch(store, named, leaves=True)
    return {key: doc for key, doc in found.items() if key[1] is None or key in leaves}


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
    winner is itself or its descendant, not what it edited). A new record
    (``new_edits``, no ``_rev``) is judged against the tombstone it re-creates,
    if the id was deleted: the id stays with its station and beat. A new edit
    of a ``_rev`` that is not a current leaf of its document (an older or an
    unknown rev) has no parent: ``None``, a stale edit.

    One ``_bulk_get`` for the whole batch; then one archive lookup for edits of
    compacted revisions, and one more ``_bulk_get`` only for replicated edits
    whose every ancestor is unknown (rare: a stemmed or purged history)."""
    histories = [ancestors(doc, new_edits=new_edits) for doc in docs]
    to_winner = [
        "_rev" not in doc if new_edits else (doc["_id"], doc.get("_rev")) not in stored
        for doc in docs
    ]
    wanted: dict[_Key, None] = {}
    for doc, revs, winner in zip(docs, histories, to_winner, strict=True):
        wanted.update(dict.fromkeys((doc["_id"], rev) for rev in revs))
        if not revs and winner:
            wanted[(doc["_id"], None)] = None
    found = await _fetch(store, list(wanted))
    if new_edits:
        found = await _current_leaves(store, found)
    compacted = {
        (doc["_id"], rev)
        for doc, revs in zip(docs, histories, strict=True)
        if not any((doc["_id"], r) in found for r in revs)
        for rev in revs
    }
    if compacted and archived is not None and not new_edits:  # leaves are never compacted
        for key, body in (await archived(compacted)).items():
            found[key] = body
    late = [
        (doc["_id"], None)
        for doc, revs, winner in zip(docs, histories, to_winner, strict=True)
        if revs and winner and not any((doc["_id"], rev) in found for rev in revs)
    ]
    found.update(await _fetch(store, list(dict.fromkeys(late))))
    parents: list[Doc | None] = []
    for doc, revs, winner in zip(docs, histories, to_winner, strict=True):
        nearest = next((found[(doc["_id"], r)] for r in revs if (doc["_id"], r) in found), None)
        if nearest is None and winner:
            nearest = found.get((doc["_id"], None))
            if new_edits and nearest is not None and not nearest.get("_deleted"):
                nearest = None  # a create over a live record: the store answers 409
        parents.append(nearest)
    return parents


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
