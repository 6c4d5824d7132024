"""Each schema compiled to Python code once (fastjsonschema): the fast yes/no.

jsonschema walks a schema per record and builds an error object per keyword
it tries; for a valid record, which is nearly every record, that was 80 % of
an edit's CPU on the device and the bulk of the gateway's work per document.
The compiled function only answers "valid or not"; ``schemas.validator``
asks jsonschema for the officer's messages only when it says "not".

The compiled code must judge exactly as the message path does
(``schemas.loader``), so the code generator is bent to the same rules:

* types as jsonschema's checker here defines them: a whole-number float is
  not an integer, NaN and infinity are not numbers, only ``list`` is an array
  and only ``dict`` an object (fastjsonschema accepts ``1.0``, NaN, tuples);
* ``pattern`` through the loader's ECMA-262 matcher (fastjsonschema rewrites
  ``$`` itself, with different results for alternations);
* ``date-time`` through the loader's RFC 3339 parser;
* ``dependentRequired`` (2020-12) as draft 7's ``dependencies``, which means
  the same for a list of names.

fastjsonschema implements draft 7, so a keyword it does not know would be
skipped silently; compiling refuses any keyword outside the list below
instead, and a test compares both paths on every schema.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import cache, partial
from typing import Any

from fastjsonschema.draft07 import CodeGeneratorDraft07
from fastjsonschema.exceptions import JsonSchemaValueException
from fastjsonschema.ref_resolver import RefResolver

from schemas.loader import ecma_matcher, inlined_schema, parse_datetime

__all__ = ["compiled_check"]

# What the generator evaluates as the loader's jsonschema does; annotations
# and the left-over ``$defs`` (already inlined) evaluate nothing.
_EVALUATED = frozenset(
    {
        "type", "enum", "const", "pattern", "format", "minLength", "maxLength",
        "minimum", "maximum", "minItems", "maxItems", "uniqueItems", "items",
        "required", "properties", "additionalProperties", "dependencies",
        "allOf", "anyOf", "oneOf", "not", "if", "then", "else",
    }
)  # fmt: skip
_ANNOTATIONS = frozenset({"$schema", "$id", "$comment", "$defs", "title", "x-message"})
_SUBSCHEMA_MAPS = ("properties",)
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")
_SUBSCHEMAS = ("items", "not", "if", "then", "else", "additionalProperties")

# jsonschema's checker as schemas.loader redefines it, as Python expressions.
_TYPE_TESTS = {
    "null": "{v} is None",
    "boolean": "isinstance({v}, bool)",
    "integer": "(isinstance({v}, int) and not isinstance({v}, bool))",
    "number": (
        "((isinstance({v}, int) and not isinstance({v}, bool))"
        " or (isinstance({v}, float) and isfinite({v})))"
    ),
    "string": "isinstance({v}, str)",
    "array": "isinstance({v}, list)",
    "object": "isinstance({v}, dict)",
}


def _draft7(node: Any) -> Any:
    """``node`` in draft 7's words; ``ValueError`` for a keyword not evaluated alike."""
    if isinstance(node, bool):
        return node
    if not isinstance(node, Mapping):
        raise ValueError(f"a schema must be an object or a boolean, not {node!r}")
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "dependentRequired":
            out["dependencies"] = {name: list(needs) for name, needs in value.items()}
        elif key in _ANNOTATIONS:
            continue
        elif key not in _EVALUATED:
            raise ValueError(f"keyword {key!r} is not compiled like jsonschema evaluates it")
        elif key in _SUBSCHEMA_MAPS:
            out[key] = {name: _draft7(sub) for name, sub in value.items()}
        elif key in _SUBSCHEMA_LISTS:
            out[key] = [_draft7(sub) for sub in value]
        elif key in _SUBSCHEMAS:
            if key == "items" and isinstance(value, list):
                raise ValueError("items as a list means prefixItems in 2020-12")
            out[key] = _draft7(value)
        else:
            out[key] = value
    return out


class _Generator(CodeGeneratorDraft07):
    """Draft 7 code with the loader's types and pattern rule (see the module doc)."""

    def __init__(self, definition: Any) -> None:
        super().__init__(  # type: ignore[no-untyped-call]
            definition,
            resolver=RefResolver.from_schema(definition, handlers={}, store={}),
            formats=_FORMATS,
            use_default=False,  # never write defaults into the caller's record
        )
        self._matchers: dict[str, Callable[[str], object]] = {}
        objects: dict[str, Any] = self._extra_imports_objects  # the generated code's globals
        objects.update(isfinite=math.isfinite, MATCHERS=self._matchers)

    def _keyword(self, name: str) -> Any:
        """The value of keyword ``name`` in the schema node being generated."""
        node: dict[str, Any] = self._definition or {}
        return node[name]

    def exc(self, msg: str, *args: Any, append_to_msg: Any = None, rule: Any = None) -> None:
        # Only the verdict is used (the messages come from jsonschema), so no
        # message is formatted: fastjsonschema's own short form fails on const.
        self.l("raise JsonSchemaValueException('invalid')")

    def generate_type(self) -> None:
        kinds = self._keyword("type")
        kinds = [kinds] if isinstance(kinds, str) else kinds
        test = " or ".join(_TYPE_TESTS[kind].format(v=self._variable) for kind in kinds)
        with self.l(f"if not ({test}):"):
            self.exc("type")

    def generate_pattern(self) -> None:
        pattern = self._keyword("pattern")
        self._matchers[pattern] = ecma_matcher(pattern)
        with (
            self.l("if isinstance({variable}, str):"),
            self.l("if MATCHERS[{}]({variable}) is None:", repr(pattern)),
        ):
            self.exc("pattern")


def _is_datetime(value: str) -> bool:
    return parse_datetime(value) is not None


_FORMATS: dict[str, Callable[[str], bool]] = {"date-time": _is_datetime}


@cache
def compiled_check(record_type: str, version: int) -> Callable[[Any], bool]:
    """``check(body)``: whether the record's fields (no ``_`` metadata) are valid
    against this schema version; compiled on first use (``KeyError``: no schema)."""
    generator = _Generator(_draft7(inlined_schema(record_type, version)))
    namespace = generator.global_state
    exec(generator.func_code, namespace)  # code generated from our own schema files
    validate = partial(namespace[generator._resolver.get_scope_name()], custom_formats=_FORMATS)

    def check(body: Any) -> bool:
        try:
            validate(body)
        except JsonSchemaValueException:
            return False
        return True

    return check
