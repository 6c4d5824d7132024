"""How two or more live leaves of one record become one: pure domain rules, no I/O.

Like :mod:`sync.revtree`, every function here is a function of its arguments:
no store, no clock. The gateway (:mod:`server.conflicts`) and a station hub
call :func:`merge_leaves` on the same leaves and get the same body, so the
revision they write (:func:`sync.revid.new_rev` of the winner and that body)
is the same revision, and they converge.

Data shapes
-----------
*leaf* (:class:`Leaf`)
    One live leaf revision: its rev and its body (user fields, and
    ``_attachments`` as stubs).
*base*
    Optional: the body of the leaves' newest common ancestor. With it a field
    that only some leaves changed takes their change (a three-way merge), so
    no branch's edit of a field the others left alone is lost. Without it,
    leaves that disagree on a field fall back to the rules below.
*path*
    A field inside the record as a dotted string (``"complainant.name"``):
    objects are merged field by field, lists and scalars are values.

The rules per record type (:data:`RULES`)
-----------------------------------------
* ``status`` (complaint): a lattice along the lifecycle: registered <
  assigned < under_investigation < resolved < closed / converted_to_fir. A
  closed complaint stays closed, unless a leaf reopened it: a reopening is
  logged as an ``action_log`` entry whose action is ``reopened`` (only a
  supervisor may take the step, :mod:`schemas.lifecycle`), and the latest
  reopening outranks every status set before it. A leaf that left a final
  status without such an entry, or two different final statuses (closed and
  converted_to_fir), are not merged.
* append-only lists (``action_log``, ``neighbours_statements``, ``photos``):
  the union. The winning leaf's list stays as it is (so the merged revision
  only appends to its parent's log, as every edit must), and the entries
  only other leaves have follow it in time order (``at``, then their JSON).
* ``time_out`` (visitor entry): set if any leaf set it.
* facts a last writer would silently lose (a complainant's or visitor's
  name, an address, a verification outcome, an FIR number): leaves that
  disagree are not merged; the record goes to the office's queue.
* appointments, certificate requests and any other type: every field the
  leaves disagree on is such a fact (a double booking is never merged).
* every other field: by last writer, field by field: the leaf with the
  highest ``(updated_at, generation, rev)``; ``updated_at`` / ``updated_by``
  come from that leaf too.
* attachments: the merged revision keeps the winner's stubs; leaves with
  different attachments are not merged (a photo on one branch only would be
  lost).

The result is the same for any order of the leaves, for the same leaf given
twice, and for the merged body merged again with any of its leaves (the
properties in ``tests/schemas/test_merge.py``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson

from schemas.errors import RecordInvalid
from schemas.migrations import migrate
from sync.revtree import RevInfo, generation, winning_rev

__all__ = [
    "CONFLICT_RESOLVED",
    "REOPENED",
    "RULES",
    "Leaf",
    "MergeResult",
    "MergeRules",
    "differing",
    "merge_leaves",
    "path_value",
    "reopened_at",
    "with_choices",
]

Path = tuple[str, ...]
_ABSENT: Final = object()
# Not merged as fields: who and when come from the last writer, a signature
# never covers a merged body (the gateway writes it unsigned), and the schema
# version is the current one after migration.
_ENVELOPE: Final = ("updated_at", "updated_by")
_DROPPED: Final = frozenset({"signature", "_attachments"})
REOPENED: Final = "reopened"
# The action-log entry the office's conflict desk adds when it decides a
# conflict (its note is the reason); devices show it as the office's decision.
CONFLICT_RESOLVED: Final = "conflict_resolved"
_STATUS_RANK: Final = {
    "registered": 0,
    "assigned": 1,
    "under_investigation": 2,
    "resolved": 3,
    "closed": 4,
    "converted_to_fir": 4,
}
_FINAL: Final = frozenset({"closed", "converted_to_fir"})


@dataclass(frozen=True, slots=True)
class Leaf:
    rev: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class MergeRules:
    """What one record type merges, and how."""

    lattice_status: bool = False
    unions: frozenset[str] = frozenset()
    set_if_any: frozenset[str] = frozenset()
    # Paths (dotted) the leaves must agree on; ``None``: every path.
    facts: frozenset[str] | None = None


RULES: Final[Mapping[str, MergeRules]] = {
    "complaint": MergeRules(
        lattice_status=True,
        unions=frozenset({"action_log"}),
        facts=frozenset({"complainant.name", "complainant.address", "fir_number"}),
    ),
    "visitor_entry": MergeRules(
        set_if_any=frozenset({"time_out"}), facts=frozenset({"visitor.name"})
    ),
    "verification_visit": MergeRules(
        unions=frozenset({"neighbours_statements", "photos"}),
        facts=frozenset({"subject.name", "address", "recommendation"}),
    ),
}
_STRICT: Final = MergeRules()  # facts=None: nothing merges that differs


@dataclass(frozen=True, slots=True)
class MergeResult:
    """``body`` goes on ``parent`` (the winning leaf) and ``losers`` are deleted,
    unless ``unmergeable`` names paths: then ``body`` is only the proposal
    (every field the rules could decide, the winner's value elsewhere)."""

    body: dict[str, Any]
    parent: str
    losers: tuple[str, ...]
    unmergeable: tuple[str, ...] = field(default=())

    @property
    def mergeable(self) -> bool:
        return not self.unmergeable


def _canon(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _key(value: Any) -> bytes:
    """A value's identity for comparing leaves (absent is its own value)."""
    return b"" if value is _ABSENT else _canon(value)


def _flatten(body: Mapping[str, Any], prefix: Path = ()) -> dict[Path, Any]:
    flat: dict[Path, Any] = {}
    for key, value in body.items():
        path = (*prefix, key)
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, path))
        else:
            flat[path] = value
    return flat


def _unflatten(flat: Mapping[Path, Any]) -> dict[str, Any]:
    body: dict[str, Any] = {}
    for path in sorted(flat):
        value = flat[path]
        if value is _ABSENT:
            continue
        node = body
        for key in path[:-1]:
            node = node.setdefault(key, {})
        node[path[-1]] = value
    return body


def _dotted(path: Path) -> str:
    return ".".join(path)


def _instant(value: Any) -> str:
    """A timestamp as a sortable UTC string: records carry local offsets
    (``+05:30``) and devices may write ``Z``, so the text alone does not sort."""
    if not isinstance(value, str):
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")


def _lww_key(leaf: Leaf) -> tuple[str, int, str]:
    return (_instant(leaf.body.get("updated_at")), generation(leaf.rev), leaf.rev)


def reopened_at(body: Mapping[str, Any]) -> str:
    """When the record was last reopened, by its own log ("" if never)."""
    log = body.get("action_log")
    times = [
        entry["at"]
        for entry in (log if isinstance(log, list) else [])
        if isinstance(entry, dict)
        and entry.get("action") == REOPENED
        and isinstance(entry.get("at"), str)
    ]
    return max(times, default="")


def _left_final_unlogged(body: Mapping[str, Any]) -> bool:
    """A working status after a logged final one, with no reopening logged since."""
    log = body.get("action_log")
    actions = [e.get("action") for e in log if isinstance(e, dict)] if isinstance(log, list) else []
    last_final = max((i for i, a in enumerate(actions) if a in _FINAL), default=-1)
    last_reopen = max((i for i, a in enumerate(actions) if a == REOPENED), default=-1)
    return body.get("status") not in _FINAL and last_final > last_reopen


def _status_key(body: Mapping[str, Any]) -> tuple[str, int]:
    return (reopened_at(body), _STATUS_RANK[body["status"]])


def _merge_status(leaves: Sequence[Leaf]) -> tuple[Any, bool]:
    """The lattice join of the leaves' statuses, and whether it is decided."""
    if any(_left_final_unlogged(leaf.body) for leaf in leaves):
        return None, False
    if any(leaf.body.get("status") not in _STATUS_RANK for leaf in leaves):
        return None, False
    top = max(_status_key(leaf.body) for leaf in leaves)
    tops = {leaf.body["status"] for leaf in leaves if _status_key(leaf.body) == top}
    return (tops.pop(), True) if len(tops) == 1 else (None, False)


def _entry_order(entry: Any) -> tuple[str, bytes]:
    return (_instant(entry.get("at")) if isinstance(entry, dict) else "", _canon(entry))


def _union(winner: Any, others: Iterable[Any]) -> Any:
    """The multiset union (each entry as often as the leaf that has it most
    often: a join, so merging in steps gives the same entries)."""
    kept = list(winner) if isinstance(winner, list) else []
    have = Counter(_canon(entry) for entry in kept)
    want: Counter[bytes] = Counter()
    entries: dict[bytes, Any] = {}
    for value in others:
        counts: Counter[bytes] = Counter()
        for entry in value if isinstance(value, list) else []:
            key = _canon(entry)
            counts[key] += 1
            entries[key] = entry
        want |= counts
    extra = [entries[key] for key, n in (want - have).items() for _ in range(n)]
    if not kept and not extra and not isinstance(winner, list):
        return winner
    return kept + sorted(extra, key=_entry_order)


def _decide(
    path: Path,
    values: Mapping[str, Any],
    base: Any,
    by_writer: Sequence[Leaf],
    rules: MergeRules,
) -> tuple[Any, bool]:
    """One plain field: the value, and whether the rules decided it."""
    distinct = {_key(v): v for v in values.values()}
    if len(distinct) == 1:
        return next(iter(distinct.values())), True
    dotted = _dotted(path)
    if dotted in rules.set_if_any or (path[0] in rules.set_if_any):
        present = {rev: v for rev, v in values.items() if v is not _ABSENT}
        if len(present) < len(values):
            return _decide(path, present, None, by_writer, rules)
    if base is not None:
        base_key = _key(base)
        changed = {k: v for k, v in distinct.items() if k != base_key}
        if len(changed) == 1:
            return next(iter(changed.values())), True
        # The last writer among those who changed it: a later edit of another
        # field does not undo this one.
        values = {rev: v for rev, v in values.items() if _key(v) != base_key}
    is_fact = rules.facts is None or dotted in rules.facts or _dotted(path[:1]) in rules.facts
    last = next(leaf for leaf in by_writer if leaf.rev in values)
    return values[last.rev], not is_fact


def merge_leaves(leaves: Sequence[Leaf], base: Mapping[str, Any] | None = None) -> MergeResult:
    """Merge the live leaves of one record (see the module docstring)."""
    unique = {leaf.rev: leaf for leaf in leaves}
    if not unique:
        raise ValueError("merge_leaves needs at least one leaf")
    parent = winning_rev({rev: RevInfo(None) for rev in unique})
    ordered = [unique[rev] for rev in sorted(unique)]
    migrated = [Leaf(leaf.rev, _migrated(leaf.body)) for leaf in ordered]
    by_writer = sorted(migrated, key=_lww_key, reverse=True)
    winner = next(leaf for leaf in migrated if leaf.rev == parent)
    types = {_canon(leaf.body.get("type")) for leaf in migrated}
    record_type = winner.body.get("type")
    rules = RULES.get(record_type, _STRICT) if isinstance(record_type, str) else _STRICT
    unmergeable: list[str] = [] if len(types) == 1 else ["type"]
    flats = {leaf.rev: _flatten(_fields(leaf.body)) for leaf in migrated}
    base_flat = _flatten(_fields(_migrated(base))) if base is not None else None
    merged: dict[Path, Any] = {}
    for name in rules.unions:
        merged[(name,)] = _union(
            winner.body.get(name, _ABSENT), (leaf.body.get(name) for leaf in migrated)
        )
    if rules.lattice_status:
        status, decided = _merge_status(migrated)
        merged[("status",)] = status if decided else winner.body.get("status", _ABSENT)
        if not decided:
            unmergeable.append("status")
    paths = sorted({p for flat in flats.values() for p in flat} - set(merged), key=_dotted)
    for path in paths:
        if path[0] in rules.unions or (rules.lattice_status and path == ("status",)):
            continue
        values = {rev: flat.get(path, _ABSENT) for rev, flat in flats.items()}
        base_value = base_flat.get(path, _ABSENT) if base_flat is not None else None
        value, decided = _decide(path, values, base_value, by_writer, rules)
        merged[path] = value if decided else flats[parent].get(path, _ABSENT)
        if not decided:
            unmergeable.append(_dotted(path))
    last = by_writer[0]
    for name in _ENVELOPE:
        merged[(name,)] = last.body.get(name, _ABSENT)
    body = _unflatten(merged)
    attachments = [_canon(_digests(leaf.body)) for leaf in migrated]
    if len(set(attachments)) > 1:
        unmergeable.append("_attachments")
    if "_attachments" in winner.body:
        body["_attachments"] = winner.body["_attachments"]
    losers = tuple(rev for rev in sorted(unique) if rev != parent)
    return MergeResult(body, parent, losers, tuple(sorted(set(unmergeable))))


def _migrated(body: Mapping[str, Any]) -> dict[str, Any]:
    # A leaf the schemas do not know (another app's record) merges as it is, strictly.
    try:
        return migrate(body)
    except RecordInvalid:
        return dict(body)


def _fields(body: Mapping[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in body.items()
        if not k.startswith("_") and k not in _DROPPED and k not in _ENVELOPE
    }


def _digests(body: Mapping[str, Any]) -> dict[str, Any]:
    attachments = body.get("_attachments")
    if not isinstance(attachments, dict):
        return {}
    return {
        name: stub.get("digest") if isinstance(stub, dict) else None
        for name, stub in attachments.items()
    }


def path_value(body: Mapping[str, Any], dotted: str) -> Any:
    """The value at a dotted path, or :data:`None` when absent (for showing)."""
    node: Any = body
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node


def differing(leaves: Sequence[Leaf]) -> dict[str, dict[str, Any]]:
    """Every dotted path whose value is not the same on all leaves: ``{path: {rev: value}}``
    (``None`` where a leaf lacks it)."""
    flats = {leaf.rev: _flatten(_fields(_migrated(leaf.body))) for leaf in leaves}
    paths = sorted({p for flat in flats.values() for p in flat}, key=_dotted)
    out: dict[str, dict[str, Any]] = {}
    for path in paths:
        values = {rev: flat.get(path, _ABSENT) for rev, flat in flats.items()}
        if len({_key(v) for v in values.values()}) > 1:
            out[_dotted(path)] = {rev: None if v is _ABSENT else v for rev, v in values.items()}
    return out


def with_choices(
    proposal: Mapping[str, Any],
    leaves: Sequence[Leaf],
    choices: Mapping[str, str],
    keep: Callable[[str], bool] = lambda path: False,
) -> dict[str, Any]:
    """``proposal`` with each dotted path of ``choices`` taken from the leaf of that
    rev (absent there: removed); paths ``keep`` says are logs stay as proposed."""
    by_rev = {leaf.rev: _flatten(_fields(_migrated(leaf.body))) for leaf in leaves}
    flat = _flatten({k: v for k, v in proposal.items() if not k.startswith("_")})
    for dotted, rev in choices.items():
        path = tuple(dotted.split("."))
        if keep(path[0]):
            continue
        for key in [p for p in flat if p[: len(path)] == path]:
            del flat[key]
        for key, value in by_rev[rev].items():
            if key[: len(path)] == path:
                flat[key] = value
    body = _unflatten(flat)
    if "_attachments" in proposal:
        body["_attachments"] = proposal["_attachments"]
    return body
