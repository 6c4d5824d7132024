"""The revision tree: hand-built golden cases, properties, and PouchDB as an oracle."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sync import revtree as rt
from sync.errors import InvalidRev
from sync.revid import new_rev
from sync.revtree import RevInfo
from tests import peers

# --- golden cases -----------------------------------------------------------


def tree_of(*paths: tuple[list[str], bool]) -> dict[str, RevInfo]:
    tree: dict[str, RevInfo] = {}
    for path, deleted in paths:
        tree = rt.merge(tree, rt.path_tree(path, deleted))
    return tree


def test_single_branch_has_no_conflicts() -> None:
    tree = tree_of((["3-c", "2-b", "1-a"], False))
    assert rt.winning_rev(tree) == "3-c"
    assert rt.leaves(tree) == ["3-c"]
    assert rt.conflicts(tree) == []
    assert rt.revisions_of(tree, "3-c") == {"start": 3, "ids": ["c", "b", "a"]}


def test_higher_generation_wins_over_higher_hash() -> None:
    tree = tree_of((["3-a", "2-b", "1-a"], False), (["2-z", "1-a"], False))
    assert rt.winning_rev(tree) == "3-a"
    assert rt.conflicts(tree) == ["2-z"]


def test_equal_generation_picks_the_higher_hash_as_a_string() -> None:
    # "9" < "a" as strings: CouchDB compares rev ids bytewise, not numerically.
    tree = tree_of((["2-9ff", "1-a"], False), (["2-a00", "1-a"], False))
    assert rt.winning_rev(tree) == "2-a00"
    assert rt.conflicts(tree) == ["2-9ff"]


def test_live_leaf_beats_a_deleted_leaf_of_higher_generation() -> None:
    tree = tree_of((["4-d", "3-c", "2-b", "1-a"], True), (["2-x", "1-a"], False))
    assert rt.winning_rev(tree) == "2-x"
    assert not rt.is_deleted(tree)
    assert rt.conflicts(tree) == []
    assert rt.deleted_conflicts(tree) == ["4-d"]


def test_all_leaves_deleted_means_the_document_is_deleted() -> None:
    tree = tree_of((["2-b", "1-a"], True), (["2-c", "1-a"], True))
    assert rt.winning_rev(tree) == "2-c"
    assert rt.is_deleted(tree)
    assert rt.deleted_conflicts(tree) == ["2-b"]


def test_stemmed_histories_join_when_the_missing_link_arrives() -> None:
    # Device A kept only 3-c..4-d, device B only 1-a..2-b: two roots until a
    # path covering 2-b -> 3-c arrives, exactly like CouchDB's key-tree merge.
    tree = tree_of((["4-d", "3-c"], False), (["2-b", "1-a"], False))
    assert rt.leaves(tree) == ["4-d", "2-b"]
    assert rt.conflicts(tree) == ["2-b"]
    joined = rt.merge(tree, rt.path_tree(["3-c", "2-b"]))
    assert rt.leaves(joined) == ["4-d"]
    assert rt.ancestry(joined, "4-d") == ["4-d", "3-c", "2-b", "1-a"]


def test_stem_keeps_limit_revs_per_leaf_and_makes_new_roots() -> None:
    tree = tree_of((["5-e", "4-d", "3-c", "2-b", "1-a"], False), (["3-x", "2-b", "1-a"], False))
    stemmed = rt.stem(tree, 2)
    assert set(stemmed) == {"5-e", "4-d", "3-x", "2-b"}
    assert stemmed["4-d"].parent is None
    assert stemmed["2-b"].parent is None
    assert rt.winning_rev(stemmed) == rt.winning_rev(tree)


def test_stem_keeps_an_ancestor_another_leaf_still_needs() -> None:
    # 1-a is within 3 of leaf 3-x, so it stays, and stays 2-b's parent too,
    # even though the 5-e branch alone would have dropped it (CouchDB 3's rule).
    tree = tree_of((["5-e", "4-d", "3-c", "2-b", "1-a"], False), (["3-x", "2-y", "1-a"], False))
    stemmed = rt.stem(tree, 3)
    assert set(stemmed) == {"5-e", "4-d", "3-c", "3-x", "2-y", "1-a"}
    assert stemmed["3-c"].parent is None


def test_merging_a_known_path_changes_nothing() -> None:
    tree = tree_of((["3-c", "2-b", "1-a"], False))
    assert rt.merge(tree, rt.path_tree(["2-b", "1-a"])) == tree


def test_deletion_flag_of_a_rev_survives_merging_it_as_an_ancestor() -> None:
    tree = rt.merge(rt.path_tree(["2-b", "1-a"], deleted=True), rt.path_tree(["3-c", "2-b"]))
    assert tree["2-b"].deleted


def test_possible_ancestors_are_older_leaves() -> None:
    tree = tree_of((["2-b", "1-a"], False), (["4-x", "3-x", "2-x", "1-a"], False))
    assert rt.missing_revs(tree, ["3-new", "2-b"]) == ["3-new"]
    assert rt.possible_ancestors(tree, ["3-new"]) == ["2-b"]


def test_inputs_are_never_mutated() -> None:
    a = tree_of((["2-b", "1-a"], False))
    b = tree_of((["2-c", "1-a"], True))
    a_before, b_before = dict(a), dict(b)
    rt.stem(rt.merge(a, b), 1)
    rt.add_edit(a, "2-b", "3-z", False)
    assert (a, b) == (a_before, b_before)


@pytest.mark.parametrize(
    "rev", ["", "1", "-abc", "0-abc", "01-abc", "a-abc", "1-", "1-ab/c", 3, None, "1-ab c"]
)
def test_invalid_revs_are_refused(rev: Any) -> None:
    with pytest.raises(InvalidRev):
        rt.parse_rev(rev)


@pytest.mark.parametrize(
    "revisions",
    [{"start": 1, "ids": []}, {"start": 1, "ids": ["a", "b"]}, {"start": "2", "ids": ["a"]},
     {"ids": ["a"]}, {"start": True, "ids": ["a"]}],
)
def test_malformed_revisions_are_refused(revisions: dict[str, Any]) -> None:
    with pytest.raises(InvalidRev):
        rt.path_from_revisions(revisions)


def test_path_must_descend_one_generation_at_a_time() -> None:
    with pytest.raises(InvalidRev):
        rt.path_tree(["3-c", "1-a"])


def test_same_edit_on_two_replicas_is_the_same_revision() -> None:
    body = {"type": "complaint", "description": "साइकिल चोरी"}
    first = new_rev("1-abc", False, {**body, "_id": "x"}, ["md5-1", "md5-2"])
    again = new_rev("1-abc", False, {"description": "साइकिल चोरी", "type": "complaint"},
                    ["md5-2", "md5-1"])
    assert first == again
    assert first.startswith("2-")
    assert len(first) == 2 + 32
    assert new_rev("1-abc", True, body) != new_rev("1-abc", False, body)
    assert new_rev("1-abd", False, body) != new_rev("1-abc", False, body)
    assert new_rev(None, False, body).startswith("1-")


# --- properties -------------------------------------------------------------

HASHES = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@st.composite
def paths(draw: st.DrawFn) -> tuple[list[str], bool]:
    """A random (possibly stemmed) branch over a small alphabet, so paths overlap."""
    newest = draw(st.integers(min_value=1, max_value=6))
    length = draw(st.integers(min_value=1, max_value=newest))
    hashes = draw(st.lists(HASHES, min_size=length, max_size=length))
    # A rev's hash determines its ancestry, as real content hashes do: reuse one
    # fixed ancestry per hash prefix so two paths never disagree about a parent.
    path = [f"{newest - i}-{''.join(hashes[i:])}" for i in range(length)]
    return path, draw(st.booleans())


def deletion_consistent(inserts: list[tuple[list[str], bool]]) -> list[tuple[list[str], bool]]:
    # A rev's deletion flag is part of its content: the first insert that makes
    # a rev a leaf decides it for every later insert of the same rev.
    seen: dict[str, bool] = {}
    return [(path, seen.setdefault(path[0], deleted)) for path, deleted in inserts]


trees = st.lists(paths(), min_size=1, max_size=6).map(
    lambda inserts: tree_of(*deletion_consistent(inserts))
)


@settings(max_examples=200, deadline=None)
@given(trees, trees, trees)
def test_merge_is_a_semilattice(a: rt.RevTree, b: rt.RevTree, c: rt.RevTree) -> None:
    assert rt.merge(a, a) == a
    assert rt.merge(a, {}) == a == rt.merge({}, a)
    assert rt.merge(a, b) == rt.merge(b, a)
    assert rt.merge(rt.merge(a, b), c) == rt.merge(a, rt.merge(b, c))


@settings(max_examples=200, deadline=None)
@given(trees, st.integers(min_value=1, max_value=5))
def test_stemming_keeps_leaves_winner_and_is_idempotent(tree: rt.RevTree, limit: int) -> None:
    stemmed = rt.stem(tree, limit)
    assert rt.leaves(stemmed) == rt.leaves(tree)
    assert rt.winning_rev(stemmed) == rt.winning_rev(tree)
    assert rt.stem(stemmed, limit) == stemmed
    # CouchDB 3 keeps a rev when it is within `limit` of ANY leaf below it, so a
    # short branch can keep a shared ancestor that a long branch alone would drop.
    near_a_leaf = set().union(*(rt.ancestry(tree, leaf, limit) for leaf in rt.leaves(tree)))
    assert set(stemmed) == near_a_leaf


@settings(max_examples=200, deadline=None)
@given(trees)
def test_winner_and_conflicts_partition_the_leaves(tree: rt.RevTree) -> None:
    winner = rt.winning_rev(tree)
    leaves = rt.leaves(tree)
    assert leaves[0] == winner
    assert sorted([winner, *rt.conflicts(tree), *rt.deleted_conflicts(tree)]) == sorted(leaves)
    if not tree[winner].deleted:
        assert all(tree[rev].deleted for rev in rt.deleted_conflicts(tree))
    else:
        assert rt.conflicts(tree) == []


@settings(max_examples=100, deadline=None)
@given(trees)
def test_encoding_round_trips(tree: rt.RevTree) -> None:
    assert rt.decode_tree(json.loads(json.dumps(rt.encode_tree(tree)))) == tree


# --- PouchDB as the oracle ---------------------------------------------------


def random_case(rng: random.Random) -> dict[str, Any]:
    """Inserts of random, sometimes stemmed branches of one random true history."""
    parent: dict[str, str | None] = {}
    deleted: dict[str, bool] = {}
    frontier: list[str] = []
    for _ in range(rng.randint(1, 12)):
        base = rng.choice(frontier) if frontier and rng.random() < 0.9 else None
        gen = 1 if base is None else int(base.split("-")[0]) + 1
        rev = f"{gen}-{rng.choice('0123456789abcdef')}{rng.choice('0123456789abcdef')}"
        if rev in parent:
            continue
        parent[rev], deleted[rev] = base, rng.random() < 0.3
        frontier.append(rev)
    inserts = []
    for _ in range(rng.randint(1, 6)):
        rev: str | None = rng.choice(frontier)
        path: list[str] = []
        keep = rng.randint(1, 8)
        while rev is not None and len(path) < keep:
            path.append(rev)
            rev = parent[rev]
        inserts.append({"path": path, "deleted": deleted[path[0]]})
    return {"depth": rng.randint(1, 6), "inserts": inserts}


def ours(case: dict[str, Any]) -> dict[str, Any]:
    tree: rt.RevTree = {}
    for insert in case["inserts"]:
        tree = rt.stem(rt.merge(tree, rt.path_tree(insert["path"], insert["deleted"])),
                       case["depth"])
    return {
        "winner": rt.winning_rev(tree),
        "leaves": sorted(rt.leaves(tree)),
        "conflicts": sorted(rt.conflicts(tree)),
        "revs": sorted(tree),
    }


@pytest.mark.pouchdb
async def test_winner_conflicts_and_stemming_agree_with_pouchdb_merge() -> None:
    peers.require(peers.has_node_package("pouchdb-merge"), "pouchdb-merge (npm)")
    rng = random.Random(20261129)
    cases = [random_case(rng) for _ in range(1500)]
    process = await asyncio.create_subprocess_exec(
        "node", str(peers.ROOT / "tests/sync/js/revtree_oracle.js"),
        cwd=peers.ROOT, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate(json.dumps(cases).encode())
    assert process.returncode == 0
    theirs = json.loads(out)
    assert len(theirs) == len(cases)
    for pouch in theirs:
        # pouchdb-merge 7 sometimes keeps a subtree twice when a stemmed root is
        # later joined to its ancestors, so it lists those revs (and leaves)
        # twice; the sets are what both must agree on.
        pouch["revs"] = sorted(set(pouch["revs"]))
        pouch["leaves"] = sorted(set(pouch["leaves"]))
    disagreements = [(case, ours(case), pouch) for case, pouch in zip(cases, theirs, strict=True)
                     if ours(case) != pouch]
    assert disagreements == []
