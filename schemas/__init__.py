"""BeatSync record schemas and the one validator both the device and the gateway use.

The JSON Schema files (draft 2020-12) are in ``schemas/json/``; see
``schemas.validator`` for the rules and ``schemas.samples`` for test data.
"""

from schemas.choices import choices
from schemas.validator import (
    ALLOWED_TRANSITIONS,
    APPEND_ONLY_FIELDS,
    CURRENT_VERSIONS,
    FINAL_STATUSES,
    IMMUTABLE_FIELDS,
    INITIAL_STATUS,
    RECORD_TYPES,
    ROLES,
    STATUSES,
    FieldError,
    ImmutableFieldChanged,
    RecordInvalid,
    TransitionNotAllowed,
    check_immutable,
    check_transition,
    migrate,
    validate,
)

__all__ = [
    "ALLOWED_TRANSITIONS",
    "APPEND_ONLY_FIELDS",
    "CURRENT_VERSIONS",
    "FINAL_STATUSES",
    "IMMUTABLE_FIELDS",
    "INITIAL_STATUS",
    "RECORD_TYPES",
    "ROLES",
    "STATUSES",
    "FieldError",
    "ImmutableFieldChanged",
    "RecordInvalid",
    "TransitionNotAllowed",
    "check_immutable",
    "check_transition",
    "choices",
    "migrate",
    "validate",
]
