"""Writing documents: ``PUT``, ``_bulk_docs`` (new edits and replicated
revisions), the attachments a revision keeps, and ``_purge``.

A malformed document fails the whole ``bulk_docs`` request before anything
is written (see :mod:`sync.sqlite.edits`); conflicts and missing attachment
stubs are per-document answers. Only the leaves keep a body; a blob goes when
no leaf names it any more.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import aiosqlite
import orjson

from sync import revtree
from sync.attachments import AttachmentMeta, Inline, Stub, missing_stub
from sync.codec import attachment_aad, body_aad
from sync.database import Doc
from sync.errors import BadRequest, Conflict, CouchError
from sync.revid import new_rev, user_fields
from sync.revs_map import check_revs_map
from sync.revtree import RevInfo
from sync.sqlite.core import StoreCore
from sync.sqlite.edits import (
    LOCAL_PREFIX,
    Edit,
    check_doc_id,
    dumps,
    failure,
    parse_batch,
    raise_for,
)
from sync.sqlite.local_docs import LocalDocs
from sync.sqlite.schema import get_meta_int, set_meta

__all__ = ["Writes"]


@dataclass(slots=True)
class _Work:
    """One document during a write transaction."""

    tree: dict[str, RevInfo]
    stored: frozenset[str]  # revs whose body is in `revs` at the start (the leaves)
    bodies: dict[str, tuple[bytes, dict[str, AttachmentMeta]]] = field(default_factory=dict)
    changed: bool = False


def _stub_match(
    name: str, stub: Stub, candidates: Sequence[Mapping[str, AttachmentMeta]]
) -> AttachmentMeta | None:
    """The stored attachment a stub names (see ``_resolve_attachments``), or None."""
    if stub.digest is None:
        meta = candidates[0].get(name) if candidates else None
        return meta
    for metas in candidates:
        meta = metas.get(name)
        if meta is not None and meta["digest"] == stub.digest:
            return meta
    for metas in candidates:
        for meta in metas.values():
            if meta["digest"] == stub.digest:
                return meta
    return None


class Writes:
    """The write side of one store, over its :class:`~sync.sqlite.core.StoreCore`;
    ``_local`` edits in a batch go to its :class:`~sync.sqlite.local_docs.LocalDocs`."""

    def __init__(self, core: StoreCore, local_docs: LocalDocs) -> None:
        self._core = core
        self._local_docs = local_docs

    async def put(self, doc: Doc, *, new_edits: bool = True) -> Doc:
        if not isinstance(doc, dict):
            raise BadRequest("Document must be a JSON object", error="bad_request")
        if "_id" not in doc:
            raise BadRequest("a document needs an _id to be PUT", error="illegal_docid")
        results = await self.bulk_docs([doc], new_edits=new_edits)
        if results:
            raise_for(results[0])
            return results[0]
        return {
            "ok": True,
            "id": doc["_id"],
            "rev": doc.get("_rev") or revtree.path_from_revisions(doc["_revisions"])[0],
        }

    async def bulk_docs(self, docs: Sequence[Doc], *, new_edits: bool = True) -> list[Doc]:
        edits = parse_batch(docs, new_edits)
        if not edits:
            return []
        async with self._core.write_lock:
            async with self._core.transaction() as conn:
                results, seq = await self._write(conn, edits, new_edits)
            await self._core.committed(seq)
        if new_edits:
            return results
        return [result for result in results if "error" in result]

    async def _write(
        self, conn: aiosqlite.Connection, edits: Sequence[Edit], new_edits: bool
    ) -> tuple[list[Doc], int]:
        doc_ids = [e.doc_id for e in edits if not e.doc_id.startswith(LOCAL_PREFIX)]
        trees = await self._core.trees(conn, doc_ids)
        work = {
            doc_id: _Work(dict(tree), frozenset(revtree.leaves(tree)))
            for doc_id, tree in trees.items()
        }
        blobs: dict[str, bytes] = {}
        # Changed docs in the order of their last change (a dict: O(1) moves to the end).
        order: dict[str, None] = {}
        results: list[Doc] = []
        for edit in edits:
            if edit.doc_id.startswith(LOCAL_PREFIX):
                results.append(await self._local_docs.write(conn, edit))
                continue
            state = work.setdefault(edit.doc_id, _Work({}, frozenset()))
            try:
                if new_edits:
                    rev = await self._new_edit(conn, edit, state, blobs)
                else:
                    rev = await self._replicated_edit(conn, edit, state, blobs)
            except CouchError as exc:
                if isinstance(exc, BadRequest):
                    raise  # malformed input fails the whole batch, like CouchDB's 400
                results.append(failure(edit.doc_id, exc))
                continue
            results.append({"ok": True, "id": edit.doc_id, "rev": rev})
            if state.changed:
                order.pop(edit.doc_id, None)
                order[edit.doc_id] = None
        seq = await get_meta_int(conn, "update_seq")
        if order:
            seq = await self._flush(conn, [(doc_id, work[doc_id]) for doc_id in order], blobs, seq)
        return results, seq

    async def _attachment_metas(
        self, conn: aiosqlite.Connection, doc_id: str, state: _Work, rev: str
    ) -> dict[str, AttachmentMeta] | None:
        """The attachment metadata of a stored or just-written revision (None: no body kept)."""
        if rev in state.bodies:
            return state.bodies[rev][1]
        if rev not in state.stored:
            return None
        rows = await conn.execute_fetchall(
            "SELECT body FROM revs WHERE doc_id = ? AND rev = ?", (doc_id, rev)
        )
        for (sealed,) in rows:
            metas: dict[str, AttachmentMeta] = self._core.open_body(doc_id, rev, sealed).get(
                "_attachments", {}
            )
            return metas
        return None

    async def _resolve_attachments(
        self,
        conn: aiosqlite.Connection,
        edit: Edit,
        state: _Work,
        ancestors: Sequence[str],
        generation: int,
        blobs: dict[str, bytes],
        others: Sequence[str] = (),
    ) -> dict[str, AttachmentMeta]:
        """Attachment metadata of the new revision; inline data goes into ``blobs``.

        A stub names an attachment the document already has. With a digest it
        is the attachment of that digest in the nearest of ``ancestors`` (revs,
        nearest first) or of ``others`` (the other leaves: a replicated rev
        whose parent's body is gone still shares its photos with its
        siblings) that has it, same name first. Without a digest it is the
        attachment of that name in the nearest ancestor whose body the store
        keeps (CouchDB's ``make_first_doc_on_disk`` + ``merge_stubs``). Only
        this document's revisions count: a digest is no permission to read
        another document's attachment. Unresolved: 412 ``missing_stub``.
        """
        metas: dict[str, AttachmentMeta] = {}
        kept: tuple[list[dict[str, AttachmentMeta]], list[dict[str, AttachmentMeta]]] | None = None
        for name, att in edit.attachments.items():
            if isinstance(att, Inline):
                blobs[att.digest] = att.data
                # A replicated revision keeps the revpos it arrived with; a new
                # edit's inline attachment was added at this generation.
                revpos = att.revpos if edit.path and att.revpos is not None else generation
                metas[name] = {
                    "content_type": att.content_type,
                    "digest": att.digest,
                    "length": len(att.data),
                    "revpos": revpos,
                }
                continue
            if kept is None:
                ancestral = await self._kept_metas(conn, edit.doc_id, state, ancestors)
                others_kept = await self._kept_metas(conn, edit.doc_id, state, others)
                kept = (ancestral[:1], [*ancestral, *others_kept])
            by_name, by_digest = kept
            meta = _stub_match(name, att, by_name if att.digest is None else by_digest)
            if meta is None:
                raise missing_stub(edit.doc_id, name)
            if edit.path:
                # A replicated revision is stored as its source has it.
                meta = {
                    **meta,
                    "revpos": meta["revpos"] if att.revpos is None else att.revpos,
                    "content_type": att.content_type or meta["content_type"],
                }
            metas[name] = meta
        return metas

    async def _kept_metas(
        self, conn: aiosqlite.Connection, doc_id: str, state: _Work, revs: Sequence[str]
    ) -> list[dict[str, AttachmentMeta]]:
        """Attachment metadata of those of ``revs`` whose body the store keeps, in order."""
        found: list[dict[str, AttachmentMeta]] = []
        for rev in revs:
            metas = await self._attachment_metas(conn, doc_id, state, rev)
            if metas is not None:
                found.append(metas)
        return found

    def _keep(
        self,
        edit: Edit,
        state: _Work,
        rev: str,
        metas: dict[str, AttachmentMeta],
    ) -> None:
        body = user_fields(edit.doc)
        if metas:
            body["_attachments"] = metas
        sealed = self._core.codec.seal(body_aad(edit.doc_id, rev), dumps(body))
        state.bodies[rev] = (sealed, metas)
        state.changed = True

    async def _new_edit(
        self, conn: aiosqlite.Connection, edit: Edit, state: _Work, blobs: dict[str, bytes]
    ) -> str:
        tree = state.tree
        if edit.rev is None:
            # No _rev: a create, or a re-create on top of the deleted winner.
            parent = revtree.winning_rev(tree) if tree else None
            if parent is not None and not tree[parent].deleted:
                raise Conflict()
        else:
            if edit.rev not in tree or edit.rev in {i.parent for i in tree.values()}:
                raise Conflict()
            parent = edit.rev
        generation = 1 if parent is None else revtree.generation(parent) + 1
        ancestors = [parent] if parent is not None else []
        metas = await self._resolve_attachments(conn, edit, state, ancestors, generation, blobs)
        digests = [meta["digest"] for meta in metas.values()]
        try:
            rev = new_rev(parent, edit.deleted, edit.doc, digests)
        except TypeError as exc:  # orjson: a value JSON cannot hold
            raise BadRequest(f"Document is not valid JSON: {exc}", error="doc_validation") from None
        state.tree = revtree.stem(
            revtree.add_edit(tree, parent, rev, edit.deleted), self._core.revs_limit
        )
        self._keep(edit, state, rev, metas)
        return rev

    async def _replicated_edit(
        self, conn: aiosqlite.Connection, edit: Edit, state: _Work, blobs: dict[str, bytes]
    ) -> str:
        rev = edit.path[0]
        if rev in state.tree:
            return rev  # already known: CouchDB leaves the stored revision alone
        merged = revtree.merge(state.tree, revtree.path_tree(edit.path, edit.deleted))
        # Stubs refer to an ancestor the target already has (atts_since sent
        # only what is newer than it), by digest also to the other leaves.
        ancestors = [*edit.path[1:], *revtree.ancestry(state.tree, edit.path[-1])[1:]]
        others = [leaf for leaf in revtree.leaves(state.tree) if leaf not in ancestors]
        metas = await self._resolve_attachments(
            conn, edit, state, ancestors, revtree.generation(rev), blobs, others
        )
        state.tree = revtree.stem(merged, self._core.revs_limit)
        self._keep(edit, state, rev, metas)
        return rev

    async def _flush(
        self,
        conn: aiosqlite.Connection,
        changed: Sequence[tuple[str, _Work]],
        blobs: Mapping[str, bytes],
        seq: int,
        refs_dropped: bool = False,
    ) -> int:
        """Write the changed documents with new seqs; drop bodies that stopped being leaves."""
        doc_rows: list[tuple[str, bytes, str, int, int]] = []
        body_rows: list[tuple[str, str, bytes]] = []
        ref_rows: list[tuple[str, str, str]] = []
        gone: list[tuple[str, str]] = []
        used: set[str] = set()
        for doc_id, state in changed:
            seq += 1
            leaves = set(revtree.leaves(state.tree))
            winner = revtree.winning_rev(state.tree)
            doc_rows.append(
                (
                    doc_id,
                    orjson.dumps(revtree.encode_tree(state.tree)),
                    winner,
                    int(state.tree[winner].deleted),
                    seq,
                )
            )
            gone.extend((doc_id, rev) for rev in state.stored - leaves)
            for rev, (sealed, metas) in state.bodies.items():
                if rev in leaves:
                    body_rows.append((doc_id, rev, sealed))
                    for meta in metas.values():
                        ref_rows.append((doc_id, rev, meta["digest"]))
                        used.add(meta["digest"])
        await conn.executemany(
            "INSERT INTO docs (doc_id, tree, winner, deleted, seq) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT (doc_id) DO UPDATE SET tree = excluded.tree,"
            " winner = excluded.winner, deleted = excluded.deleted, seq = excluded.seq",
            doc_rows,
        )
        dropped = await self._drop_bodies(conn, gone) or refs_dropped
        await conn.executemany(
            "INSERT OR REPLACE INTO revs (doc_id, rev, body) VALUES (?, ?, ?)", body_rows
        )
        await conn.executemany(
            "INSERT OR IGNORE INTO att_refs (doc_id, rev, digest) VALUES (?, ?, ?)", ref_rows
        )
        new_blobs = [
            (
                digest,
                len(blobs[digest]),
                self._core.codec.seal(attachment_aad(digest), blobs[digest]),
            )
            for digest in used
            if digest in blobs
        ]
        await conn.executemany(
            "INSERT OR IGNORE INTO attachments (digest, length, data) VALUES (?, ?, ?)", new_blobs
        )
        if dropped:
            await self._collect_blobs(conn)
        await set_meta(conn, "update_seq", seq)
        return seq

    @staticmethod
    async def _drop_bodies(conn: aiosqlite.Connection, gone: Sequence[tuple[str, str]]) -> bool:
        """Delete these revisions' bodies; whether any attachment reference went with them."""
        if not gone:
            return False
        await conn.executemany("DELETE FROM revs WHERE doc_id = ? AND rev = ?", gone)
        before = conn.total_changes
        await conn.executemany("DELETE FROM att_refs WHERE doc_id = ? AND rev = ?", gone)
        return conn.total_changes != before

    @staticmethod
    async def _collect_blobs(conn: aiosqlite.Connection) -> None:
        """Delete blobs no leaf names any more (after the batch's new references are in)."""
        await conn.execute(
            "DELETE FROM attachments WHERE digest NOT IN (SELECT digest FROM att_refs)"
        )

    async def purge(self, revs: Mapping[str, Sequence[str]]) -> Doc:
        check_revs_map(revs, endpoint="_purge", check_id=check_doc_id)
        purged: dict[str, list[str]] = {}
        async with self._core.write_lock:
            async with self._core.transaction() as conn:
                trees = await self._core.trees(conn, list(revs))
                changed: list[tuple[str, _Work]] = []
                removed: list[str] = []
                refs_dropped = False
                for doc_id, doc_revs in revs.items():
                    tree = trees.get(doc_id, {})
                    leaves = revtree.leaves(tree)
                    # CouchDB 3 purges leaves only, with the branch that led only to them.
                    hit = [rev for rev in leaves if rev in set(doc_revs)]
                    purged[doc_id] = hit
                    if not hit:
                        continue
                    keep: set[str] = set()
                    for leaf in leaves:
                        if leaf not in hit:
                            keep.update(revtree.ancestry(tree, leaf))
                    state = _Work({r: i for r, i in tree.items() if r in keep}, frozenset(leaves))
                    if state.tree:
                        state.changed = True
                        changed.append((doc_id, state))
                    else:
                        removed.append(doc_id)
                        gone = [(doc_id, rev) for rev in leaves]
                        refs_dropped = await self._drop_bodies(conn, gone) or refs_dropped
                seq = await get_meta_int(conn, "update_seq")
                if removed:
                    await conn.executemany(
                        "DELETE FROM docs WHERE doc_id = ?", [(d,) for d in removed]
                    )
                    seq += len(removed)  # the feed moves on even when a document vanishes
                seq = await self._flush(conn, changed, {}, seq, refs_dropped)
                purge_seq = await get_meta_int(conn, "purge_seq") + sum(
                    1 for hit in purged.values() if hit
                )
                await set_meta(conn, "purge_seq", purge_seq)
            await self._core.committed(seq)
        return {"purge_seq": purge_seq, "purged": purged}
