"""The allowed values of an enumerated field, read from the current schema.

The CLI's menus and the sample generator offer exactly what the schema
accepts, so a new category is added in one place: the schema file.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

from schemas.loader import CURRENT_VERSIONS, inlined_schema

__all__ = ["choices"]


@cache
def choices(record_type: str, field: str) -> tuple[str, ...]:
    """The enum of ``field`` (dotted, e.g. ``"id_proof.type"``) in the current schema.

    ``KeyError`` when the type is unknown or the field is not enumerated.
    """
    schema = inlined_schema(record_type, CURRENT_VERSIONS[record_type])
    found = _enum_at(schema, field.split("."))
    if found is None:
        raise KeyError(f"{record_type}.{field} is not an enumerated field")
    return tuple(found)


def _enum_at(node: Mapping[str, Any], path: list[str]) -> list[str] | None:
    """Depth first through ``properties``, ``items`` (arrays are transparent) and ``allOf``."""
    if not path and "enum" in node:
        return list(node["enum"])
    branches: list[tuple[Any, list[str]]] = []
    if path:
        branches.append((node.get("properties", {}).get(path[0]), path[1:]))
    branches.append((node.get("items"), path))
    branches.extend((branch, path) for branch in node.get("allOf", ()))
    for branch, rest in branches:
        if isinstance(branch, Mapping) and (found := _enum_at(branch, rest)) is not None:
            return found
    return None
