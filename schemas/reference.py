"""jsonschema over our schemas: the reference reading, and the officer's messages.

``schemas.validator`` asks the compiled check (``schemas.compiled``) first and
comes here only for a record it refused, to name every problem; tests use the
validator over the file as written as the reference both paths must agree
with. Imported on first use, so a process that validates only valid records
(or none) does not load jsonschema.

Our departures from jsonschema's defaults are the loader's shared rules: the
ECMA-262 ``pattern`` and the RFC 3339 ``date-time``; and NaN, infinities and
whole-number floats are not numbers or integers here (JSON has no NaN; a
record's counters are written as ints).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker, ValidationError, validators
from jsonschema.protocols import Validator
from referencing import Registry, Resource

from schemas.loader import ecma_matcher, inlined_schema, parse_datetime, schema_file, schema_files

__all__ = ["raw_validator_for", "validator_for"]


def _ecma_pattern(
    validator: Validator, pattern: str, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    if isinstance(instance, str) and ecma_matcher(pattern)(instance) is None:
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _is_number(checker: object, instance: object) -> bool:
    # NaN slips past every minimum/maximum (all comparisons are false), and JSON
    # has no NaN or Infinity anyway.
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    return isinstance(instance, float) and math.isfinite(instance)


def _is_integer(checker: object, instance: object) -> bool:
    # 2020-12 counts 1.0 as an integer; a record's counters are written as ints.
    return isinstance(instance, int) and not isinstance(instance, bool)


_FORMATS = FormatChecker(formats=())


def _is_datetime(value: object) -> bool:
    # Formats only constrain strings; a non-string fails on "type" instead.
    return not isinstance(value, str) or parse_datetime(value) is not None


_FORMATS.checks("date-time")(_is_datetime)


_RecordValidator = validators.extend(
    Draft202012Validator,
    validators={"pattern": _ecma_pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine_many(
        {"number": _is_number, "integer": _is_integer}
    ),
)


REGISTRY: Registry = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema)) for schema in schema_files()
)


def raw_validator_for(record_type: str, version: int) -> Validator:
    """The validator over the schema file as written, resolving ``$ref``s as it goes."""
    return _RecordValidator(
        schema_file(record_type, version), registry=REGISTRY, format_checker=_FORMATS
    )


@cache
def validator_for(record_type: str, version: int) -> Validator:
    """The jsonschema validator over the inlined schema (``KeyError`` if there is none):
    what finds every problem and its wording once the compiled check said no."""
    return _RecordValidator(
        inlined_schema(record_type, version), registry=REGISTRY, format_checker=_FORMATS
    )
