"""The schema files, loaded once, each version inlined once per (type, version).

Files live in ``schemas/json/<type>.v<N>.json`` and ``common.json`` (shipped as
package data). Every file of every version stays: an older device's record is
validated against the version it was written in, then migrated.

Two rules both validation paths share (``schemas.compiled``, the fast verdict,
and ``schemas.reference``, jsonschema for the messages), so the field client
and the gateway agree with each other and with the JSON Schema spec:

* ``pattern``: JSON Schema uses ECMA-262 regexes, where ``$`` is the end of
  the string. Python's ``$`` also matches before a final newline, which would
  let ``"beat-1\\n"`` pass as a slug; our patterns are all ``^...$``, so they are
  matched with ``fullmatch`` (:func:`ecma_matcher`).
* ``format: date-time`` is checked by our own RFC 3339 parser
  (:func:`parse_datetime`) rather than whichever optional format package
  happens to be installed (jsonschema silently skips formats it has no checker for).

jsonschema itself is not imported here: a process that only reads records
(a command's ``--help``) never loads it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import datetime
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import urljoin

__all__ = [
    "CURRENT_VERSIONS",
    "KNOWN_VERSIONS",
    "RECORD_TYPES",
    "declared_fields",
    "ecma_matcher",
    "inlined_schema",
    "parse_datetime",
    "schema_file",
    "schema_files",
]

RECORD_TYPES: tuple[str, ...] = (
    "complaint",
    "visitor_entry",
    "verification_visit",
    "appointment",
    "certificate_request",
    "journal_entry",
)

_FILE = re.compile(r"(?P<type>[a-z_]+)\.v(?P<version>[1-9][0-9]*)\.json")

# RFC 3339 section 5.6 date-time: full-date "T" full-time, offset required.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)

_LONG_FRACTION = re.compile(r"(\.[0-9]{6})[0-9]+")


def parse_datetime(value: object) -> datetime | None:
    """The aware datetime an RFC 3339 string names, or ``None`` if it is not one."""
    if not isinstance(value, str) or _RFC3339.fullmatch(value) is None:
        return None
    text = value.upper()
    if "." in text:
        # fromisoformat takes at most 6 fraction digits; RFC 3339 allows any number.
        text = _LONG_FRACTION.sub(r"\1", text)
    try:
        return datetime.fromisoformat(text)
    except ValueError:  # month 13, 30 February, offset +25:00 ...
        return None


def _load_files() -> dict[str, dict[str, Any]]:
    folder = resources.files("schemas") / "json"
    return {
        entry.name: json.loads(entry.read_text(encoding="utf-8"))
        for entry in folder.iterdir()
        if entry.name.endswith(".json")
    }


_FILES = _load_files()
_SCHEMAS: dict[tuple[str, int], dict[str, Any]] = {
    (m["type"], int(m["version"])): schema
    for name, schema in _FILES.items()
    if (m := _FILE.fullmatch(name))
}
KNOWN_VERSIONS: dict[str, frozenset[int]] = {
    record_type: frozenset(v for t, v in _SCHEMAS if t == record_type)
    for record_type in RECORD_TYPES
}
CURRENT_VERSIONS: dict[str, int] = {t: max(vs) for t, vs in KNOWN_VERSIONS.items()}

_BY_ID: dict[str, dict[str, Any]] = {schema["$id"]: schema for schema in _FILES.values()}


def _lookup(ref: str, base: str) -> tuple[Any, str]:
    """What ``ref`` (seen in the file whose ``$id`` is ``base``) points at, and
    the ``$id`` its own refs are relative to. Our refs name a file and a JSON
    pointer (``common.json#/$defs/name``), nothing more (``KeyError`` otherwise)."""
    url, _, pointer = urljoin(base, ref).partition("#")
    node: Any = _BY_ID[url]
    for part in pointer.split("/")[1:] if pointer else ():
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node, url


def schema_files() -> list[dict[str, Any]]:
    """Every schema file, ``common.json`` included (for a registry of ``$id``s)."""
    return list(_FILES.values())


def schema_file(record_type: str, version: int) -> dict[str, Any]:
    """One schema version as its file says (``KeyError`` if there is none)."""
    return _SCHEMAS[(record_type, version)]


@cache
def ecma_matcher(pattern: str) -> Callable[[str], re.Match[str] | None]:
    """How a string is matched against ``pattern``: ``None`` when it does not match.

    Both validation paths (jsonschema here, the compiled one) use this one rule.
    """
    regex = re.compile(pattern)
    anchored = pattern.startswith("^") and pattern.endswith("$")
    return regex.fullmatch if anchored else regex.search


def _inline(node: Any, base: str) -> Any:
    """``node`` with every ``$ref`` replaced by what it points at.

    Resolving a ``$ref`` through the registry on every record took half of
    validation time; our schemas have no recursive refs, so each one is
    expanded once here. A ``$ref`` with sibling keywords becomes an ``allOf``
    entry, which is what 2020-12 defines it to mean.
    """
    if isinstance(node, list):
        return [_inline(item, base) for item in node]
    if not isinstance(node, dict):
        return node
    rest = {key: _inline(value, base) for key, value in node.items() if key != "$ref"}
    if "$ref" not in node:
        return rest
    target = _inline(*_lookup(node["$ref"], base))
    if not rest:
        return target
    return {**rest, "allOf": [target, *rest.get("allOf", ())]}


@cache
def inlined_schema(record_type: str, version: int) -> dict[str, Any]:
    """One schema version with every ``$ref`` inlined and the record closed up front
    (``KeyError`` if there is none). Shared: callers must not change it."""
    schema = _SCHEMAS[(record_type, version)]
    inlined: dict[str, Any] = _inline(schema, schema["$id"])
    if inlined.pop("unevaluatedProperties", None) is False:
        # Same rule, a third cheaper: every field any branch declares is listed
        # up front, so plain additionalProperties can close the record without
        # jsonschema re-walking each branch to learn which fields it evaluated.
        known = {name: True for name in declared_fields(record_type, version)}
        inlined["properties"] = {**known, **inlined.get("properties", {})}
        inlined["additionalProperties"] = False
    return inlined


def _properties(schema: Mapping[str, Any], base: str) -> set[str]:
    """Field names a schema declares, following ``$ref`` and ``allOf`` branches."""
    names = set(schema.get("properties", {}))
    if "$ref" in schema:
        names |= _properties(*_lookup(schema["$ref"], base))
    for branch in schema.get("allOf", ()):
        names |= _properties(branch, base)
        for key in ("then", "else"):
            names |= _properties(branch.get(key, {}), base)
    return names


@cache
def declared_fields(record_type: str, version: int) -> frozenset[str]:
    """Every top-level field a record of this version may carry."""
    schema = _SCHEMAS[(record_type, version)]
    return frozenset(_properties(schema, schema["$id"]))
