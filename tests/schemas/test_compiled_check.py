"""The compiled check (fastjsonschema) and jsonschema say yes and no alike, on every schema.

``schemas.validate`` trusts the compiled check's "valid" without asking
jsonschema, so any document the two judge differently would be a record one
side accepts and the other refuses. The reference here is jsonschema over the
schema file as written (``raw_validator_for``), the slowest and most literal
reading. The documents are near-records of every type and version, with
values taken from the schemas themselves (every enum member and const, strings
made from every pattern, with and without a trailing newline) and the values
where fastjsonschema's own draft-7 rules differ (``1.0``, ``True``, NaN,
infinities, very large integers).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.compiled import _draft7, compiled_check
from schemas.loader import KNOWN_VERSIONS, RECORD_TYPES, inlined_schema
from schemas.reference import raw_validator_for
from schemas.samples import sample_records
from tests.schemas.examples import valid
from tests.schemas.test_fuzz import containers, json_values
from tests.schemas.test_migrations import complaint_v1
from tests.schemas.test_schema_files import walk
from tests.schemas.test_validator import INVALID, edited

SCHEMAS = sorted((t, v) for t in RECORD_TYPES for v in KNOWN_VERSIONS[t])


_NODES = [node for key in SCHEMAS for node in walk(inlined_schema(*key))]
_FIELD_NAMES = sorted(
    {name for node in _NODES for name in node.get("properties", {})} | {"_id", "_rev"}
)

# Where fastjsonschema's draft 7 and our jsonschema checker part ways, if untaught.
_EDGES = [1.0, 2.5, 0.0, -1, True, False, math.nan, math.inf, -math.inf, 2**70, 10**400, None]
_TIMES = ["2024-05-01T10:30:00+05:30", "2024-05-01T10:30:00.1234567890Z", "2024-02-30T10:30:00Z"]


def _literals(node: dict[str, Any]) -> list[Any]:
    """Values on both sides of each rule of one schema node (patterns aside)."""
    near: list[Any] = [*node.get("enum", ()), *([node["const"]] if "const" in node else ())]
    for key in ("minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems"):
        if isinstance(bound := node.get(key), int):
            edge = [bound - 1, bound, bound + 1]
            near += edge if key in ("minimum", "maximum") else [n * "क" for n in edge if n >= 0]
            near += [[n] * n for n in edge if 0 <= n < 5] if "Items" in key else []
    near += [(), ["a", "a"], [1, True], [{}, {}]] if node.get("uniqueItems") else []
    near += _TIMES if node.get("format") == "date-time" else []
    return near


def _near_values(node: dict[str, Any]) -> list[st.SearchStrategy[Any]]:
    strategies: list[st.SearchStrategy[Any]] = []
    if near := _literals(node):
        strategies.append(st.sampled_from(near))
    if isinstance(pattern := node.get("pattern"), str):
        matching = st.from_regex(pattern, fullmatch=True)
        strategies += [matching, matching.map(lambda v: v + "\n"), matching.map(lambda v: v[1:])]
    return strategies


def _field_schemas() -> dict[str, list[dict[str, Any]]]:
    """Every schema node that rules a field of each name, in any schema."""
    found: dict[str, list[dict[str, Any]]] = {name: [] for name in _FIELD_NAMES}
    for node in _NODES:
        for name, sub in node.get("properties", {}).items():
            found[name].extend(walk(sub))
    return found


_FIELD_SCHEMAS = _field_schemas()


def _by_field() -> dict[str, st.SearchStrategy[Any]]:
    """For each field name, values near the rules any schema gives a field of that name."""
    edges = st.sampled_from(_EDGES)
    return {
        name: st.one_of(*(s for n in nodes for s in _near_values(n)), edges)
        for name, nodes in _FIELD_SCHEMAS.items()
    }


_FOR_FIELD = _by_field()
values = st.recursive(
    st.sampled_from(_EDGES) | json_values,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(_FIELD_NAMES) | st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=8,
)


def reference_accepts(record_type: str, version: int, body: Any) -> bool:
    return raw_validator_for(record_type, version).is_valid(body)


def _as_version(doc: dict[str, Any], version: int) -> dict[str, Any]:
    return {**{k: v for k, v in doc.items() if not k.startswith("_")}, "schema_version": version}


_CORPUS = [*sample_records(60, seed=33), *(valid(t) for t in RECORD_TYPES), complaint_v1()]
# Valid records of each schema: a near-miss of one of them has one thing wrong,
# so the compiled check's first refusal is the mutated field's rule.
_BASES = {
    (t, v): [
        body
        for doc in _CORPUS
        if doc["type"] == t and reference_accepts(t, v, body := _as_version(doc, v))
    ][-5:]
    for t, v in SCHEMAS
}


@st.composite
def near_records(draw: st.DrawFn) -> tuple[str, int, dict[str, Any]]:
    """A valid record of some schema with 0-3 fields at any depth replaced,
    removed or added."""
    record_type, version = draw(st.sampled_from(SCHEMAS))
    doc = copy.deepcopy(draw(st.sampled_from(_BASES[(record_type, version)])))
    for _ in range(draw(st.sampled_from([0, 1, 1, 1, 2, 3]))):
        target = draw(st.sampled_from(containers(doc)))
        own = sorted(target)
        # Mostly a field the record has (so its rules are hit), sometimes any field name.
        mine = own and draw(st.integers(0, 3)) > 0
        name = draw(st.sampled_from(own) if mine else st.sampled_from(_FIELD_NAMES))
        kind = draw(st.integers(0, 9))
        if kind == 0:
            target.pop(name, None)
        elif kind < 3 or name not in _FOR_FIELD:
            target[name] = draw(values)
        else:
            target[name] = draw(_FOR_FIELD[name])
    return record_type, version, doc


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """``(path, value)`` of every field and list entry, at any depth."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in items:
        yield (*path, key), value
        if isinstance(value, dict | list):
            yield from _leaves(value, (*path, key))


def _with(doc: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    changed = copy.deepcopy(doc)
    target: Any = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def _single_changes(doc: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """``doc`` with one field changed to each value near its rules, one at a time."""
    for path, value in _leaves(doc):
        name = path[-1] if isinstance(path[-1], str) else path[-2]
        near = [v for node in _FIELD_SCHEMAS.get(name, ()) for v in _literals(node)]
        if isinstance(value, str):
            near += [value + "\n", value[1:], value + "x" * 300]
        for candidate in [*near, *_EDGES]:
            yield _with(doc, path, candidate)


@pytest.mark.parametrize(("record_type", "version"), SCHEMAS)
def test_agree_on_every_single_field_change(record_type: str, version: int) -> None:
    """Exhaustive where the random test samples: each field of two valid records
    of the schema, set to each value near its rules and to each draft-7 edge."""
    check, refused = compiled_check(record_type, version), 0
    for base in _BASES[(record_type, version)][:2]:
        for doc in _single_changes(base):
            fast = check(doc)
            assert fast == reference_accepts(record_type, version, doc), doc
            refused += not fast
    assert refused > 20


def test_every_schema_has_valid_records_to_start_from() -> None:
    assert all(_BASES.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(near_records())
def test_compiled_and_reference_agree_on_near_records(case: tuple[str, int, Any]) -> None:
    record_type, version, body = case
    assert compiled_check(record_type, version)(body) == reference_accepts(
        record_type, version, body
    )


@pytest.mark.parametrize(("record_type", "version"), SCHEMAS)
def test_agree_on_every_sample_and_table_row_under_every_version(
    record_type: str, version: int
) -> None:
    docs = [edited(t, path, value) for t, path, value, _, _ in INVALID]
    docs += [*sample_records(40, seed=5), *(valid(t) for t in RECORD_TYPES), complaint_v1()]
    verdicts = set()
    for doc in docs:
        body = {k: v for k, v in doc.items() if not k.startswith("_")}
        body["schema_version"] = version
        fast = compiled_check(record_type, version)(body)
        assert fast == reference_accepts(record_type, version, body), body
        verdicts.add(fast)
    assert verdicts == {True, False}  # each schema both accepts and refuses here


def test_the_edges_where_draft7_differs_are_refused_like_jsonschema() -> None:
    for value in (1.0, math.nan, math.inf, True):
        body = {**valid("journal_entry"), "seq": value}
        assert compiled_check("journal_entry", 1)(body) is False
        assert reference_accepts("journal_entry", 1, body) is False
    slug = {**valid("complaint"), "station_id": "patna-kotwali\n"}
    assert compiled_check("complaint", 2)(slug) is reference_accepts("complaint", 2, slug) is False
    listed = {**valid("verification_visit"), "photos": ("a.jpg",)}
    assert compiled_check("verification_visit", 1)(listed) is False


@pytest.mark.parametrize(
    "schema",
    [
        {"prefixItems": [{"type": "string"}]},
        {"properties": {"a": {"unevaluatedProperties": False}}},
        {"items": [{"type": "string"}]},
        {"dependentSchemas": {"a": {"required": ["b"]}}},
    ],
)
def test_a_keyword_compiled_differently_is_refused_at_compile_time(schema: Any) -> None:
    with pytest.raises(ValueError, match=r"prefixItems|keyword"):
        _draft7(schema)


def test_dependent_required_is_compiled() -> None:
    body = {**valid("visitor_entry"), "schema_version": 2, "time_out": "2024-05-01T12:00:00Z"}
    del body["time_in"]
    assert reference_accepts("visitor_entry", 2, body) is False
    assert compiled_check("visitor_entry", 2)(body) is False
