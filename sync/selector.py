"""Mango selectors (CouchDB's ``_find`` / ``_changes?filter=_selector`` language), in memory.

:func:`compile_selector` checks a selector once and returns a predicate over
document bodies, so a feed filters thousands of rows without re-reading the
selector. The semantics follow CouchDB 3's ``mango_selector:match``:

* several keys in one object are an implicit ``$and``; a plain value is an
  implicit ``$eq``; an object without operators names nested fields
  (``{"a": {"b": 1}}`` is ``{"a.b": 1}``); ``"a.b"`` walks into objects, and
  ``\\.`` is a literal dot in a field name;
* a field the document lacks fails every condition except
  ``{"$exists": false}``;
* comparisons use CouchDB's view collation across types: null < false <
  true < numbers < strings < arrays < objects. Strings compare by code point
  here, where CouchDB uses ICU (they differ only on case and accents);
* an invalid selector raises :class:`~sync.errors.BadRequest`, like CouchDB's
  400 ``invalid_selector`` answers.

A selector comes from any officer, so matching it must cost time linear in
the document (issue 14: ``^(a|aa)+$`` held the gateway 3 s on a 36-character
id): ``$regex`` runs on RE2 (no backtracking; backreferences and lookaround,
which CouchDB's PCRE has, are refused as invalid), and a selector is bounded
in depth (:data:`MAX_DEPTH`), size (:data:`MAX_NODES`) and regex length
(:data:`MAX_REGEX_LENGTH`) before anything is compiled, so a deep one is a 400,
not a ``RecursionError``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Final

import re2

from sync.errors import BadRequest

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_REGEX_LENGTH",
    "Predicate",
    "check_bounds",
    "collate",
    "compile_selector",
    "matches",
]

# Real selectors (a replication filter, an office query) nest a handful of
# levels and name tens of values; these bounds leave room for a generous
# $in list while keeping one document's match at a bounded cost.
MAX_DEPTH: Final = 32
MAX_NODES: Final = 2000
MAX_REGEX_LENGTH: Final = 1000
_RE2_OPTIONS: Final = re2.Options()
_RE2_OPTIONS.log_errors = False  # a refused pattern is the client's 400, not our stderr

Predicate = Callable[[Any], bool]
_MISSING = object()

_TYPE_NAMES = {"null", "boolean", "number", "string", "array", "object"}


def _invalid(reason: str) -> BadRequest:
    return BadRequest(reason, error="invalid_selector")


# -- collation -------------------------------------------------------------------


def _rank(value: Any) -> int:
    if value is None:
        return 0
    if value is False:
        return 1
    if value is True:
        return 2
    if isinstance(value, int | float):
        return 3
    if isinstance(value, str):
        return 4
    if isinstance(value, list):
        return 5
    return 6


def collate(a: Any, b: Any) -> int:
    """-1, 0 or 1 as CouchDB's view collation orders ``a`` and ``b``."""
    rank_a, rank_b = _rank(a), _rank(b)
    if rank_a != rank_b:
        return -1 if rank_a < rank_b else 1
    if rank_a in (3, 4):
        return int(a > b) - int(a < b)
    if rank_a == 5:
        for x, y in zip(a, b, strict=False):
            c = collate(x, y)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    if rank_a == 6:
        for (ka, va), (kb, vb) in zip(a.items(), b.items(), strict=False):
            c = collate(ka, kb) or collate(va, vb)
            if c:
                return c
        return (len(a) > len(b)) - (len(a) < len(b))
    return 0




def _type_name(value: Any) -> str:
    return ("null", "boolean", "boolean", "number", "string", "array", "object")[_rank(value)]


# -- fields ----------------------------------------------------------------------


def _split_field(field: str) -> tuple[str, ...]:
    if not field:
        raise _invalid("Empty field name in selector")
    parts = re.split(r"(?<!\\)\.", field)
    return tuple(part.replace("\\.", ".") for part in parts)


def _getter(path: tuple[str, ...]) -> Callable[[Any], Any]:
    def get(doc: Any) -> Any:
        value = doc
        for part in path:
            if not isinstance(value, dict):
                return _MISSING
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return _MISSING
        return value

    return get


# -- compiling -------------------------------------------------------------------


def _is_operator_object(value: Any) -> bool:
    return isinstance(value, dict) and bool(value) and all(k.startswith("$") for k in value)


def _compile_doc(selector: Any) -> Predicate:
    """A predicate over a whole document (or, inside ``$elemMatch``, an element)."""
    if not isinstance(selector, dict):
        raise _invalid("A selector must be a JSON object")
    parts: list[Predicate] = []
    for key, value in selector.items():
        if key in ("$and", "$or", "$nor"):
            parts.append(_combine(key, [_compile_doc(sub) for sub in _selector_list(key, value)]))
        elif key == "$not":
            parts.append(_negate(_compile_doc(value)))
        elif key.startswith("$"):
            # Operators on the element itself, as in {"$elemMatch": {"$gt": 3}}.
            parts.append(_compile_condition(key, value))
        else:
            parts.append(_compile_field(_split_field(key), value))
    return _all(parts)


def _compile_field(path: tuple[str, ...], condition: Any) -> Predicate:
    if isinstance(condition, dict) and condition and not _is_operator_object(condition):
        if any(k.startswith("$") for k in condition):
            raise _invalid("A selector object mixes operators and field names")
        # {"a": {"b": ...}} names the nested field a.b.
        return _all([
            _compile_field((*path, *_split_field(sub)), value) for sub, value in condition.items()
        ])
    get = _getter(path)
    if not _is_operator_object(condition):
        check = _compile_condition("$eq", condition)
    else:
        check = _all([_compile_condition(op, arg) for op, arg in condition.items()])
    exists_false: bool = isinstance(condition, dict) and condition == {"$exists": False}

    def field_matches(doc: Any) -> bool:
        value = get(doc)
        if value is _MISSING:
            return exists_false
        return bool(check(value))

    return field_matches


def _compile_condition(op: str, arg: Any) -> Predicate:
    """A predicate over a field's value (present: missing fields are handled above)."""
    if op == "$eq":
        return lambda v: collate(v, arg) == 0
    if op == "$ne":
        return lambda v: collate(v, arg) != 0
    if op == "$gt":
        return lambda v: collate(v, arg) > 0
    if op == "$gte":
        return lambda v: collate(v, arg) >= 0
    if op == "$lt":
        return lambda v: collate(v, arg) < 0
    if op == "$lte":
        return lambda v: collate(v, arg) <= 0
    if op in ("$in", "$nin"):
        if not isinstance(arg, list):
            raise _invalid(f"{op} needs an array")
        return _in(arg) if op == "$in" else _nin(arg)
    if op == "$exists":
        if not isinstance(arg, bool):
            raise _invalid("$exists needs true or false")
        # Reached only for present fields; a missing one was answered by the caller.
        return lambda v: arg
    if op == "$type":
        if arg not in _TYPE_NAMES:
            raise _invalid(f"$type needs one of {sorted(_TYPE_NAMES)}")
        return lambda v: _type_name(v) == arg
    if op == "$size":
        if not isinstance(arg, int) or isinstance(arg, bool):
            raise _invalid("$size needs an integer")
        return lambda v: isinstance(v, list) and len(v) == arg
    if op == "$all":
        if not isinstance(arg, list):
            raise _invalid("$all needs an array")
        return lambda v: isinstance(v, list) and all(
            any(collate(x, a) == 0 for x in v) for a in arg
        )
    if op == "$elemMatch":
        inner = _compile_doc(arg)
        return lambda v: isinstance(v, list) and any(inner(x) for x in v)
    if op == "$allMatch":
        inner = _compile_doc(arg)
        return lambda v: isinstance(v, list) and bool(v) and all(inner(x) for x in v)
    if op == "$keyMapMatch":
        inner = _compile_doc(arg)
        return lambda v: isinstance(v, dict) and any(inner(k) for k in v)
    if op == "$regex":
        if not isinstance(arg, str):
            raise _invalid("$regex needs a string")
        if len(arg) > MAX_REGEX_LENGTH:
            raise _invalid(f"$regex is longer than {MAX_REGEX_LENGTH} characters")
        try:
            pattern = re2.compile(arg, _RE2_OPTIONS)
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            raise _invalid(f"Invalid $regex (RE2 syntax): {reason}") from None
        return lambda v: isinstance(v, str) and pattern.search(v) is not None
    if op == "$mod":
        if (
            not isinstance(arg, list) or len(arg) != 2
            or not all(isinstance(x, int) and not isinstance(x, bool) for x in arg)
            or arg[0] == 0
        ):
            raise _invalid("$mod needs [non-zero divisor, remainder] as integers")
        divisor, remainder = arg
        # Erlang's rem: the sign follows the dividend; only integers qualify.
        return lambda v: (
            isinstance(v, int) and not isinstance(v, bool)
            and int(abs(v) % abs(divisor)) * (1 if v >= 0 else -1) == remainder
        )
    if op in ("$and", "$or", "$nor"):
        subs = [_compile_value_selector(sub) for sub in _selector_list(op, arg)]
        return _combine(op, subs)
    if op == "$not":
        return _negate(_compile_value_selector(arg))
    raise _invalid(f"Invalid operator: {op}")


def _compile_value_selector(arg: Any) -> Predicate:
    """A condition on a field's value given as a selector object (``{"$gt": 1}``) or value."""
    if _is_operator_object(arg):
        return _all([_compile_condition(op, sub) for op, sub in arg.items()])
    return _compile_condition("$eq", arg)


def _selector_list(op: str, value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise _invalid(f"{op} needs an array of selectors")
    return value


def _combine(op: str, parts: list[Predicate]) -> Predicate:
    if op == "$and":
        return _all(parts)
    if op == "$or":
        return lambda doc: any(p(doc) for p in parts)
    return lambda doc: not any(p(doc) for p in parts)


def _negate(inner: Predicate) -> Predicate:
    return lambda value: not inner(value)


def _all(parts: list[Predicate]) -> Predicate:
    if len(parts) == 1:
        return parts[0]
    return lambda doc: all(p(doc) for p in parts)


def _in(args: list[Any]) -> Predicate:
    def pred(value: Any) -> bool:
        values = value if isinstance(value, list) else [value]
        return any(collate(v, a) == 0 for a in args for v in values)

    return pred


def _nin(args: list[Any]) -> Predicate:
    def pred(value: Any) -> bool:
        values = value if isinstance(value, list) else [value]
        return all(collate(v, a) != 0 for a in args for v in values)

    return pred


def check_bounds(selector: Any) -> None:
    """``BadRequest`` for a selector deeper than :data:`MAX_DEPTH` or with more than
    :data:`MAX_NODES` values; iterative, so no depth can exhaust the stack."""
    nodes = 0
    pending: list[tuple[Any, int]] = [(selector, 1)]
    while pending:
        value, depth = pending.pop()
        nodes += 1
        if nodes > MAX_NODES:
            raise _invalid(f"A selector may hold at most {MAX_NODES} values")
        if depth > MAX_DEPTH:
            raise _invalid(f"A selector may nest at most {MAX_DEPTH} levels")
        if isinstance(value, dict):
            pending.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            pending.extend((v, depth + 1) for v in value)


def compile_selector(selector: Mapping[str, Any]) -> Predicate:
    """A predicate over documents; raises ``BadRequest`` for an invalid selector."""
    if not isinstance(selector, Mapping):
        raise _invalid("A selector must be a JSON object")
    check_bounds(selector)
    return _compile_doc(dict(selector))


def matches(selector: Mapping[str, Any], doc: Mapping[str, Any]) -> bool:
    """One-off match; compile once with :func:`compile_selector` for many documents."""
    return compile_selector(selector)(doc)
