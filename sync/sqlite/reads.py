"""Reading documents: ``GET /{db}/{id}``, ``open_revs``, ``_bulk_get``, ``_revs_diff``,
and the rendering of stored revisions as CouchDB returns them (which
:mod:`~sync.sqlite.feed` shares for ``include_docs``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from sync import revtree
from sync.attachments import parse_atts_since, render_attachments, revpos_since
from sync.database import Doc
from sync.errors import BadRequest, NotFound
from sync.revs_map import check_revs_map
from sync.revtree import RevInfo
from sync.sqlite.core import Loaded, StoreCore
from sync.sqlite.edits import check_doc_id

__all__ = ["Reads", "RenderItem"]

# (doc_id, rev, tree, sealed body): one stored revision to render.
RenderItem = tuple[str, str, Mapping[str, RevInfo], bytes]


def _leaves_from(tree: Mapping[str, RevInfo], rev: str) -> list[str]:
    """The leaves descending from ``rev`` (``latest=true``), winner first."""
    return [leaf for leaf in revtree.leaves(tree) if rev in revtree.ancestry(tree, leaf)]


class Reads:
    """The read side of one store, over its :class:`~sync.sqlite.core.StoreCore`."""

    def __init__(self, core: StoreCore) -> None:
        self._core = core

    async def render_all(
        self,
        items: Sequence[RenderItem],
        *,
        revisions: bool,
        attachments: bool,
        atts_since: Sequence[list[str] | None] | None = None,
    ) -> list[Doc]:
        """Documents for ``(doc_id, rev, tree, sealed body)``, as CouchDB returns them.

        ``atts_since`` (one entry per item) inlines only the attachments newer
        than those revs (:func:`sync.attachments.revpos_since`); it implies
        ``attachments``, as in CouchDB's ``_bulk_get``.
        """
        bodies = [self._core.open_body(doc_id, rev, sealed) for doc_id, rev, _, sealed in items]
        since = atts_since or [None] * len(items)
        inline_after = [
            0 if revs is None else revpos_since(revtree.ancestry(tree, rev), set(revs))
            for (_, rev, tree, _), revs in zip(items, since, strict=True)
        ]
        wants_data = [attachments or revs is not None for revs in since]
        blobs: dict[str, bytes] = {}
        if any(wants_data):
            blobs = await self._core.blobs(
                meta["digest"]
                for body, after, wanted in zip(bodies, inline_after, wants_data, strict=True)
                if wanted
                for meta in body.get("_attachments", {}).values()
                if meta["revpos"] > after
            )
        docs: list[Doc] = []
        for (doc_id, rev, tree, _), body, wanted, after in zip(
            items, bodies, wants_data, inline_after, strict=True
        ):
            metas = body.pop("_attachments", None)
            doc: Doc = {"_id": doc_id, "_rev": rev, **body}
            if tree[rev].deleted:
                doc["_deleted"] = True
            if metas:
                doc["_attachments"] = render_attachments(
                    metas,
                    blobs.__getitem__ if wanted else None,
                    inline_after=after,
                )
            if revisions:
                doc["_revisions"] = revtree.revisions_of(tree, rev)
            docs.append(doc)
        return docs

    async def get(
        self,
        doc_id: str,
        *,
        rev: str | None,
        revs: bool,
        conflicts: bool,
        deleted_conflicts: bool,
        attachments: bool,
        latest: bool,
    ) -> Doc:
        check_doc_id(doc_id)
        if rev is not None:
            revtree.parse_rev(rev)
        async with self._core.snapshot(attachments):
            loaded = (await self._core.load([doc_id])).get(doc_id)
            if loaded is None:
                raise NotFound("missing")
            tree = loaded.tree
            winner = revtree.winning_rev(tree)
            if rev is None:
                if tree[winner].deleted:
                    raise NotFound("deleted")
                target = winner
            elif rev not in tree:
                raise NotFound("missing")
            else:
                target = _leaves_from(tree, rev)[0] if latest else rev
            sealed = loaded.bodies.get(target)
            if sealed is None:
                raise NotFound("missing")  # an old revision: its body was compacted away
            (doc,) = await self.render_all(
                [(doc_id, target, tree, sealed)], revisions=revs, attachments=attachments
            )
        if target == winner:
            if conflicts and (found := revtree.conflicts(tree)):
                doc["_conflicts"] = found
            if deleted_conflicts and (found := revtree.deleted_conflicts(tree)):
                doc["_deleted_conflicts"] = found
        return doc

    @staticmethod
    def _pick(
        loaded: Loaded | None, revs: Sequence[str] | Literal["all"], latest: bool
    ) -> list[tuple[str, str | None]]:
        """``(requested rev, rev to show or None when missing)`` for an ``open_revs`` request."""
        if revs == "all":
            return [] if loaded is None else [(r, r) for r in revtree.leaves(loaded.tree)]
        picked: list[tuple[str, str | None]] = []
        for rev in revs:
            revtree.parse_rev(rev)
            if loaded is None or rev not in loaded.tree:
                picked.append((rev, None))
            elif latest:
                picked.extend((rev, leaf) for leaf in _leaves_from(loaded.tree, rev))
            else:
                picked.append((rev, rev if rev in loaded.bodies else None))
        return picked

    async def _open_revs_of(
        self,
        requests: Sequence[tuple[str, Sequence[str] | Literal["all"] | None]],
        *,
        revisions: bool,
        attachments: bool,
        latest: bool,
        atts_since: Sequence[list[str] | None] | None = None,
    ) -> list[list[Doc]]:
        """``open_revs`` answers for several documents at once (``None`` revs: the winner;
        ``atts_since``: one entry per request, see :meth:`render_all`)."""
        since = atts_since or [None] * len(requests)
        async with self._core.snapshot(attachments or any(since)):
            loaded = await self._core.load([doc_id for doc_id, _ in requests])
            plans: list[list[tuple[str, str | None]]] = []
            items: list[RenderItem] = []
            item_since: list[list[str] | None] = []
            for (doc_id, revs), revs_since in zip(requests, since, strict=True):
                doc = loaded.get(doc_id)
                plan: list[tuple[str, str | None]]
                if revs is None:
                    plan = [("", revtree.winning_rev(doc.tree) if doc else None)]
                else:
                    plan = self._pick(doc, revs, latest)
                plans.append(plan)
                for _, shown in plan:
                    if shown is not None and doc is not None:
                        items.append((doc_id, shown, doc.tree, doc.bodies[shown]))
                        item_since.append(revs_since)
            rendered = iter(
                await self.render_all(
                    items, revisions=revisions, attachments=attachments, atts_since=item_since
                )
            )
        return [
            [
                {"ok": next(rendered)} if shown is not None else {"missing": asked}
                for asked, shown in plan
            ]
            for plan in plans
        ]

    async def open_revs(
        self,
        doc_id: str,
        revs: Sequence[str] | Literal["all"],
        *,
        include_revisions: bool,
        attachments: bool,
        latest: bool,
    ) -> list[Doc]:
        check_doc_id(doc_id)
        if revs != "all" and (isinstance(revs, str) or not isinstance(revs, Sequence)):
            raise BadRequest('open_revs must be "all" or a JSON array of revs')
        (answer,) = await self._open_revs_of(
            [(doc_id, revs)], revisions=include_revisions, attachments=attachments, latest=latest
        )
        return answer

    async def bulk_get(
        self, docs: Sequence[Mapping[str, Any]], *, revs: bool, attachments: bool, latest: bool
    ) -> list[Doc]:
        if isinstance(docs, str | bytes) or not isinstance(docs, Sequence):
            raise BadRequest('_bulk_get needs {"docs": [{"id", "rev"?}, ...]}')
        requests: list[tuple[str, Sequence[str] | None]] = []
        since: list[list[str] | None] = []
        for item in docs:
            if not isinstance(item, Mapping):
                raise BadRequest("Each requested doc must be an object")
            doc_id = check_doc_id(item.get("id"))
            rev = item.get("rev")
            if rev is not None:
                revtree.parse_rev(rev)
            requests.append((doc_id, None if rev is None else [rev]))
            since.append(parse_atts_since(item.get("atts_since")))
        answers = await self._open_revs_of(
            requests, revisions=revs, attachments=attachments, latest=latest, atts_since=since
        )
        results: list[Doc] = []
        for (doc_id, asked), answer in zip(requests, answers, strict=True):
            shown: list[Doc] = []
            for entry in answer:
                if "ok" in entry:
                    shown.append(entry)
                else:
                    # CouchDB 3 names an unspecified rev "undefined" in this error.
                    rev = asked[0] if asked else "undefined"
                    error = {"id": doc_id, "rev": rev, "error": "not_found", "reason": "missing"}
                    shown.append({"error": error})
            results.append({"id": doc_id, "docs": shown})
        return results

    async def revs_diff(self, revs: Mapping[str, Sequence[str]]) -> dict[str, Doc]:
        check_revs_map(revs, endpoint="_revs_diff", check_id=check_doc_id)
        trees = await self._core.trees(self._core.reader, list(revs))
        diff: dict[str, Doc] = {}
        for doc_id, doc_revs in revs.items():
            tree = trees.get(doc_id, {})
            missing = revtree.missing_revs(tree, dict.fromkeys(doc_revs))
            if not missing:
                continue
            entry: Doc = {"missing": missing}
            if tree and (ancestors := revtree.possible_ancestors(tree, missing)):
                entry["possible_ancestors"] = ancestors
            diff[doc_id] = entry
        return diff
