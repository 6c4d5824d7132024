"""Records and random edits for the merge tests (schemas and server)."""

from __future__ import annotations

import copy
import random
from typing import Any

from hypothesis import strategies as st

from schemas.merge import REOPENED, Leaf
from schemas.samples import sample_record
from sync.revid import new_rev

__all__ = ["BASE_REV", "Edits", "build", "leaf", "leaf_sets", "record"]

BASE_REV = "1-" + "a" * 32


def record(record_type: str = "complaint", seed: int = 3) -> dict[str, Any]:
    doc = sample_record(
        random.Random(seed), record_type, station_id="alpha", beat_ids=["b"], officer="o"
    )
    doc.pop("_id", None)
    if record_type == "complaint":
        doc.update(status="assigned", assigned_officer="o")
        doc.pop("fir_number", None)
        doc["action_log"] = doc["action_log"][:1]
    return doc


def leaf(base: dict[str, Any], change: dict[str, Any], notes: list[tuple[str, str]]) -> Leaf:
    body = copy.deepcopy(base)
    for path, value in change.items():
        node = body
        *parents, last = path.split(".")
        for key in parents:
            node = node[key]
        node[last] = value
    if "action_log" in body:
        body["action_log"] += [{"at": at, "by": "o", "action": action} for at, action in notes]
    return Leaf(new_rev(BASE_REV, False, body), body)


_times = st.sampled_from([f"2026-01-0{d}T1{h}:00:00+05:30" for d in range(1, 4) for h in range(4)])
_complaint_change = st.fixed_dictionaries(
    {},
    optional={
        "description": st.sampled_from(["One account.", "Another account.", "A third."]),
        "complainant.phone": st.sampled_from(["9876543210", "9123456780"]),
        "complainant.name": st.sampled_from(["Sunita Devi", "Sunita Kumari"]),
        "category": st.sampled_from(["theft", "assault", "other"]),
        "status": st.sampled_from(["assigned", "under_investigation", "resolved", "closed"]),
        "updated_at": _times,
    },
)
_notes = st.lists(st.tuples(_times, st.sampled_from(["note", "visited", REOPENED])), max_size=3)
leaf_sets = st.lists(st.tuples(_complaint_change, _notes), min_size=2, max_size=4)


Edits = list[tuple[dict[str, Any], list[tuple[str, str]]]]


def build(
    edits: list[tuple[dict[str, Any], list[tuple[str, str]]]],
) -> tuple[dict[str, Any], list[Leaf]]:
    base = record()
    made = [leaf(base, change, notes) for change, notes in edits]
    leaves = {one.rev: one for one in made}
    return base, list(leaves.values())
