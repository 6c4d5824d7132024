"""The per-type merge: each rule, and the properties the gateways rely on.

Properties over random leaves (hypothesis): the result is a function of the
*set* of leaves (any order, any duplicates), merging the result with any of
its own leaves gives it back (absorption: a gateway merging again after
another writes nothing new), two computations write the same revisions, and
the lattice parts (status, logs, ``time_out``) are associative: merging in
steps gives what merging at once gives. Fields decided by last writer are
not associative in steps (a record carries one ``updated_at``, not one per
field); the gateway always merges every live leaf at once.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.merge import REOPENED, Leaf, MergeResult, differing, merge_leaves, with_choices
from sync.revid import new_rev
from tests.schemas.merge_cases import Edits, build, leaf, leaf_sets, record


def _same(a: MergeResult, b: MergeResult) -> bool:
    return (a.body, a.parent, a.losers, a.unmergeable) == (
        b.body,
        b.parent,
        b.losers,
        b.unmergeable,
    )


@settings(max_examples=150, deadline=None)
@given(leaf_sets, st.randoms(use_true_random=False), st.booleans())
def test_the_result_depends_only_on_the_set_of_leaves(
    edits: Any, rnd: random.Random, with_base: bool
) -> None:
    base, leaves = build(edits)
    shuffled = leaves * 2
    rnd.shuffle(shuffled)
    b = base if with_base else None
    assert _same(merge_leaves(leaves, b), merge_leaves(shuffled, b))


@settings(max_examples=150, deadline=None)
@given(leaf_sets, st.data())
def test_merging_the_result_with_its_own_leaves_gives_it_back(
    edits: Any, data: st.DataObject
) -> None:
    base, leaves = build(edits)
    first = merge_leaves(leaves, base)
    merged = Leaf(new_rev(first.parent, False, first.body), first.body)
    again_with = data.draw(st.lists(st.sampled_from(leaves), unique_by=lambda leaf: leaf.rev))
    again = merge_leaves([merged, *again_with], base)
    assert again.parent == merged.rev
    if first.mergeable:
        assert again.body == first.body
        assert again.mergeable


@settings(max_examples=150, deadline=None)
@given(leaf_sets, st.data())
def test_the_lattice_parts_are_associative(edits: Edits, data: st.DataObject) -> None:
    base, leaves = build(edits)
    split = data.draw(st.integers(min_value=1, max_value=len(leaves) - 1)) if len(leaves) > 1 else 1
    at_once = merge_leaves(leaves, base)
    part = merge_leaves(leaves[:split], base)
    stepped_leaf = Leaf(new_rev(part.parent, False, part.body), part.body)
    stepped = merge_leaves([stepped_leaf, *leaves[split:]], base)
    if at_once.mergeable and part.mergeable and stepped.mergeable:
        assert stepped.body["status"] == at_once.body["status"]
    assert _entries(stepped) == _entries(at_once)


def _entries(result: MergeResult) -> list[tuple[str, str]]:
    return sorted((e["at"], e["action"]) for e in result.body["action_log"])


def test_each_branch_keeps_its_own_change_against_the_base() -> None:
    base = record()
    a = leaf(
        base, {"description": "Seen at the market.", "updated_at": "2026-01-02T10:00:00+05:30"}, []
    )
    b = leaf(
        base, {"complainant.phone": "9876543210", "updated_at": "2026-01-01T10:00:00+05:30"}, []
    )
    result = merge_leaves([a, b], base)
    assert result.mergeable
    assert result.body["description"] == "Seen at the market."
    assert result.body["complainant"]["phone"] == "9876543210"
    assert result.body["updated_at"] == "2026-01-02T10:00:00+05:30"


def test_without_a_base_the_last_writer_wins_by_instant_not_by_text() -> None:
    base = record()
    # 10:00 in India is 04:30 UTC: earlier than 05:00Z although its text sorts later.
    a = leaf(base, {"description": "India time", "updated_at": "2026-01-02T10:00:00+05:30"}, [])
    b = leaf(base, {"description": "UTC", "updated_at": "2026-01-02T05:00:00Z"}, [])
    assert merge_leaves([a, b]).body["description"] == "UTC"


def test_a_closed_complaint_stays_closed_unless_reopened() -> None:
    base = record()
    closing = leaf(base, {"status": "closed"}, [("2026-01-02T10:00:00Z", "closed")])
    working = leaf(base, {"status": "under_investigation"}, [("2026-01-03T10:00:00Z", "note")])
    assert merge_leaves([closing, working], base).body["status"] == "closed"
    closed = {**copy.deepcopy(base), "status": "closed"}
    closed["action_log"].append({"at": "2026-01-02T10:00:00Z", "by": "o", "action": "closed"})
    reopened = leaf(closed, {"status": "under_investigation"}, [("2026-01-04T10:00:00Z", REOPENED)])
    still = leaf(closed, {"description": "Closed, with a note."}, [])
    result = merge_leaves([reopened, still], closed)
    assert result.body["status"] == "under_investigation"
    # A branch that left "closed" without logging a reopening is not trusted.
    silent = leaf(closed, {"status": "under_investigation"}, [])
    assert "status" in merge_leaves([silent, still], closed).unmergeable


def test_two_final_statuses_are_not_merged() -> None:
    base = record()
    closed = leaf(base, {"status": "closed"}, [])
    fir = leaf(base, {"status": "converted_to_fir", "fir_number": "12/2026"}, [])
    assert merge_leaves([closed, fir], base).unmergeable == ("status",)


def test_facts_edited_differently_are_queued_even_with_a_base() -> None:
    base = record()
    a = leaf(base, {"complainant.name": "Sunita Devi"}, [])
    b = leaf(base, {"complainant.name": "Sunita Kumari"}, [])
    assert merge_leaves([a, b], base).unmergeable == ("complainant.name",)
    # Changed on one branch only, it is no conflict.
    c = leaf(base, {"description": "Only this."}, [])
    assert merge_leaves([a, c], base).mergeable


def test_a_visitor_has_left_if_either_side_says_so() -> None:
    base = record("visitor_entry")
    base.pop("time_out", None)
    out = leaf(
        base,
        {"time_out": "2026-01-02T12:00:00+05:30", "updated_at": "2026-01-02T12:00:00+05:30"},
        [],
    )
    # The later writer of the purpose: without a base, last writer wins it
    # (equal times would leave it to the rev ids, which follow the body).
    purpose = leaf(
        base,
        {
            "purpose": "To meet the SHO about a lost phone",
            "updated_at": "2026-01-02T13:00:00+05:30",
        },
        [],
    )
    result = merge_leaves([out, purpose])  # no base: still set
    assert result.mergeable
    assert result.body["time_out"] == "2026-01-02T12:00:00+05:30"
    assert result.body["purpose"] == "To meet the SHO about a lost phone"


def test_a_verification_visit_merges_field_by_field_but_not_its_outcome() -> None:
    base = record("verification_visit")
    base["recommendation"] = "clear"
    findings = leaf(base, {"findings": "Lives here for six years."}, [])
    gps = leaf(base, {"gps": {"lat": 25.6, "lon": 85.1}}, [])
    merged = merge_leaves([findings, gps], base)
    assert merged.mergeable
    assert (merged.body["findings"], merged.body["gps"]) == (
        "Lives here for six years.",
        {"lat": 25.6, "lon": 85.1},
    )
    adverse = leaf(base, {"recommendation": "adverse"}, [])
    not_found = leaf(base, {"recommendation": "not_found"}, [])
    assert merge_leaves([adverse, not_found], base).unmergeable == ("recommendation",)


def test_an_appointment_double_booking_is_never_merged() -> None:
    base = {
        "type": "appointment",
        "schema_version": 1,
        "station_id": "alpha",
        "citizen": {"name": "Asha Rani", "phone": "9876543210"},
        "with": "sho",
        "slot": "2026-01-05T11:00:00+05:30",
        "purpose": "Passport verification",
        "status": "requested",
    }
    one = leaf(base, {"citizen.name": "Ramesh Kumar"}, [])
    other = leaf(base, {"citizen.name": "Mohan Lal"}, [])
    result = merge_leaves([one, other], base)
    assert not result.mergeable
    assert "citizen.name" in result.unmergeable


def test_different_attachments_are_not_merged() -> None:
    base = record("verification_visit")
    a = leaf(base, {}, [])
    b = leaf(base, {"findings": "x"}, [])
    b = Leaf(b.rev, {**b.body, "_attachments": {"p.jpg": {"digest": "md5-x", "stub": True}}})
    assert "_attachments" in merge_leaves([a, b], base).unmergeable


def test_choices_take_fields_from_the_chosen_versions() -> None:
    base = record()
    a = leaf(base, {"complainant.name": "Sunita Devi", "description": "A"}, [])
    b = leaf(base, {"complainant.name": "Sunita Kumari"}, [])
    result = merge_leaves([a, b], base)
    assert set(differing([a, b])) == {"complainant.name", "description"}
    body = with_choices(result.body, [a, b], {"complainant.name": b.rev})
    assert body["complainant"]["name"] == "Sunita Kumari"
    assert body["description"] == "A"
