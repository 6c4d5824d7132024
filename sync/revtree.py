"""A document's revision tree, as pure functions: no I/O, no store, no clock.

Data shapes (documented once, here)
-----------------------------------
*rev*
    CouchDB's ``"<generation>-<hash>"`` string, e.g. ``"3-9f8e...``.
    The generation is the depth of the revision in its document's history.
*tree* (:data:`RevTree`)
    A mapping from every rev a replica knows of one document to its
    :class:`RevInfo`: the parent rev (``None`` for a root: the document's first
    revision, or the oldest one kept after stemming) and whether that revision
    is a deletion. A leaf is a rev that is nobody's parent. A tree may have
    several roots after stemming, exactly like CouchDB's key tree.
*path*
    A list of revs newest first, each the parent of the one before, as in a
    document's ``_revisions`` (``{"start": N, "ids": [hash, ...]}``).

Trees are never mutated: every function returns a new mapping. The flat
"rev -> parent" form makes merging a union and stemming a walk from each leaf,
which is what CouchDB's ``couch_key_tree`` and PouchDB's ``pouchdb-merge``
compute on their nested forms.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sync.errors import InvalidRev

__all__ = [
    "DEFAULT_REVS_LIMIT",
    "MAX_GENERATION",
    "RevInfo",
    "RevTree",
    "add_edit",
    "ancestry",
    "conflicts",
    "decode_tree",
    "deleted_conflicts",
    "encode_tree",
    "generation",
    "is_deleted",
    "leaves",
    "merge",
    "missing_revs",
    "parse_rev",
    "path_from_revisions",
    "path_tree",
    "possible_ancestors",
    "revisions_of",
    "stem",
    "winning_rev",
]

# CouchDB's default `_revs_limit`: how many ancestors each leaf keeps.
DEFAULT_REVS_LIMIT = 1000
# The highest generation a rev may have. Every edit adds one, so 2^31 - 1 is an
# edit a second for 68 years: no real document gets near it. CouchDB stores any
# integer, but orjson reads integers past 64 bits as floats and JavaScript loses
# precision past 2^53: a stored "100000000000000000000000-..." came back as
# ``{"start": 1e+23}``, PouchDB sent "1e+23-..." back, and every device of the
# station failed to sync until the document was purged (issue 14). So every
# door (the gateway, the embedded store, the replicator) refuses such revs.
MAX_GENERATION = 2**31 - 1
# Digits of MAX_GENERATION: a longer generation is refused before int() reads
# it (Python refuses to convert strings of more than 4,300 digits with a 500).
_MAX_GENERATION_DIGITS = len(str(MAX_GENERATION))


@dataclass(frozen=True, slots=True)
class RevInfo:
    parent: str | None
    deleted: bool = False


RevTree = Mapping[str, RevInfo]


def parse_rev(rev: object) -> tuple[int, str]:
    """Split ``"N-hash"`` into ``(N, hash)``; anything else, and a generation
    above :data:`MAX_GENERATION`, is :class:`InvalidRev`.

    The one parse of a rev: every rev a request names (``_rev``, ``?rev=``,
    ``_revisions``, ``_revs_diff``, ``open_revs``, ``atts_since``) goes through it.
    """
    if not isinstance(rev, str):
        raise InvalidRev(f"Invalid rev format: {_shown(rev)}")
    gen, sep, rev_hash = rev.partition("-")
    if not sep or not gen.isascii() or not gen.isdigit() or not rev_hash or gen.startswith("0"):
        raise InvalidRev(f"Invalid rev format: {_shown(rev)}")
    if not rev_hash.isascii() or not rev_hash.isalnum():
        raise InvalidRev(f"Invalid rev format: {_shown(rev)}")
    if len(gen) > _MAX_GENERATION_DIGITS or int(gen) > MAX_GENERATION:
        raise InvalidRev(f"Invalid rev format: a generation is at most {MAX_GENERATION}")
    return int(gen), rev_hash


def _shown(value: object) -> str:
    # A rev is short; a hostile one may be megabytes, which the error must not echo.
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def generation(rev: str) -> int:
    return parse_rev(rev)[0]


def path_from_revisions(revisions: Mapping[str, Any]) -> list[str]:
    """Full revs, newest first, from a ``_revisions`` object ``{"start", "ids"}``."""
    start = revisions.get("start")
    ids = revisions.get("ids")
    if not isinstance(start, int) or isinstance(start, bool) or not isinstance(ids, list):
        raise InvalidRev("_revisions must be {\"start\": integer, \"ids\": [string, ...]}")
    if start > MAX_GENERATION:
        raise InvalidRev(f"_revisions.start must be at most {MAX_GENERATION}")
    if not ids or start - len(ids) < 0:
        raise InvalidRev("_revisions.start is smaller than the number of ids")
    path = [f"{start - i}-{rev_hash}" for i, rev_hash in enumerate(ids)]
    for rev in path:
        parse_rev(rev)
    return path


def path_tree(path: Sequence[str], deleted: bool = False) -> dict[str, RevInfo]:
    """A one-branch tree from a path (newest first); only the leaf's deletion is known."""
    if not path:
        raise InvalidRev("a revision path needs at least one rev")
    gens = [parse_rev(rev)[0] for rev in path]
    if any(older != newer - 1 for newer, older in itertools.pairwise(gens)):
        raise InvalidRev("revision path generations must descend by one")
    tree = {rev: RevInfo(parent) for rev, parent in itertools.pairwise(path)}
    tree[path[-1]] = RevInfo(None)
    tree[path[0]] = RevInfo(tree[path[0]].parent, deleted)
    return tree


def merge(a: RevTree, b: RevTree) -> dict[str, RevInfo]:
    """Union of two trees of one document.

    A rev both sides know keeps whichever parent is known (one side may have
    stemmed it away) and is a deletion if either side knows it is one: a
    rev's deletion flag is part of its content, so only a side that merely
    saw it as an ancestor in a ``_revisions`` path reports ``False`` for it.
    """
    merged = dict(a)
    for rev, info in b.items():
        mine = merged.get(rev)
        if mine is None:
            merged[rev] = info
        elif mine != info:
            merged[rev] = RevInfo(mine.parent or info.parent, mine.deleted or info.deleted)
    return merged


def add_edit(tree: RevTree, parent: str | None, rev: str, deleted: bool) -> dict[str, RevInfo]:
    """The tree with one new revision ``rev`` as a child of ``parent``."""
    return merge(tree, {rev: RevInfo(parent, deleted)})


def leaves(tree: RevTree) -> list[str]:
    """Leaf revs, winner first, in CouchDB's order (see :func:`_winner_key`)."""
    return sorted(_leaf_set(tree), key=lambda r: _winner_key(tree, r), reverse=True)


def _winner_key(tree: RevTree, rev: str) -> tuple[bool, int, str]:
    # CouchDB and PouchDB agree: live leaves beat deleted ones, then the higher
    # generation wins, then the higher rev hash compared as a plain string.
    gen, rev_hash = parse_rev(rev)
    return (not tree[rev].deleted, gen, rev_hash)


def winning_rev(tree: RevTree) -> str:
    if not tree:
        raise ValueError("an empty tree has no winner")
    return max(_leaf_set(tree), key=lambda r: _winner_key(tree, r))


def is_deleted(tree: RevTree) -> bool:
    """Whether the document as a whole is deleted (its winner is a deletion)."""
    return tree[winning_rev(tree)].deleted


def conflicts(tree: RevTree) -> list[str]:
    """Live leaves that lost, as CouchDB's ``_conflicts`` lists them."""
    return [rev for rev in leaves(tree)[1:] if not tree[rev].deleted]


def deleted_conflicts(tree: RevTree) -> list[str]:
    """Deleted leaves other than the winner, as CouchDB's ``_deleted_conflicts``."""
    return [rev for rev in leaves(tree)[1:] if tree[rev].deleted]


def ancestry(tree: RevTree, rev: str, limit: int | None = None) -> list[str]:
    """``rev`` and its known ancestors, newest first (at most ``limit`` of them)."""
    path: list[str] = []
    current: str | None = rev
    while current is not None and current in tree and (limit is None or len(path) < limit):
        path.append(current)
        current = tree[current].parent
    return path


def revisions_of(tree: RevTree, rev: str, limit: int | None = None) -> dict[str, Any]:
    """The ``_revisions`` object CouchDB returns for ``rev`` with ``revs=true``."""
    path = ancestry(tree, rev, limit)
    return {"start": generation(rev), "ids": [parse_rev(r)[1] for r in path]}


def stem(tree: RevTree, limit: int = DEFAULT_REVS_LIMIT) -> dict[str, RevInfo]:
    """Keep the newest ``limit`` revs of every leaf's branch, as CouchDB's stemming does.

    A rev whose parent was dropped becomes a root.
    """
    if limit < 1:
        raise ValueError("revs_limit must be at least 1")
    keep: set[str] = set()
    for leaf in _leaf_set(tree):
        keep.update(ancestry(tree, leaf, limit))
    if len(keep) == len(tree):
        return dict(tree)
    return {
        rev: info if info.parent in keep or info.parent is None else RevInfo(None, info.deleted)
        for rev, info in tree.items()
        if rev in keep
    }


def missing_revs(tree: RevTree, revs: Iterable[str]) -> list[str]:
    """Those of ``revs`` this tree does not know (the ``missing`` of ``_revs_diff``)."""
    return [rev for rev in revs if rev not in tree]


def possible_ancestors(tree: RevTree, missing: Iterable[str]) -> list[str]:
    """Leaves older than some missing rev, as CouchDB's ``_revs_diff`` reports them."""
    newest = max((generation(rev) for rev in missing), default=0)
    return [rev for rev in leaves(tree) if generation(rev) < newest]


def encode_tree(tree: RevTree) -> dict[str, list[Any]]:
    """A JSON-ready form: ``{rev: [parent, deleted]}``."""
    return {rev: [info.parent, info.deleted] for rev, info in tree.items()}


def decode_tree(data: Mapping[str, Sequence[Any]]) -> dict[str, RevInfo]:
    return {rev: RevInfo(parent, bool(deleted)) for rev, (parent, deleted) in data.items()}


def _leaf_set(tree: RevTree) -> set[str]:
    parents = {info.parent for info in tree.values()}
    return {rev for rev in tree if rev not in parents}
