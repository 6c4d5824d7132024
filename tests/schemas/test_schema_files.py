"""The JSON Schema files themselves: well-formed 2020-12, named as loaded, patterns anchored."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib import resources
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from schemas import CURRENT_VERSIONS, RECORD_TYPES

FOLDER = resources.files("schemas") / "json"
FILES = sorted(entry.name for entry in FOLDER.iterdir() if entry.name.endswith(".json"))


def load(name: str) -> dict[str, Any]:
    return json.loads((FOLDER / name).read_text(encoding="utf-8"))


def walk(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


@pytest.mark.parametrize("name", FILES)
def test_file_is_a_valid_2020_12_schema_with_its_own_id(name: str) -> None:
    schema = load(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"https://schemas.beatsync.invalid/{name}"


@pytest.mark.parametrize("name", FILES)
def test_every_pattern_is_anchored(name: str) -> None:
    # The loader matches ^...$ patterns whole (ECMA-262 "$" semantics); an
    # unanchored one would silently mean "contains".
    for node in walk(load(name)):
        pattern = node.get("pattern")
        if isinstance(pattern, str):
            assert pattern.startswith("^"), pattern
            assert pattern.endswith("$"), pattern
            re.compile(pattern)


@pytest.mark.parametrize("name", [n for n in FILES if n != "common.json"])
def test_record_files_close_the_record_and_pin_type_and_version(name: str) -> None:
    record_type, version = re.fullmatch(r"([a-z_]+)\.v([0-9]+)\.json", name).groups()
    schema = load(name)
    assert record_type in RECORD_TYPES
    assert schema["properties"]["type"] == {"const": record_type}
    assert schema["properties"]["schema_version"] == {"const": int(version)}
    assert schema["unevaluatedProperties"] is False
    assert schema["$ref"] == "common.json#/$defs/envelope"
    for node in walk(schema):
        if node.get("type") == "object" and node is not schema:
            assert node.get("additionalProperties") is False, node


def test_every_record_type_has_a_current_schema_file() -> None:
    for record_type in RECORD_TYPES:
        assert f"{record_type}.v{CURRENT_VERSIONS[record_type]}.json" in FILES
