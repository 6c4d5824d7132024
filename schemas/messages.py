"""jsonschema's errors, turned into sentences an officer understands.

A schema can carry its own wording as ``x-message`` next to the keywords it
explains (a phone pattern says "must be a 10-digit Indian mobile number"
rather than printing the regex); otherwise the wording comes from the failed
keyword. Both the gateway and the field client show these same strings.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from schemas.errors import FieldError

if TYPE_CHECKING:  # jsonschema is loaded only once a record is refused (schemas.reference)
    from jsonschema import ValidationError

__all__ = ["field_errors"]

_TYPE_WORDS = {
    "string": "text",
    "integer": "a whole number",
    "number": "a number",
    "boolean": "true or false",
    "array": "a list",
    "object": "a group of fields",
    "null": "empty (null)",
}


def _dotted(path: Iterable[str | int]) -> str:
    return ".".join(str(part) for part in path)


def _keyword_text(error: ValidationError) -> str:
    keyword, value = error.validator, error.validator_value
    if keyword == "type":
        kinds = [value] if isinstance(value, str) else list(value)
        return "must be " + " or ".join(_TYPE_WORDS.get(k, k) for k in kinds)
    if keyword == "enum":
        return "must be one of: " + ", ".join(str(v) for v in value)
    if keyword == "const":
        return f"must be {value}"
    if keyword == "minLength":
        return "must not be empty" if value == 1 else f"must be at least {value} characters"
    if keyword == "maxLength":
        return f"must be at most {value} characters"
    if keyword == "minimum":
        return f"must be at least {value}"
    if keyword == "maximum":
        return f"must be at most {value}"
    if keyword == "minItems":
        return f"must have at least {value} entries"
    if keyword == "maxItems":
        return f"must have at most {value} entries"
    if keyword == "uniqueItems":
        return "must not list the same entry twice"
    if keyword == "format":
        return f"must be a valid {value}"
    return "is not in the expected form"


def field_errors(
    errors: Iterable[ValidationError], top_level_fields: frozenset[str]
) -> Iterator[FieldError]:
    """One ``FieldError`` per problem; ``top_level_fields`` names the record's known fields."""
    for error in errors:
        path = list(error.absolute_path)
        schema: Mapping[str, Any] = error.schema if isinstance(error.schema, Mapping) else {}
        custom = schema.get("x-message")
        instance = error.instance
        if error.validator == "required" and isinstance(instance, Mapping):
            for name in error.validator_value:
                if name not in instance:
                    yield FieldError.at(_dotted([*path, name]), custom or "is required")
        elif error.validator in ("additionalProperties", "unevaluatedProperties") and isinstance(
            instance, Mapping
        ):
            known = top_level_fields if not path else set(schema.get("properties", {}))
            for name in instance:
                if name not in known:
                    yield FieldError.at(
                        _dotted([*path, name]), "is not a field of this record (check the spelling)"
                    )
        else:
            yield FieldError.at(_dotted(path), custom or _keyword_text(error))
